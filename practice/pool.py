"""The practice pool and the one rule that keeps it apart from the formal exams.

A question is open to practice when it is active, not marked for exams only, and either written for practice or in
a bank (or a category subtree) opened for practice; and never while a formal exam ahead can draw it. A formal exam
is ahead from its first draft with a paper until its close plus the network grace (every attempt has ended by
then): a draft counts, since practising a question before its exam is published leaks it just the same. Every
place that serves a question to practice (a session's start, each question shown, each answer's feedback, the
mock exam's draw, the daily set, the wrong-answer book) asks this module, and nothing else.
"""

from datetime import datetime

from flask import has_request_context, request
from sqlalchemy import and_, exists, false, or_, select

from core.extensions import db
from exam import attempts
from exam.conflicts import placed_condition, pool_condition
from exam.models import Exam, ExamStatus
from question_bank.models import Bank, Category, Question, QuestionStatus, QuestionUsage


def formal_exams_ahead(now: datetime) -> list[Exam]:
    """The formal exams whose questions practice must not serve now: drafts and published exams until their close
    plus the grace."""
    return list(
        db.session.scalars(
            select(Exam).where(
                Exam.status.in_((ExamStatus.DRAFT, ExamStatus.PUBLISHED)), Exam.closes_at > now - attempts.grace()
            )
        )
    )


def _opened():
    """SQL condition over Question: its bank is opened, or its category or one of the category's ancestors is."""
    bank_open = exists().where(Bank.id == Question.bank_id, Bank.practice_open)
    # A category's path is "/1/5/9/": an opened ancestor's path is a prefix of it.
    node = Category.__table__.alias("node")
    opened = Category.__table__.alias("opened")
    category_open = exists().where(
        node.c.id == Question.category_id,
        opened.c.bank_id == node.c.bank_id,
        opened.c.practice_open,
        node.c.path.startswith(opened.c.path),
    )
    return or_(bank_open, category_open)


def _held(exams: list[Exam]):
    """SQL condition over Question: one of `exams` can put it on a paper. Their rules never draw a practice-only
    question (exam.papers.rule_pool), so only a paper it is placed on already holds one."""
    return or_(
        and_(pool_condition(exams), Question.usage != QuestionUsage.PRACTICE),
        placed_condition(exams),
    )


class Pool:
    """The practice pool at one moment (the exams ahead read once)."""

    def __init__(self, now: datetime):
        self.now = now
        self.exams_ahead = formal_exams_ahead(now)
        self._held = _held(self.exams_ahead) if self.exams_ahead else false()

    def condition(self):
        """SQL condition over Question: open to practice now."""
        return and_(
            Question.status == QuestionStatus.ACTIVE,
            Question.current_version_id.is_not(None),
            Question.usage != QuestionUsage.EXAM,
            or_(Question.usage == QuestionUsage.PRACTICE, _opened()),
            ~self._held,
        )

    def held_condition(self):
        """SQL condition over Question: a formal exam ahead can draw it (so practice may not serve it)."""
        return self._held

    def question_ids(self, *where) -> list[int]:
        """The open questions matching `where` (conditions over Question), in id order."""
        return list(db.session.scalars(select(Question.id).where(self.condition(), *where).order_by(Question.id)))

    def open_among(self, question_ids) -> set[int]:
        """Which of these questions are open to practice now."""
        ids = list(set(question_ids))
        if not ids:
            return set()
        return set(db.session.scalars(select(Question.id).where(Question.id.in_(ids), self.condition())))

    def is_open(self, question_id: int) -> bool:
        return bool(self.open_among([question_id]))

    def access(self, question_ids) -> dict[int, str]:
        """What each question is open to now, and if not, why: "practice" (open, exactly as `condition` says),
        "exam_only", "inactive" (not active, or nothing to show), "closed" (its bank or category is not opened for
        practice) or "held" (a formal exam ahead can draw it). A question both closed and held is "closed": the
        exam's close will not open it."""
        ids = list(set(question_ids))
        if not ids:
            return {}
        rows = db.session.execute(
            select(Question.id, Question.status, Question.usage, _opened().label("opened"),
                   self.held_condition().label("held"), self.condition().label("open")).where(Question.id.in_(ids))
        ).all()  # fmt: skip
        access = {}
        for row in rows:
            if row.open:
                access[row.id] = "practice"
            elif row.usage == QuestionUsage.EXAM:
                access[row.id] = "exam_only"
            elif row.status != QuestionStatus.ACTIVE:
                access[row.id] = "inactive"
            elif row.usage != QuestionUsage.PRACTICE and not row.opened:
                access[row.id] = "closed"
            elif row.held:
                access[row.id] = "held"
            else:
                access[row.id] = "inactive"  # active, opened and not held, yet without a current version
        return access


def question_access(question_ids: list[int], now: datetime) -> dict[int, str]:
    """What each question is open to now, for the bank's pages (see Pool.access)."""
    return Pool(now).access(question_ids)


def pool_now(now: datetime) -> Pool:
    """The pool, read once per request (every check of one request sees the same exams ahead). Kept with the
    request itself, not in `g`: an app context can outlive a request (tests, a CLI command)."""
    if not has_request_context():
        return Pool(now)
    pool = request.environ.get("qualexam.practice_pool")
    if pool is None:
        pool = request.environ["qualexam.practice_pool"] = Pool(now)
    return pool
