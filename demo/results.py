"""An official exam of the demo district in public notice (公示): the townships' job-knowledge test, sat by the
cadres of 青山镇 (cadre01 among them) ten days ago, checked by the organisation department (zzb001), approved by the
system administrator and published to the candidates' units two hours before the demo's moment."""

import random
from datetime import timedelta

from sqlalchemy import select

from accounts.models import User
from core.extensions import db
from exam import answers, attempts, eligibility, publishing
from exam.models import Exam, ExamSection, SectionRule
from question_bank.models import Bank
from results import lifecycle, notices

CODE = "XZGW2026"


def _value(item, right: bool, rng: random.Random):
    key = item.version.answer
    if item.section.qtype == "truefalse":
        return key if right else not key
    shown = item.option_order.index(key[0])
    return shown if right else (shown + 1 + rng.randrange(len(item.option_order) - 1)) % len(item.option_order)


def load(now) -> None:
    rng = random.Random(22)
    org = db.session.scalar(select(User).where(User.username == "zzb001"))
    admin = db.session.scalar(select(User).where(User.username == "admin"))
    town = db.session.scalar(select(User).where(User.username == "qsz001")).cadre.unit
    bank = db.session.scalar(select(Bank).where(Bank.code == "GWZS"))
    opens = now - timedelta(days=10)
    exam = Exam(code=CODE, title="2026年度乡镇干部岗位知识测试", subject="岗位知识", duration_minutes=60,
                opens_at=opens, closes_at=opens + timedelta(hours=3), pass_mark=30, release_policy="after_close",
                review_policy="score", instructions="限时60分钟，时间到系统自动交卷。",
                eligibility={"unit_ids": [town.id]}, created_by_id=org.id,
                created_at=opens - timedelta(days=20))  # fmt: skip
    parts = (("一、单选题", "single", 10, 3), ("二、判断题", "truefalse", 10, 2))
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
    for n, user in enumerate(people):
        start = opens + timedelta(minutes=5 + n)
        attempt = attempts.start_attempt(exam, user, start)
        good = rng.choice((0.45, 0.7, 0.85, 0.95))
        for item in attempt.paper.items:
            answers.save_answer(attempt, item.position, _value(item, rng.random() < good, rng), item.position,
                                start + timedelta(minutes=1))  # fmt: skip
        attempts.submit(attempt, start + timedelta(minutes=25 + rng.randrange(25)))
    closed = exam.closes_at
    lifecycle.check(org, exam, "总分、零分、临界分、异常分均已核对，无误。", closed + timedelta(days=1),
                    sample_note="抽查10%的答卷，未见差异。")  # fmt: skip
    lifecycle.approve(admin, exam, "同意公示。", closed + timedelta(days=2))
    notices.publish(org, exam, now - timedelta(hours=2), days=5, scope="units")
