"""Learning archives for the demo district: last year's qualification exams (sat, graded and released through the
exam engine, so the cadres who passed both parts hold a certificate), training classes with attendance, degree
education, collective study and self-study, the reading lists with notes, plans and annual assessments."""

import random
from datetime import date, timedelta

from sqlalchemy import select

from accounts.models import Cadre, CadreStatus, RoleAssignment, User
from archive import assessment, reading, records, training
from core.extensions import db
from core.models import LOCAL_ZONE
from core.policy import Role, can
from exam import answers, attempts, definition, eligibility, publishing
from exam.models import Exam, ExamSection, SectionRule
from question_bank.models import Bank

# (code, title, subject, bank, part)
LAST_YEAR_EXAMS = (
    ("ZZLL2025", "2025年度政治理论水平任职资格考试", "政治理论", "ZZLL", "political_theory"),
    ("GWZS2025", "2025年度岗位知识水平任职资格考试", "岗位知识", "GWZS", "job_knowledge"),
)
BOOKS = {
    2025: (("中国共产党章程", "", "逐章学习，结合岗位谈体会"), ("习近平新时代中国特色社会主义思想学习纲要", "", ""),
           ("之江新语", "", "任选十篇精读")),
    2026: (("习近平谈治国理政（第四卷）", "", "结合本单位重点工作"), ("中国共产党简史", "", "")),
}  # fmt: skip
# (code, name, organiser, place, type, counts as, start, days, hours, spending, year)
CLASSES = (
    ("PX2025-01", "青年干部经济管理高级研修班", "区委组织部", "北京大学", "university", "off_job",
     date(2025, 9, 8), 12, 80, 168000),
    ("PX2025-02", "科级干部进修班（第一期）", "区委组织部", "市委党校", "party_school", "rotational",
     date(2025, 4, 14), 5, 40, 36000),
    ("PX2025-03", "公共行政管理赴港研修班", "区委组织部", "香港理工大学", "overseas", "off_job",
     date(2025, 10, 20), 10, 60, 210000),
    ("PX2026-01", "年轻干部理论培训班", "区委组织部", "区委党校", "party_school", "off_job",
     date(2026, 3, 9), 4, 32, 18000),
    ("PX2026-02", "网络专题学习：基层治理", "区委组织部", "干部网络学院", "online", "rotational",
     date(2026, 5, 11), 30, 20, 0),
)  # fmt: skip
APPRAISALS = (
    "该同志学习态度端正，能按计划完成脱产培训和在职自学任务，读书笔记联系工作实际，理论水平有明显提高。",
    "该同志全年参加集体学习积极，自学时间安排合理，但读书笔记偏重摘抄，结合本职工作的思考还不够深入。",
    "该同志注重学以致用，把培训所学运用到招商引资和项目服务中，学习成效明显，建议继续选派参加高层次培训。",
)


def _when(day: date, hour: int):
    from datetime import datetime

    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=LOCAL_ZONE)


def objective_value(item, right: bool, rng: random.Random):
    """A candidate's answer to a single-choice or true/false item of their paper: the key, or a wrong option."""
    key = item.version.answer
    if item.section.qtype == "truefalse":
        return key if right else not key
    shown = item.option_order.index(key[0])
    return shown if right else (shown + 1 + rng.randrange(len(item.option_order) - 1)) % len(item.option_order)


def _last_years_exams(top_unit, admin, young: list[User], passers: set[int], rng: random.Random) -> None:
    day = date(2025, 11, 15)
    for code, title, subject, bank_code, part in LAST_YEAR_EXAMS:
        bank = db.session.scalar(select(Bank).where(Bank.code == bank_code))
        opens = _when(day, 9)
        exam = Exam(code=code, title=title, subject=subject, duration_minutes=60, opens_at=opens,
                    closes_at=opens + timedelta(hours=3), pass_mark=18, release_policy="after_close",
                    review_policy="score", instructions="限时60分钟，时间到系统自动交卷。",
                    eligibility={"unit_ids": [top_unit.id], "max_age": 35, "age_on": day.isoformat()},
                    qualification_part=part, qualification_cycle="2025", created_by_id=admin.id,
                    created_at=opens - timedelta(days=20))  # fmt: skip
        for i, (section_title, qtype, count, points) in enumerate(
            (("一、单选题", "single", 10, 2), ("二、判断题", "truefalse", 10, 1)), start=1
        ):
            section = ExamSection(position=i, title=section_title, qtype=qtype, points_per_question=points)
            section.rules.append(SectionRule(bank=bank, count=count))
            exam.sections.append(section)
        db.session.add(exam)
        db.session.flush()
        publishing.publish(admin, exam, opens - timedelta(days=7))
        for n, user in enumerate(young):
            if not eligibility.is_eligible(exam, user):
                continue
            start = opens + timedelta(minutes=5 + n)
            attempt = attempts.start_attempt(exam, user, start)
            good = 0.95 if user.id in passers else rng.choice((0.4, 0.7, 0.9))
            for item in attempt.paper.items:
                value = objective_value(item, rng.random() < good, rng)
                answers.save_answer(attempt, item.position, value, item.position, start + timedelta(minutes=1))
            attempts.submit(attempt, start + timedelta(minutes=30 + rng.randrange(20)))
        definition.release_results(admin, exam, exam.closes_at + timedelta(days=2))


