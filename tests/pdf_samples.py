"""Fixed, realistic inputs for every PDF the app hands out (the score report, the score slip, the certificate and a
cadre's archive): plain objects with the attributes the document builders read, the same on every run, so the
rendering test and docs/make_pdf_screenshots.py draw the same pages. Long enough that every table crosses a page."""

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace as NS

from accounts.models import Education, Rank
from archive.models import AssessmentGrade, EntryKind, EntryStatus, HourKind

OPENS = datetime(2026, 6, 20, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
CLOSES = datetime(2026, 6, 20, 3, 0, tzinfo=UTC)

UNIT_NAMES = (
    "区委办公室", "区政府办公室", "区纪委监委机关", "区委组织部", "区委宣传部", "区委统战部", "区委政法委员会",
    "区委机构编制委员会办公室", "区发展和改革局", "区教育局", "区科学技术和工业信息化局", "区公安分局",
    "区民政局", "区司法局", "区财政局", "区人力资源和社会保障局", "区自然资源和规划分局", "区生态环境分局",
    "区住房和城乡建设局", "区城市管理和综合执法局", "区交通运输局", "区水务局", "区农业农村局", "区商务局",
    "区文化和旅游局", "区卫生健康委员会", "区退役军人事务局", "区应急管理局", "区审计局", "区市场监督管理局",
    "区统计局", "区医疗保障局", "区信访局", "区政务服务和数据管理局", "区机关事务管理局", "区总工会",
    "共青团区委", "区妇女联合会", "区科学技术协会", "区档案馆", "城关街道办事处", "东城街道办事处",
    "西城街道办事处", "南湖街道办事处", "北山街道办事处", "滨江街道办事处", "高新技术产业开发区管理委员会",
    "经济技术开发区管理委员会", "青石镇人民政府", "柳河镇人民政府", "白沙镇人民政府", "石门乡人民政府",
    "区人民政府驻北京联络处（区招商引资服务中心、区对口支援工作办公室）",  # wraps in its cell
)  # fmt: skip

SECTIONS = ("政治理论", "党的二十大精神", "党内法规", "岗位知识", "公文写作", "法律法规")


def _ratio(i: int, base: float, spread: float) -> float:
    """A value in [base, base + spread) that varies with i without looking regular."""
    return base + spread * ((i * 37) % 23) / 23


def report_inputs(units: int = len(UNIT_NAMES)) -> tuple:
    """(exam, figures, viewer_scope) for reports.documents.report_pdf: two charts, a section table after the
    second chart and a unit table of `units` rows."""
    exam = NS(title="2026年度科级干部任职资格考试（政治理论）", code="ZZLL-2026-06", opens_at=OPENS, closes_at=CLOSES,
              total_points=100.0, pass_mark=Decimal("60"))  # fmt: skip
    counts = {"eligible": 1240, "started": 1187, "submitted": 1181, "ranked": 1175, "waiting": 6, "not_started": 53}
    summary = {"mean": 74.36, "median": 76.0, "sd": 11.82, "high": 98.0, "low": 31.0, "passed": 1019,
               "pass_rate": 1019 / 1175}  # fmt: skip
    bins = (2, 5, 11, 23, 54, 138, 251, 336, 271, 84)
    distribution = [{"low": 10 * i, "high": 10 * (i + 1), "count": n} for i, n in enumerate(bins)]
    sections = [{"name": name, "questions": 40 + 12 * i, "mean": 12.5 - i, "possible": 20.0 - 2 * i,
                 "rate": _ratio(i, 0.55, 0.4)} for i, name in enumerate(SECTIONS)]  # fmt: skip
    unit_rows = []
    for i, name in enumerate(UNIT_NAMES[:units]):
        eligible = 12 + (i * 7) % 31
        took = eligible - i % 3
        unit_rows.append({"place": i + 1, "unit": name, "eligible": eligible, "took": took,
                          "participation": took / eligible, "pass_rate": _ratio(i, 0.6, 0.38),
                          "mean": 88.4 - i * 0.4, "median": 89.0 - i * 0.4})  # fmt: skip
    figures = {"counts": counts, "summary": summary, "distribution": distribution, "units": unit_rows,
               "analysis": NS(data={"sections": sections})}  # fmt: skip
    return exam, figures, "全区"


def slip_inputs() -> tuple:
    """(attempt, place, sections) for reports.documents.slip_pdf."""
    exam, _figures, _scope = report_inputs()
    cadre = NS(unit=NS(name="区人力资源和社会保障局"))
    user = NS(name="欧阳明轩", username="zzb0427", cadre=cadre)
    attempt = NS(id=20417, exam=exam, user=user, started_at=datetime(2026, 6, 20, 1, 0, 12, tzinfo=UTC),
                 ended_at=datetime(2026, 6, 20, 2, 23, 41, tzinfo=UTC), score=Decimal("86.5"), passed=True,
                 voided_at=None)  # fmt: skip
    place = {"rank": 37, "tied": 2, "ranked": 1175, "behind_percent": 96.9}
    earned, possible = (18.5, 16, 15, 14.5, 12, 10.5), (20, 18, 18, 16, 14, 14)  # 86.5 of 100
    sections = [{"title": name, "points": float(p), "total": float(t)}
                for name, p, t in zip(SECTIONS, earned, possible, strict=True)]  # fmt: skip
    return attempt, place, sections


def certificate_inputs() -> tuple:
    """(qualification, verify_url) for archive.documents.certificate_pdf."""
    user = NS(name="欧阳明轩", username="zzb0427")
    qualification = NS(user=user, cycle="2026", granted_on=date(2026, 7, 1), valid_until=date(2029, 6, 30),
                       code="QX7K-2M9D-P4TW")  # fmt: skip
    return qualification, f"https://exam.example.gov.cn/verify/{qualification.code}"


TITLES = (
    "习近平新时代中国特色社会主义思想专题学习", "党的二十届三中全会精神集中轮训", "《中国共产党纪律处分条例》专题辅导",
    "机关党支部“三会一课”集体学习", "数字政府建设与政务数据治理", "基层治理现代化专题研讨", "公文处理规范与写作实务",
    "优化营商环境政策解读", "安全生产与应急管理专题讲座", "干部网络学院在线课程",
)  # fmt: skip
KINDS = (EntryKind.TRAINING, EntryKind.COLLECTIVE, EntryKind.SELF_STUDY, EntryKind.COLLECTIVE, EntryKind.TRAINING)


def archive_inputs() -> tuple:
    """(cadre, years, quals) for archive.documents.archive_pdf: three years, the latest with a long entry list."""
    cadre = NS(name="欧阳明轩", employee_number="zzb0427", unit=NS(name="区人力资源和社会保障局"),
               rank=Rank.SECTION_CHIEF, education=Education.MASTER)  # fmt: skip
    quals = [NS(cycle="2023", granted_on=date(2023, 7, 3), valid_until=date(2026, 6, 30), code="QX3B-8HC2-L7NA",
                revoked_at=None)]  # fmt: skip
    years = []
    for year, count in ((2026, 46), (2025, 14), (2024, 6)):
        entries = []
        for i in range(count):
            entries.append(NS(kind=KINDS[i % len(KINDS)], title=TITLES[(i + year) % len(TITLES)],
                              starts_on=date(year, 1 + i * 11 // count, 1 + (i * 7) % 27),
                              hours=Decimal(2 + (i * 5) % 7), deleted_at=None,
                              status=EntryStatus.PENDING if i % 9 == 4 else EntryStatus.ACCEPTED))  # fmt: skip
        entries.sort(key=lambda e: e.starts_on)
        results = [NS(exam_title=f"{year}年度科级干部任职资格考试（政治理论）", sat_on=date(year, 6, 20),
                      score=86.5 if year == 2026 else 71.0, total_points=100.0, passed=True)]  # fmt: skip
        less = 2026 - year  # earlier years: fewer training hours, more self-study
        hours = {HourKind.OFF_JOB: 40.0 - 8 * less, HourKind.ROTATIONAL: 16.0, HourKind.COLLECTIVE: 22.5 + less,
                 HourKind.SELF_STUDY: 31.0 + 4 * less}  # fmt: skip
        assessment = NS(grade=AssessmentGrade.EXCELLENT if year < 2026 else AssessmentGrade.COMPETENT,
                        appraisal="学习态度端正，按时完成年度学习计划，理论联系实际，学用结合较好。")  # fmt: skip
        years.append({"year": year, "entries": entries, "results": results, "assessment": assessment,
                      "hours": {str(k): v for k, v in hours.items()}, "total": sum(hours.values()),
                      "required": 110.0})  # fmt: skip
    return cadre, years, quals
