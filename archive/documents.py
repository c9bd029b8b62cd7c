"""Documents made from the archive: the qualification certificate (PDF), one cadre's archive (PDF and .xlsx) and
a unit's roster summary (.xlsx). PDFs embed a CJK font, so Chinese renders the same on every reader."""

import io

import segno
from flask_babel import gettext as _
from fpdf.enums import MethodReturnValue

from accounts.models import label as profile_label
from archive.models import label
from core.pdf import Pdf
from core.spreadsheets import StreamedWorkbook


def certificate_pdf(qualification, verify_url: str) -> bytes:
    """An A4 landscape certificate: holder, qualification, dates, code and a QR code of the verification page."""
    user = qualification.user
    pdf = Pdf("landscape")
    pdf.add_page()
    pdf.set_draw_color(160, 30, 30)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, 277, 190)
    pdf.set_line_width(0.4)
    pdf.rect(14, 14, 269, 182)
    pdf.set_text_color(160, 30, 30)
    pdf.set_font("cjk", size=32)
    pdf.set_y(32)
    pdf.cell(0, 16, "任职资格证书", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(20, 20, 20)
    pdf.set_font("cjk", size=15)
    pdf.ln(10)
    pdf.set_x(40)
    cycle = f"{qualification.cycle}年度" if qualification.cycle.isdigit() else qualification.cycle
    pdf.multi_cell(217, 11, (
        f"{user.name}（工号：{user.username}）参加{cycle}政治理论水平和岗位知识水平任职资格考试，"
        f"两部分成绩均合格，取得任职资格。"
    ), align="L")  # fmt: skip
    pdf.ln(6)
    pdf.set_font("cjk", size=13)
    for caption, value in (
        ("取得日期", qualification.granted_on.strftime("%Y年%m月%d日")),
        ("有效期至", qualification.valid_until.strftime("%Y年%m月%d日")),
        ("验证码", qualification.code),
    ):
        pdf.set_x(40)
        pdf.cell(40, 9, caption + "：")
        pdf.cell(0, 9, value, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10)
    pdf.set_x(40)
    pdf.cell(0, 8, f"核验：{verify_url}", new_x="LMARGIN", new_y="NEXT")
    qr = io.BytesIO()
    segno.make(verify_url, error="m").save(qr, kind="png", scale=6, border=2)
    qr.seek(0)
    pdf.image(qr, x=232, y=140, w=40)
    pdf.set_font("cjk", size=13)
    pdf.set_xy(150, 170)
    pdf.cell(70, 9, "中共区委组织部", align="C")
    return bytes(pdf.output())


def _hours(value) -> str:
    return f"{float(value):g}"


def archive_pdf(cadre, years: list[dict], quals: list) -> bytes:
    """One cadre's archive, year by year (as the timeline shows it to the viewer)."""
    pdf = Pdf()
    pdf.add_page()
    pdf.set_font("cjk", size=18)
    pdf.cell(0, 12, f"干部学习档案：{cadre.name}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10)
    pdf.cell(0, 7, f"工号 {cadre.employee_number}  ·  {cadre.unit.name}  ·  {profile_label(cadre.rank)}  ·  "
             f"{profile_label(cadre.education)}", new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    for q in quals:
        state = f"已撤销（{q.revoked_at.date()}）" if q.revoked_at else f"验证码 {q.code}"
        pdf.cell(0, 7, f"任职资格（{q.cycle}）：{q.granted_on} 取得，有效期至 {q.valid_until}，{state}",
                 new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    for year in years:
        if not (year["entries"] or year["results"] or year["assessment"]):
            continue
        pdf.ln(4)
        pdf.keep_room(9 + 6 + 4 * 6)  # the year's title with its hours and the first rows of its table
        pdf.set_font("cjk", size=14)
        hours = "，".join(f"{label(k)} {_hours(v)}" for k, v in year["hours"].items())
        pdf.cell(0, 9, f"{year['year']}年  学时合计 {_hours(year['total'])}（应达 {_hours(year['required'])}）",
                 new_x="LMARGIN", new_y="NEXT")  # fmt: skip
        pdf.set_font("cjk", size=9)
        pdf.multi_cell(0, 6, hours, new_x="LMARGIN", new_y="NEXT")
        rows = [("类别", "内容", "日期", "学时", "状态")]
        for e in year["entries"]:
            state = "已删除" if e.deleted_at else label(e.status)
            rows.append((label(e.kind), e.title, e.starts_on.isoformat(), _hours(e.hours) if e.hours else "", state))
        for r in year["results"]:
            score = "待阅卷" if r.score is None else f"{r.score:g}/{r.total_points:g}"
            rows.append(("考试", r.exam_title, r.sat_on.isoformat(), "", f"{score} {'合格' if r.passed else ''}"))
        a = year["assessment"]
        closing = f"年度学习考核：{label(a.grade)}。鉴定：{a.appraisal}" if a else ""
        if len(rows) > 1:
            below = 2 + pdf.multi_cell(0, 6, closing, dry_run=True, output=MethodReturnValue.HEIGHT) if a else 0
            pdf.data_table(rows, (22, 80, 26, 16, 36), tail=below)
        if a:
            pdf.ln(2)
            pdf.multi_cell(0, 6, closing, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def archive_xlsx(cadre, years: list[dict]) -> bytes:
    book = StreamedWorkbook()
    ws = book.sheet(_("Archive"), [_("Year"), _("Kind"), _("Record"), _("Start date"), _("End"), _("Hours"),
                                   _("Counts as"), _("Status")], [8, 14, 40, 12, 12, 8, 16, 12])  # fmt: skip
    for year in years:
        for e in year["entries"]:
            state = _("Removed") if e.deleted_at else label(e.status)
            ws.append([e.year, label(e.kind), e.title, e.starts_on, e.ends_on, float(e.hours),
                       label(e.hour_kind) if e.hour_kind else "", state])  # fmt: skip
    results = book.sheet(_("Exam results"), [_("Year"), _("Exam"), _("Date"), _("Score"), _("Total"), _("Passed")],
                         [8, 40, 12, 8, 8, 8])  # fmt: skip
    for year in years:
        for r in year["results"]:
            results.append([r.year, r.exam_title, r.sat_on, r.score, r.total_points,
                            None if r.passed is None else (_("Yes") if r.passed else _("No"))])  # fmt: skip
    from archive.assessment import HOUR_KINDS

    totals = book.sheet(_("Hours by year"), [_("Year"), *[label(k) for k in HOUR_KINDS], _("Total"), _("Required")],
                        [8, 14, 14, 14, 14, 10, 10])  # fmt: skip
    for year in years:
        totals.append([year["year"], *year["hours"].values(), year["total"], year["required"]])
    return book.to_bytes()


def roster_xlsx(rows, year: int) -> bytes:
    """A unit's roster summary for a year: one row per serving cadre with hours, reading and assessment (`rows`:
    any iterable, written as it is read)."""
    book = StreamedWorkbook()
    ws = book.sheet(str(year), [_("Employee number"), _("Name"), _("Unit"), _("Rank"), _("Hours"),
                                _("Reading notes passed"), _("Assessment"), _("Acknowledged")],
                    [14, 12, 28, 14, 8, 12, 12, 10])  # fmt: skip
    for cadre, hours, notes, grade, acknowledged in rows:
        ws.append([cadre.employee_number, cadre.name, cadre.unit.name, profile_label(cadre.rank), float(hours),
                   int(notes), label(grade) if grade else "", _("Yes") if acknowledged else _("No")])  # fmt: skip
    return book.to_bytes()