def load(top_unit, now) -> None:
    rng = random.Random(6)
    admin = db.session.scalar(select(User).where(User.username == "zzb001"))
    unit_admin = db.session.scalar(select(User).where(User.username == "qsz001"))
    cadres = list(db.session.scalars(select(Cadre).join(User).where(Cadre.status == CadreStatus.SERVING)
                                     .order_by(User.username)))  # fmt: skip
    me = next(c for c in cadres if c.employee_number == "cadre01")
    # A dozen of last year's young cadres sat its qualification exams (enough for every figure; each sitting is real).
    young = [c.user for c in cadres if c.age_on(date(2025, 11, 15)) < 35][:11]
    if me.user_id not in {u.id for u in young}:  # (by id: Flask-Login's users compare by session key)
        young.append(me.user)
    passers = {me.user_id, *(u.id for u in young[::3])}
    _last_years_exams(top_unit, admin, young, passers, rng)

    for year, required, practice_cap in ((2025, 60, 0), (2026, 60, 12)):  # practice counts from 2026 (以考促学)
        records.set_required_hours(admin, year, required, _when(date(year, 1, 5), 10), practice_cap=practice_cap)
        for title, author, note in BOOKS[year]:
            reading.add_book(admin, year, title, author, note, 200, _when(date(year, 1, 5), 10))

    for code, name, organiser, place, ctype, counts, start, days, hours, spending in CLASSES:
        values = {"code": code, "name": name, "organiser": organiser, "place": place, "class_type": ctype,
                  "hour_kind": counts, "starts_on": start, "ends_on": start + timedelta(days=days - 1),
                  "hours": float(hours), "spending": float(spending), "unit_id": top_unit.id}  # fmt: skip
        when = _when(start - timedelta(days=14), 10)
        klass = training.create_class(admin, values, when)
        members = rng.sample(cadres, k=min(len(cadres), 6 + rng.randrange(6)))
        if me not in members and code in ("PX2025-01", "PX2026-01"):
            members.append(me)
        training.enrol_by_numbers(admin, klass, [c.employee_number for c in members], when)
        if start + timedelta(days=days) > date(2026, 11, 1):
            continue  # not held yet: attendance comes later
        rows = {}
        for enrolment in klass.enrolments:
            roll = rng.random()
            rows[enrolment.id] = (
                {"attendance": "absent", "completion": "not_completed", "comment": "工作原因请假"} if roll < 0.1
                else {"attendance": "partial", "hours": float(hours) * 0.75, "completion": "completed"} if roll < 0.25
                else {"attendance": "attended", "completion": "completed"}
            )  # fmt: skip
        training.record_attendance(admin, klass, rows, "", _when(start + timedelta(days=days), 17))

    system_admin = db.session.scalar(select(User).where(User.username == "admin"))

    def keeper(cadre):
        """Who keeps the cadre's archive: the town's unit admin for its own cadres, else the department (and the
        system administrator for the department admin's own: nobody approves their own records)."""
        if can(unit_admin, "archive.manage", cadre) and cadre.user_id != unit_admin.id:
            return unit_admin
        return system_admin if cadre.user_id == admin.id else admin

    for i, cadre in enumerate(cadres):
        manager = keeper(cadre)
        for year in (2025, 2026):
            t = _when(date(year, 2, 20), 15)
            for month in (3, 6, 9) if year == 2025 else (3, 6):
                records.add_entry(manager, cadre, "collective", {
                    "title": rng.choice(("党组理论学习中心组专题学习", "支部集中学习党章党规", "专题辅导报告会")),
                    "organiser": rng.choice(("单位党组", "机关党支部")), "starts_on": date(year, month, 12 + i % 10),
                    "hours": rng.choice((2, 3, 4))}, t)  # fmt: skip
            entry = records.add_entry(cadre.user, cadre, "self_study", {
                "title": rng.choice(("学习《中华人民共和国行政许可法》", "学习乡村振兴政策汇编", "网络学院专题课程")),
                "starts_on": date(year, 4, 1 + i % 20), "hours": rng.choice((8, 10, 12, 16)),
                "evidence": "学习笔记及网络学院学时证明"}, t)  # fmt: skip
            if year == 2025 or i % 3:
                records.review_entry(manager, entry, cadre, True, "", t + timedelta(days=3))
    degree = records.add_entry(admin, me, "degree", {
        "institution": "省委党校", "major": "公共管理", "level": "master", "study_mode": "part_time",
        "degree_status": "studying", "starts_on": date(2025, 9, 1), "ends_on": date(2028, 7, 1)},
        _when(date(2025, 9, 10), 10))  # fmt: skip
    records.correct_entry(admin, degree, me, {**degree.details, "starts_on": date(2025, 9, 6),
                                             "ends_on": date(2028, 6, 30)}, "按录取通知书更正入学日期",
                          _when(date(2025, 9, 20), 10))  # fmt: skip

    for year in (2025, 2026):
        for n, book in enumerate(reading.books_of(year)):
            for i, cadre in enumerate([me, *cadres[:23]]):
                if (i + n) % 4 == 3:
                    continue
                t = _when(date(year, 5 + n, 3 + i % 20), 20)
                note = reading.submit_note(cadre.user, cadre, book, _note(book.title, rng), t)
                reviewer = keeper(cadre)
                if year == 2026 and i % 3 == 0:
                    continue  # waiting for review
                if i % 7 == 1:
                    reading.review_note(reviewer, note, cadre, False, "联系本职工作不够，请补充结合实际的思考。",
                                        t + timedelta(days=5))  # fmt: skip
                    continue
                reading.review_note(reviewer, note, cadre, True, "", t + timedelta(days=5))

    for i, cadre in enumerate(cadres):
        plan = assessment.save_plan(cadre.user, cadre, 2025, "完成规定学时，读完年内必读书目并撰写读书笔记，"
                                    "参加任职资格考试。", {"off_job": 40, "rotational": 0, "collective": 10,
                                                        "self_study": 16}, "", _when(date(2025, 1, 20), 9))  # fmt: skip
        assessment.agree_plan(keeper(cadre), plan, cadre, _when(date(2025, 1, 25), 9))
        assessment.save_plan(cadre.user, cadre, 2026, "围绕基层治理和乡村振兴开展学习，完成规定学时。",
                             {"off_job": 32, "rotational": 20, "collective": 8, "self_study": 12}, "",
                             _when(date(2026, 1, 18), 9))  # fmt: skip
        if i % 5 == 4 and cadre is not me:
            continue
        row = assessment.appraise(keeper(cadre), cadre, 2025, APPRAISALS[i % len(APPRAISALS)],
                                  ("excellent", "competent", "competent", "basic")[i % 4], "",
                                  _when(date(2026, 1, 10), 10))  # fmt: skip
        if i % 2 == 0 or cadre is me:
            assessment.acknowledge(cadre.user, cadre, row, "已阅，将在新的一年继续加强理论学习。" if i % 4 == 0 else "",
                                   _when(date(2026, 1, 14), 10))  # fmt: skip
    records.close_year(admin, 2025, _when(date(2026, 2, 1), 9))


