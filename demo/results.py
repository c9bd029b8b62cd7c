"""An official exam of the demo district in public notice (公示): the townships' job-knowledge test, sat by the
cadres of 青山镇 (cadre01 among them) ten days ago, its short answers marked by grader01, checked by the organisation
department (zzb001), approved by the system administrator and published to the candidates' units two hours before
the demo's moment; cadre01 has appealed the mark of their short answer, and the appeal waits for grader02 (who did
not mark it)."""

import random
from datetime import timedelta

from sqlalchemy import select

from accounts.models import User
from core.extensions import db
from demo.archives import objective_value
from exam import answers, attempts, eligibility, grading, publishing
from exam.models import Answer, Exam, ExamSection, SectionRule
from question_bank.models import Bank
from question_bank.richtext import to_text
from results import appeals, lifecycle, notices

CODE = "XZGW2026"
#: How much of the reference answer a weak, a fair and a good candidate write, and the marks (of 10) it earns.
_WRITTEN = ((0.3, (3, 4)), (0.6, (6, 7)), (1.0, (9, 10)))


def load(now) -> None:
    rng = random.Random(22)
    org = db.session.scalar(select(User).where(User.username == "zzb001"))
    admin = db.session.scalar(select(User).where(User.username == "admin"))
    town = db.session.scalar(select(User).where(User.username == "qsz001")).cadre.unit
    bank = db.session.scalar(select(Bank).where(Bank.code == "GWZS"))
    opens = now - timedelta(days=10)
    exam = Exam(code=CODE, title="2026年度乡镇干部岗位知识测试", subject="岗位知识", duration_minutes=60,
                opens_at=opens, closes_at=opens + timedelta(hours=3), pass_mark=36, release_policy="after_close",
                review_policy="score", instructions="限时60分钟，时间到系统自动交卷。",
                eligibility={"unit_ids": [town.id]}, created_by_id=org.id,
                created_at=opens - timedelta(days=20))  # fmt: skip
    parts = (("一、单选题", "single", 10, 3), ("二、判断题", "truefalse", 10, 2), ("三、简答题", "essay", 1, 10))
    for i, (title, qtype, count, points) in enumerate(parts, start=1):
        section = ExamSection(position=i, title=title, qtype=qtype, points_per_question=points)
        section.rules.append(SectionRule(bank=bank, count=count))
        exam.sections.append(section)
    db.session.add(exam)
    db.session.flush()
    publishing.publish(org, exam, opens - timedelta(days=7))
    how = "公示期内登录考试系统，在本人成绩页提出申诉；或书面向区委组织部干部股申诉。"
    lifecycle.register(org, exam, opens - timedelta(days=6), scope="units", days=5, appeal_how=how)
    people = db.session.scalars(eligibility.eligible_people(exam).with_only_columns(User).order_by(User.username))
    written = {}  # attempt -> (position, the marks its answer earns)
    for n, user in enumerate(people):
        start = opens + timedelta(minutes=5 + n)
        attempt = attempts.start_attempt(exam, user, start)
        good = rng.choice((0.45, 0.7, 0.85, 0.95))
        for item in attempt.paper.items:
            if item.section.qtype == "essay":
                share, marks = _WRITTEN[0 if good < 0.6 else 1 if good < 0.9 else 2]
                reference = to_text(item.version.answer["reference"])
                value, written[attempt] = reference[: max(20, int(len(reference) * share))], (item.position, marks)
            else:
                value = objective_value(item, rng.random() < good, rng)
            answers.save_answer(attempt, item.position, value, item.position, start + timedelta(minutes=1))
        attempts.submit(attempt, start + timedelta(minutes=25 + rng.randrange(25)))
    closed = exam.closes_at
    grader = db.session.scalar(select(User).where(User.username == "grader01"))
    for n, (attempt, (position, marks)) in enumerate(written.items()):
        answer = db.session.scalar(select(Answer).where(Answer.attempt_id == attempt.id, Answer.position == position))
        grading.grade_answer(grader, answer, rng.choice(marks), "", closed + timedelta(hours=2, minutes=n))
    lifecycle.check(org, exam, "总分、零分、临界分、异常分均已核对，无误。", closed + timedelta(days=1),
                    sample_note="抽查10%的答卷，未见差异。")  # fmt: skip
    lifecycle.approve(admin, exam, "同意公示。", closed + timedelta(days=2))
    notices.publish(org, exam, now - timedelta(hours=2), days=5, scope="units")
    cadre = db.session.scalar(select(User).where(User.username == "cadre01"))
    mine = appeals.counted_attempt(exam, cadre)
    position = written[mine][0]
    appeals.file(cadre, exam, {position: "答案写到了参考答案的大部分要点，只给了一半多的分。"},
                 "简答题的评分低于我答到的要点，申请复核。", now - timedelta(hours=1))  # fmt: skip
