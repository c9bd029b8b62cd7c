"""Grading and regrading: objective items by their type, an attempt's total, grading again after a key correction."""

import functools
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core import audit, events
from core.extensions import db
from exam.answers import attempt_facts, version_keys
from exam.attempts import finalize_overdue, lock_attempt
from exam.integrity import rescoring
from exam.models import Answer, Attempt, AttemptStatus, Exam, KeyCorrection
from question_bank.types import QUESTION_TYPES


@dataclass(frozen=True)
class Rescored:
    """What grading changed of one attempt: (position, old, new) of every item whose points changed, and the
    total before and after (None: not final)."""

    items: list[tuple[int, float | None, float | None]]
    old_score: float | None
    new_score: float | None

    @property
    def changed(self) -> bool:
        return bool(self.items) or self.old_score != self.new_score


def grade(attempt: Attempt, now: datetime) -> Rescored:
    """Grade every objective item (pure functions per type); essays wait for a grader (their hand-given points are
    kept when grading again). The score is set once all items have points; core.events.attempt_finalized is sent
    (the learning archive records the result in the same transaction). Runs only inside exam.integrity.rescoring
    (the caller's documented path, which audits what the returned Rescored says changed)."""
    # A fixed number of statements whatever the paper's length: the exam, the answers, the keys of versions this
    # process has not seen, the corrections, one upsert of the points, and the listeners' (the archive's record).
    exam = attempt.exam  # its total points (the archive's record) are kept per process: exam.review.exam_total
    items = attempt_facts(attempt).items
    answers = {r.position: r for r in db.session.execute(
        select(Answer.id, Answer.position, Answer.value, Answer.points).where(Answer.attempt_id == attempt.id)
    )}  # fmt: skip
    points, all_graded = item_points(
        items.values(), answers, version_keys({item.version_id for item in items.values()}), corrected_keys(exam),
        exam.mc_policy,
    )  # fmt: skip
    # One statement writes every item's points: it updates the answers given and inserts a row for each item left
    # unanswered (every item gets a row, so reviews, grading and reports find one per item). Sent with RETURNING as
    # one batch of VALUES (SQLAlchemy's insertmanyvalues), not row by row.
    rows = [
        {"attempt_id": attempt.id, "position": position, "value": None, "seq": 0, "saved_at": attempt.ended_at,
         "points": value, "comment": ""}
        for position, value in points.items()
        if position not in answers or answers[position].points != value
    ]  # fmt: skip
    old_score = _number(attempt.score)
    changes = [(row["position"], _number(answers[row["position"]].points) if row["position"] in answers else None,
                _number(row["points"])) for row in rows]  # fmt: skip
    if rows:
        db.session.execute(_points_statement(db.session.get_bind().dialect.name), rows)
    for obj in list(db.session.identity_map.values()):  # answers loaded earlier in this session are stale now
        if isinstance(obj, Answer) and obj.attempt_id == attempt.id:
            db.session.expire(obj)
    attempt.score, attempt.fully_graded, attempt.passed = attempt_result(points, all_graded, exam.pass_mark)
    attempt.graded_at = now
    events.attempt_finalized.send(attempt, now=now)  # the archive records the result, in this transaction
    return Rescored(changes, old_score, _number(attempt.score))


def _number(value) -> float | None:
    return None if value is None else float(value)


def item_points(items, answers: dict, keys: dict, corrected: dict, mc_policy: str) -> tuple[dict, bool]:
    """The points of every item of an attempt, and whether every item has them: objective items graded by their
    type (the exam's corrected key before the version's own), written ones as the grader gave them (0 when nothing
    was written). `items` have position, qtype, version_id and points; `answers` maps a position to a row with
    value and points; `keys` a version id to (key, settings). Pure: grading and `flask exams verify` share it."""
    all_graded = True
    points: dict[int, float | None] = {}  # position -> points of every item
    for item in items:
        kind = QUESTION_TYPES[item.qtype]
        answer = answers.get(item.position)
        if kind.manual:
            if answer is None or answer.value in (None, ""):
                points[item.position] = 0.0  # nothing written: nothing to grade
            else:
                points[item.position] = answer.points  # a grader's, kept; None until given
                all_graded = all_graded and answer.points is not None
            continue
        key, settings = keys[item.version_id]
        share = kind.grade(corrected.get(item.version_id, key), answer.value if answer else None, settings,
                           mc_policy)  # fmt: skip
        points[item.position] = round(item.points * share, 2)
    return points, all_graded


def attempt_result(points: dict, all_graded: bool, pass_mark) -> tuple[float | None, bool, bool | None]:
    """(score, fully_graded, passed) of an attempt from its items' points: final only once every item has them."""
    if not all_graded:
        return None, False, None
    total = sum(value or 0 for value in points.values())
    return round(total, 2), True, total >= float(pass_mark)


@functools.cache
def _points_statement(dialect: str):
    table = Answer.__table__
    upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
    return upsert.on_conflict_do_update(
        index_elements=[table.c.attempt_id, table.c.position], set_={"points": upsert.excluded.points}
    ).returning(table.c.id)


#: Checks that may refuse to change an exam's marks by grading, regrading or a key correction: (exam) -> None or
#: raise DomainError. The score lifecycle registers one (checked results change only by sending them back, an
#: appeal or a formal correction).
_marks_locks: list = []


def register_marks_lock(check) -> None:
    _marks_locks.append(check)


def refuse_locked_marks(exam: Exam) -> None:
    """Raise the refusal of a registered check, if one refuses to let the exam's marks change by grading."""
    for check in _marks_locks:
        check(exam)


def regrade(actor, exam: Exam, now: datetime) -> list[tuple[Attempt, float | None, float | None]]:
    """Grade every ended attempt of an exam again (after a key correction). Returns (attempt, old score, new score)
    of the attempts whose score changed. One audit entry keeps every attempt whose points changed: its total's
    old and new value and each changed item's (position, old, new)."""
    refuse_locked_marks(exam)
    finalize_overdue(now, exam)
    changed, audited = [], []
    ended = select(Attempt).where(Attempt.exam_id == exam.id, Attempt.status != AttemptStatus.IN_PROGRESS)
    with rescoring("regrade"):
        for attempt in db.session.scalars(ended.order_by(Attempt.id)).all():
            attempt = lock_attempt(attempt)  # a grader may be giving points to this very attempt
            rescored = grade(attempt, now)
            if rescored.old_score != rescored.new_score:
                changed.append((attempt, rescored.old_score, rescored.new_score))
            if rescored.changed:
                audited.append({"attempt": attempt.id, "user": attempt.user_id, "old": rescored.old_score,
                                "new": rescored.new_score, "items": [list(c) for c in rescored.items]})  # fmt: skip
    audit.record("exam.regraded", actor=actor, target=f"exam:{exam.code}", detail={"changed": audited}, at=now)
    return changed


def corrected_keys(exam: Exam) -> dict[int, object]:
    """Question version id -> the key as corrected for this exam (grading and review use it)."""
    return dict(
        db.session.execute(
            select(KeyCorrection.question_version_id, KeyCorrection.answer).where(KeyCorrection.exam_id == exam.id)
        ).all()
    )
