"""Scores anyone can reproduce: every ended attempt graded again from what is stored, compared with what is stored.

`verify_scores` reads only (it writes nothing, and the CLI rolls its transaction back all the same). From the
attempt's paper (its items, their question versions and points), the answers stored, the exam's key corrections
and the points graders gave to written answers, it computes each item's points and the total with the engine's own
grading (exam.scoring.item_points and attempt_result, the question types' `grade`), and reports every stored
value that differs. Attempts are read in batches by id, so an exam of tens of thousands of attempts needs no more
memory than a batch.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import select

from accounts.models import User
from core.extensions import db
from exam.answers import ItemFacts
from exam.models import Answer, Attempt, AttemptStatus, Exam, ExamSection, KeyCorrection, PaperItem
from exam.scoring import attempt_result, item_points
from question_bank.models import QuestionVersion
from question_bank.types import QUESTION_TYPES

BATCH = 500  # attempts per round trip (their paper items and answers come in one query each)


@dataclass(frozen=True)
class Difference:
    """A stored value that is not what grading the stored paper and answers gives. `position` is None for the
    attempt's own fields (score, fully_graded, passed)."""

    exam: str
    attempt_id: int
    username: str
    position: int | None
    what: str
    stored: object
    recomputed: object

    def __str__(self) -> str:
        where = f"item {self.position} {self.what}" if self.position is not None else self.what
        return (
            f"{self.exam} attempt {self.attempt_id} ({self.username}): {where}: "
            f"stored {_show(self.stored)}, recomputed {_show(self.recomputed)}"
        )


@dataclass
class Summary:
    attempts: int = 0
    items: int = 0
    differences: list[Difference] = field(default_factory=list)


def _show(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return "none" if value is None else str(value)


def verify_scores(
    exams: Iterable[Exam] | None = None, on_difference: Callable[[Difference], None] | None = None, batch: int = BATCH
) -> Summary:
    """Recompute every ended and graded attempt of `exams` (None: of every exam) and compare. Each difference is
    passed to `on_difference` as soon as it is found (and kept in the summary)."""
    summary = Summary()
    exam_rows = select(Exam.id, Exam.code, Exam.mc_policy, Exam.pass_mark).order_by(Exam.code)
    if exams is not None:
        exam_rows = exam_rows.where(Exam.id.in_([e.id for e in exams]))
    keys: dict[int, tuple[object, dict]] = {}  # version id -> (key, settings), read once per run
    for exam in db.session.execute(exam_rows).all():
        corrected = dict(
            db.session.execute(
                select(KeyCorrection.question_version_id, KeyCorrection.answer).where(KeyCorrection.exam_id == exam.id)
            ).all()
        )
        last_id = 0
        while True:
            attempts = db.session.execute(
                select(Attempt.id, Attempt.paper_id, Attempt.score, Attempt.fully_graded, Attempt.passed,
                       User.username)
                .join(User, User.id == Attempt.user_id)
                .where(Attempt.exam_id == exam.id, Attempt.status != AttemptStatus.IN_PROGRESS, Attempt.id > last_id,
                       Attempt.graded_at.is_not(None))  # (one waiting for its grading has no score to check)
                .order_by(Attempt.id)
                .limit(batch)
            ).all()  # fmt: skip
            if not attempts:
                break
            last_id = attempts[-1].id
            for difference in _verify_batch(exam, attempts, corrected, keys, summary):
                summary.differences.append(difference)
                if on_difference is not None:
                    on_difference(difference)
    return summary


def _verify_batch(exam, attempts, corrected: dict, keys: dict, summary: Summary):
    items_of: dict[int, list[ItemFacts]] = {}
    for r in db.session.execute(
        select(PaperItem.paper_id, PaperItem.position, PaperItem.points, PaperItem.question_version_id,
               ExamSection.qtype)
        .join(ExamSection, ExamSection.id == PaperItem.section_id)
        .where(PaperItem.paper_id.in_({a.paper_id for a in attempts}))
        .order_by(PaperItem.paper_id, PaperItem.position)
    ):  # fmt: skip
        items_of.setdefault(r.paper_id, []).append(
            ItemFacts(r.position, r.qtype, (), 0, points=float(r.points), version_id=r.question_version_id)
        )
    answers_of: dict[int, dict] = {}
    for r in db.session.execute(
        select(Answer.attempt_id, Answer.position, Answer.value, Answer.points).where(
            Answer.attempt_id.in_([a.id for a in attempts])
        )
    ):
        answers_of.setdefault(r.attempt_id, {})[r.position] = r
    missing = {i.version_id for items in items_of.values() for i in items} - keys.keys()
    if missing:
        rows = db.session.execute(
            select(QuestionVersion.id, QuestionVersion.answer, QuestionVersion.settings).where(
                QuestionVersion.id.in_(missing)
            )
        )
        keys.update((r.id, (r.answer, r.settings or {})) for r in rows)
    for attempt in attempts:
        summary.attempts += 1
        items = items_of.get(attempt.paper_id, [])
        answers = answers_of.get(attempt.id, {})
        summary.items += len(items)
        yield from _verify_attempt(exam, attempt, items, answers, corrected, keys)


def _verify_attempt(exam, attempt, items: list[ItemFacts], answers: dict, corrected: dict, keys: dict):
    def differ(position, what, stored, recomputed):
        return Difference(exam.code, attempt.id, attempt.username, position, what, stored, recomputed)

    if not items:
        yield differ(None, "paper", "no items", "a paper with items")
        return
    points, all_graded = item_points(items, answers, keys, corrected, exam.mc_policy)
    for item in items:
        answer = answers.get(item.position)
        stored = None if answer is None else answer.points
        if answer is None:
            # Grading gives every item a row: one missing was removed after the grading.
            yield differ(item.position, "points", "no answer row", points[item.position])
            continue
        if QUESTION_TYPES[item.qtype].manual and answer.value not in (None, ""):
            # The grader's points are the source: there must be some once the attempt counts as graded, and
            # they must lie within the item's maximum.
            if stored is None and attempt.fully_graded:
                yield differ(item.position, "points", "no grader's points", "a grader's points")
            elif stored is not None and not 0 <= stored <= item.points:
                yield differ(item.position, "points", stored, f"0 to {item.points:g}")
            continue
        if stored != points[item.position]:
            yield differ(item.position, "points", stored, points[item.position])
    for position in sorted(answers.keys() - {i.position for i in items}):
        yield differ(position, "points", answers[position].points, "no such item on the paper")
    score, fully_graded, passed = attempt_result(points, all_graded, exam.pass_mark)
    if attempt.fully_graded != fully_graded:
        yield differ(None, "fully_graded", attempt.fully_graded, fully_graded)
    if attempt.score != score:
        yield differ(None, "score", attempt.score, score)
    if attempt.passed != passed:
        yield differ(None, "passed", attempt.passed, passed)
