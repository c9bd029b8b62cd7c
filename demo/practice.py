"""以考促学 in the demo district: each bank's older questions set aside for practice (the exams ahead draw the
rest), and cadre01's practice of the past week (a streak of 每日一练, a chapter practised, a wrong-answer book with
a question mastered, mastery by knowledge point)."""

import random
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from accounts.models import User
from core.extensions import db
from core.models import LOCAL_ZONE, local_today
from practice import services as practice
from practice.models import Mode, Outcome
from question_bank import services as qb
from question_bank.models import Bank, Question, QuestionStatus

#: Questions of a type kept for the formal exams beyond the most any demo exam draws of it (retakes, late papers).
MARGIN = 3


def open_older_questions(admin, most_drawn: dict[tuple[str, str], int], now) -> int:
    """Mark the oldest active questions of each bank and type practice-only, keeping for the exams what their rules
    draw plus MARGIN; returns how many. `most_drawn`: (bank code, type) -> the most any demo exam draws."""
    marked = 0
    for bank in db.session.scalars(select(Bank).order_by(Bank.id)):
        by_type: dict[str, list[Question]] = {}
        active = select(Question).where(Question.bank_id == bank.id, Question.status == QuestionStatus.ACTIVE)
        for question in db.session.scalars(active.order_by(Question.id)):
            by_type.setdefault(question.type, []).append(question)
        for qtype, questions in by_type.items():
            spare = len(questions) - most_drawn.get((bank.code, qtype), 0) - MARGIN
            for question in questions[: max(0, spare)]:
                qb.set_usage(admin, question, "practice", now)
                marked += 1
    db.session.flush()
    return marked


def _value(question, right: bool, rng: random.Random):
    """An answer to the question's current version: its key, or a plausible wrong one."""
    version = question.current_version
    key = version.answer
    if question.type == "single":
        others = [i for i in range(len(version.options)) if i != key[0]]
        return key[0] if right or not others else rng.choice(others)
    if question.type == "multiple":
        return list(key) if right else sorted(set(key[:1]) ^ {len(version.options) - 1})
    if question.type == "truefalse":
        return key if right else not key
    if question.type == "fill":
        return [accepted[0] for accepted in key] if right else ["不知道"] * len(key)
    return "结合工作实际，谈几点认识。"


def _practise(session, when, rng: random.Random, right_share: float) -> None:
    step = 0
    while (served := practice.current(session, when)) is not None:
        at = when + timedelta(seconds=40 * step)
        practice.answer(session, served.position, _value(served.question, rng.random() < right_share, rng), at)
        step += 1


def load_history(now) -> None:
    """cadre01's past week: 每日一练 done on each of the last five days (a streak of five; today's still open), a
    chapter practised with some answers wrong, and the wrong-answer book practised once (one question mastered)."""
    user = db.session.scalar(select(User).where(User.username == "cadre01"))
    rng = random.Random(24)
    for days_ago in range(5, 0, -1):  # each in the evening of its own day in the district (not "now" less n days,
        day = local_today(now) - timedelta(days=days_ago)  # which just after midnight falls on the day before)
        when = datetime.combine(day, time(20, 0), tzinfo=LOCAL_ZONE).astimezone(UTC)
        _practise(practice.daily(user, when), when, rng, right_share=0.7)
    banks, _tags = practice.choices(now)
    if not banks:
        return
    chosen = banks[0]
    chapter = chosen.categories[0][0] if chosen.categories else None
    when = now - timedelta(days=3, hours=5)
    session = practice.start(user, when, mode=Mode.CATEGORY, bank=chosen.bank, category=chapter)
    _practise(session, when, rng, right_share=0.6)
    # One question of the book practised right until mastered; the others stay to be gone over.
    book = practice.wrong_book(user)
    if book:
        entry = book[0].entries[0]
        for i in range(practice.mastered_after()):
            practice.record_in_book(
                user.id, entry.question_id, Outcome.RIGHT, now - timedelta(days=1, hours=i), "practice"
            )
    db.session.flush()