def _note(title: str, rng: random.Random) -> str:
    parts = [
        f"读《{title}》，最深的体会是理论学习必须和本职工作结合起来。",
        "书中关于坚持以人民为中心的论述，让我重新审视了窗口服务中群众反映最多的几个问题：办事材料多、跑腿次数多、"
        "政策解释不到位。对照书中要求，我梳理了本岗位可以精简的三项材料，并向科室提出了一次性告知清单的建议。",
        "学习中我也认识到自己在调查研究方面的不足，往往凭经验判断，缺少深入基层听取意见的习惯。",
        "下一步，我准备每季度至少到两个村（社区）开展走访，把学习成果转化为解决实际问题的能力。",
        "同时坚持每天抽出半小时读原著、学原文，做好摘记，定期与同事交流心得，做到学思用贯通、知信行统一。",
    ]
    middle = parts[1:]
    rng.shuffle(middle)
    return "\n\n".join([parts[0], *middle])


def load_reading_exam(top_unit, now) -> None:
    """The 2026 list's written exam, drafted from the questions tagged with its books and published for the
    district's cadres; it opens a week after the demo is loaded. Those who run exams (any role beside cadre) are
    left out by hand: the exam shares questions with ZZLL2026, and a candidate may not run an exam sharing its pool
    (conflicts of interest)."""
    admin = db.session.scalar(select(User).where(User.username == "zzb001"))
    exam = reading.draft_exam(admin, 2026, now).exam
    exam.eligibility = {"unit_ids": [top_unit.id]}
    for user in db.session.scalars(select(User).join(User.roles).where(RoleAssignment.role != Role.CADRE).distinct()):
        eligibility.set_candidate(admin, exam, user, now, included=False, note="负责考务工作")
    exam.instructions = "本次笔试考查年度必读书目的学习情况，限时30分钟，答案随作答自动保存。"
    publishing.publish(admin, exam, now)
