"""Marking at scale (流水阅卷, 双评, 仲裁, 抽查): an exam's marking plan (who marks which written question, single or
double marking, the tolerance), the marks themselves (never changed: a new row for each decision), arbitration,
the final mark, the graders' queues and progress, consistency figures and the chief grader's samples.

An exam without a plan is graded as before (exam.grading). Functions take `now`, flush and never commit.
"""

import hashlib
import math
import random
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import gettext as _
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.exc import IntegrityError

from accounts.models import User
from core import audit, policy
from core.errors import DomainError
from core.extensions import db
from exam import attempts, grading, scoring
from exam.integrity import rescoring
from exam.models import (
    Answer,
    Attempt,
    AttemptStatus,
    Exam,
    ExamSection,
    ExamStatus,
    Mark,
    MarkingAssignment,
    MarkingItem,
    MarkingMode,
    MarkingPlan,
    MarkingRole,
    MarkingSample,
    MarkKind,
    Paper,
    PaperItem,
)
from question_bank.models import QuestionVersion

#: The marks that make an answer's final mark (Answer.points), written only by set_final_mark.
FINAL_KINDS = frozenset({MarkKind.FIRST, MarkKind.AGREED, MarkKind.ARBITRATION, MarkKind.APPEAL, MarkKind.CORRECTION})
#: A marker's own marks (blind: neither marker sees the other's).
MARKER_KINDS = (MarkKind.FIRST.value, MarkKind.SECOND.value)
MAX_TOLERANCE = 100


# ---------------------------------------------------------------- the plan and its items


def plan_of(exam: Exam) -> MarkingPlan | None:
    return db.session.scalar(select(MarkingPlan).where(MarkingPlan.exam_id == exam.id))


@dataclass
class Item:
    """A written question of an exam as marked: its version, maximum points and the rule in force."""

    version: QuestionVersion
    max_points: float
    mode: str
    tolerance: float
    #: Whether the item has its own rule (otherwise the plan's default).
    own: bool = False

    @property
    def double(self) -> bool:
        return self.mode == MarkingMode.DOUBLE


def items(exam: Exam, plan: MarkingPlan | None = None) -> list[Item]:
    """Every written question of the exam's papers, in section order, with its marking rule."""
    plan = plan or plan_of(exam)
    rows = db.session.execute(
        select(PaperItem.question_version_id, func.max(PaperItem.points))
        .join(Paper, PaperItem.paper_id == Paper.id)
        .join(ExamSection, PaperItem.section_id == ExamSection.id)
        .where(Paper.exam_id == exam.id, ExamSection.qtype.in_(grading.MANUAL_TYPES))
        .group_by(PaperItem.question_version_id, ExamSection.position)
        .order_by(ExamSection.position, PaperItem.question_version_id)
    ).all()
    own = db.session.scalars(select(MarkingItem).where(MarkingItem.exam_id == exam.id))
    own = {r.question_version_id: r for r in own}
    versions = {v.id: v for v in db.session.scalars(select(QuestionVersion).where(
        QuestionVersion.id.in_([vid for vid, _p in rows])))}  # fmt: skip
    out = []
    for vid, points in rows:
        row = own.get(vid)
        mode = row.mode if row else (plan.default_mode if plan else MarkingMode.SINGLE)
        tolerance = row.tolerance if row else (plan.default_tolerance if plan else 0)
        out.append(Item(versions[vid], float(points), mode, float(tolerance), row is not None))
    return out


def item_of(exam: Exam, version_id: int) -> Item:
    found = next((i for i in items(exam) if i.version.id == version_id), None)
    if found is None:
        raise DomainError(_("That question is not a written question of this exam."), code="not_in_exam")
    return found


def _answers_of_version(exam: Exam, version_ids):
    return (
        select(Answer.id)
        .join(Attempt, Answer.attempt_id == Attempt.id)
        .join(PaperItem, and_(PaperItem.paper_id == Attempt.paper_id, PaperItem.position == Answer.position))
        .where(Attempt.exam_id == exam.id, PaperItem.question_version_id.in_(list(version_ids)))
    )


def started(exam: Exam, version_ids) -> bool:
    """Has marking begun on any of these questions of the exam (a mark given)?"""
    version_ids = list(version_ids)
    if not version_ids:
        return False
    return db.session.scalar(
        select(exists().where(Mark.answer_id.in_(_answers_of_version(exam, version_ids))))
    )  # fmt: skip


def _check_rule(mode: str, tolerance) -> tuple[str, float]:
    if mode not in tuple(MarkingMode):
        raise DomainError(_("Single or double marking."), code="bad_mode")
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or not 0 <= tolerance <= MAX_TOLERANCE:
        raise DomainError(_("A tolerance from 0 to %(m)d points.", m=MAX_TOLERANCE), code="bad_tolerance")
    return str(mode), round(float(tolerance), 2)


def _refuse_released(exam: Exam) -> None:
    if exam.status == ExamStatus.RELEASED:
        raise DomainError(_("The results are released: the points can no longer change."), code="locked")


def set_plan(actor, exam: Exam, mode: str, tolerance, now: datetime) -> MarkingPlan:
    """Mark the exam by assignment, with a default mode and tolerance for its written questions (each may have its
    own). The default cannot change for questions whose marking has begun and that have no rule of their own."""
    mode, tolerance = _check_rule(mode, tolerance)
    _refuse_released(exam)
    plan = plan_of(exam)
    if plan is not None and (plan.default_mode, float(plan.default_tolerance)) != (mode, tolerance):
        following = [i.version.id for i in items(exam, plan) if not i.own]
        if started(exam, following):
            raise DomainError(_("Marking has begun on questions following the default: it can no longer change."),
                              code="marking_started")  # fmt: skip
    created = plan is None
    if created:
        plan = MarkingPlan(exam_id=exam.id, created_at=now)
        db.session.add(plan)
    plan.default_mode, plan.default_tolerance = mode, tolerance
    db.session.flush()
    audit.record("marking.plan_set", actor=actor, target=f"exam:{exam.code}",
                 detail={"mode": mode, "tolerance": tolerance, "created": created}, at=now)  # fmt: skip
    return plan


def _plan(exam: Exam) -> MarkingPlan:
    plan = plan_of(exam)
    if plan is None:
        raise DomainError(_("This exam has no marking plan."), code="no_plan")
    return plan


def set_item(actor, exam: Exam, version_id: int, mode: str, tolerance, now: datetime) -> MarkingItem:
    """Give one written question its own mode and tolerance; refused once its marking has begun."""
    mode, tolerance = _check_rule(mode, tolerance)
    _plan(exam)
    _refuse_released(exam)
    item = item_of(exam, version_id)
    if (item.mode, item.tolerance) != (mode, tolerance) and started(exam, [version_id]):
        raise DomainError(_("Marking of this question has begun: its rule can no longer change."),
                          code="marking_started")  # fmt: skip
    row = db.session.scalar(
        select(MarkingItem).where(MarkingItem.exam_id == exam.id, MarkingItem.question_version_id == version_id)
    )
    if row is None:
        row = MarkingItem(exam_id=exam.id, question_version_id=version_id)
        db.session.add(row)
    row.mode, row.tolerance = mode, tolerance
    db.session.flush()
    audit.record("marking.item_set", actor=actor, target=f"exam:{exam.code}",
                 detail={"version": version_id, "mode": mode, "tolerance": tolerance}, at=now)  # fmt: skip
    return row


def assign(actor, exam: Exam, version_id: int, user: User, role: str, now: datetime) -> MarkingAssignment:
    """Assign a grader to a written question as a marker or an arbitrator."""
    _plan(exam)
    item_of(exam, version_id)
    if role not in tuple(MarkingRole):
        raise DomainError(_("A marker or an arbitrator."), code="bad_role")
    if user is None or not policy.can(user, "exam.arbitrate" if role == MarkingRole.ARBITRATOR else "exam.grade"):
        raise DomainError(_("Only graders can be assigned."), code="not_a_grader")
    found = db.session.scalar(select(MarkingAssignment).where(
        MarkingAssignment.exam_id == exam.id, MarkingAssignment.question_version_id == version_id,
        MarkingAssignment.user_id == user.id, MarkingAssignment.role == role))  # fmt: skip
    if found is not None:
        raise DomainError(_("%(name)s is already assigned so.", name=user.name), code="already_assigned")
    row = MarkingAssignment(exam_id=exam.id, question_version_id=version_id, user_id=user.id, role=role)
    db.session.add(row)
    db.session.flush()
    audit.record("marking.assigned", actor=actor, target=f"exam:{exam.code}",
                 detail={"version": version_id, "user": user.id, "role": role}, at=now)  # fmt: skip
    return row


def unassign(actor, exam: Exam, version_id: int, user: User, role: str, now: datetime) -> None:
    """Take a grader off a question (the marks they gave stay)."""
    row = db.session.scalar(select(MarkingAssignment).where(
        MarkingAssignment.exam_id == exam.id, MarkingAssignment.question_version_id == version_id,
        MarkingAssignment.user_id == getattr(user, "id", None), MarkingAssignment.role == role))  # fmt: skip
    if row is None:
        raise DomainError(_("No such assignment."), code="not_assigned")
    db.session.delete(row)
    db.session.flush()
    audit.record("marking.unassigned", actor=actor, target=f"exam:{exam.code}",
                 detail={"version": version_id, "user": user.id, "role": role}, at=now)  # fmt: skip


def set_chief(actor, exam: Exam, user: User | None, now: datetime) -> None:
    """Name the exam's chief grader (None: nobody)."""
    plan = _plan(exam)
    if user is not None and not policy.can(user, "exam.review_marking"):
        raise DomainError(_("Only graders can be assigned."), code="not_a_grader")
    old = plan.chief_grader_id
    plan.chief_grader_id = getattr(user, "id", None)
    db.session.flush()
    audit.record("marking.chief_set", actor=actor, target=f"exam:{exam.code}",
                 detail={"old": old, "new": plan.chief_grader_id}, at=now)  # fmt: skip


def assignments(exam: Exam) -> dict[int, dict[str, list[User]]]:
    """Question version id -> role -> the users assigned."""
    out: dict = defaultdict(lambda: defaultdict(list))
    rows = db.session.scalars(
        select(MarkingAssignment).where(MarkingAssignment.exam_id == exam.id).order_by(MarkingAssignment.id)
    )
    for row in rows:
        out[row.question_version_id][row.role].append(row.user)
    return out


def _roles(user, exam_id: int, version_id: int | None) -> set:
    """What `user` is in the exam's marking (core.policy asks): "marker", "arbitrator", "chief"."""
    query = select(MarkingAssignment.role).where(
        MarkingAssignment.exam_id == exam_id, MarkingAssignment.user_id == user.id
    )
    if version_id is not None:
        query = query.where(MarkingAssignment.question_version_id == version_id)
    roles = set(db.session.scalars(query.distinct()))
    chief = db.session.scalar(select(MarkingPlan.chief_grader_id).where(MarkingPlan.exam_id == exam_id))
    if chief is not None and chief == user.id:
        roles.add("chief")
    return roles


policy.register_marking(_roles)


def roles_of(user, exam: Exam) -> set:
    """What `user` is in the exam's marking: "marker", "arbitrator", "chief" (any question)."""
    return _roles(user, exam.id, None)


# ---------------------------------------------------------------- marks


def round_half_up(value: float) -> float:
    """To the nearest 0.5, halves up (7.25 → 7.5, 7.75 → 8, 6.5 → 6.5)."""
    doubled = (Decimal(str(value)) * 2).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return float(doubled / 2)


def agreed_mark(a: float, b: float, max_points: float) -> float:
    """The final mark of two agreeing marks: their mean rounded half up to the nearest 0.5, at most the maximum."""
    return min(round_half_up((Decimal(str(a)) + Decimal(str(b))) / 2), float(max_points))


def marks_of(answer: Answer) -> list[Mark]:
    return list(db.session.scalars(select(Mark).where(Mark.answer_id == answer.id).order_by(Mark.id)))


def marker_marks(marks) -> list[Mark]:
    return [m for m in marks if m.kind in MARKER_KINDS]


def _add_mark(mark: Mark) -> Mark:
    """Write a mark; the database's one-per-kind rule (uq_marks_answer_kind) turns a lost race into a clear
    refusal (the attempt's lock makes it rare)."""
    try:
        with db.session.begin_nested():
            db.session.add(mark)
    except IntegrityError as exc:
        raise DomainError(_("This answer has been marked meanwhile."), code="already_marked") from exc
    return mark


def _check_points(points, item: PaperItem) -> float:
    if isinstance(points, bool) or not isinstance(points, int | float) or not 0 <= points <= float(item.points):
        raise DomainError(_("Points from 0 to %(m)s.", m=f"{float(item.points):g}"), code="bad_points")
    return round(float(points), 2)


def _check_comment(comment: str) -> str:
    comment = (comment or "").strip()
    if len(comment) > 2000:
        raise DomainError(_("A comment is at most 2,000 characters."), code="bad_comment")
    return comment


def _written(answer: Answer) -> tuple[Attempt, PaperItem]:
    """The answer's attempt (locked) and paper item, once it is a written answer of an ended attempt."""
    attempt = attempts.lock_attempt(db.session.get(Attempt, answer.attempt_id))
    item = grading.answer_item(answer)
    if item.section.qtype not in grading.MANUAL_TYPES or attempt.status == AttemptStatus.IN_PROGRESS:
        raise DomainError(_("This answer is not one to grade by hand."), code="not_manual")
    if answer.value in (None, ""):
        raise DomainError(_("Nothing was written: the answer scores 0 by itself."), code="not_manual")
    return attempt, item


def _refuse_own(person, attempt: Attempt, now: datetime) -> None:
    refusal = grading.grading_refusal(person, attempt.exam, now)
    if refusal or attempt.user_id == getattr(person, "id", None):
        raise DomainError(refusal or _("Nobody grades their own answers."), code="not_yours", status=403)


def mark_answer(grader, answer: Answer, points, comment: str, now: datetime) -> Attempt:
    """A marker's mark of a written answer of an exam with a marking plan (exam.grading.grade_answer comes here).
    Single marking: the mark is final at once. Double marking: the first and the second mark, blind; once both
    are in, within the question's tolerance the final mark is their mean (rounded half up to the nearest 0.5,
    capped at the maximum), beyond it the answer waits for an arbitrator. Refused: one's own answer, a question
    one is not assigned to, an answer one marked already, an answer decided or waiting for arbitration, points out
    of range."""
    attempt, item = _written(answer)
    exam = attempt.exam
    plan = _plan(exam)
    _refuse_own(grader, attempt, now)
    _refuse_released(exam)
    if answer.points is not None:
        raise DomainError(_("This answer has its final mark already."), code="decided")
    marks = marker_marks(marks_of(answer))
    if any(m.grader_id == grader.id for m in marks):
        raise DomainError(_("You have marked this answer already."), code="already_marked")
    if not policy.may_mark(grader, exam.id, item.question_version_id, attempt.user_id):
        raise DomainError(_("You are not assigned to mark this question."), code="not_assigned", status=403)
    rule = next(i for i in items(exam, plan) if i.version.id == item.question_version_id)
    if len(marks) >= (2 if rule.double else 1):
        raise DomainError(_("This answer waits for an arbitrator."), code="in_arbitration")
    points, comment = _check_points(points, item), _check_comment(comment)
    if not rule.double:
        return set_final_mark(grader, answer, points, kind=MarkKind.FIRST, comment=comment, now=now)
    kind = MarkKind.SECOND if marks else MarkKind.FIRST
    _add_mark(Mark(answer_id=answer.id, grader_id=grader.id, kind=kind, points=points, comment=comment,
                   marked_at=now))  # fmt: skip
    audit.record("answer.marked", actor=grader, target=f"attempt:{attempt.id}",
                 detail={"position": answer.position, "kind": kind.value, "points": points}, at=now)  # fmt: skip
    if kind == MarkKind.FIRST:
        return attempt
    first = marks[0]
    difference = abs(float(first.points) - points)
    if difference <= rule.tolerance + 1e-9:
        together = "\n".join(dict.fromkeys(c for c in (first.comment, comment) if c))
        final = agreed_mark(float(first.points), points, rule.max_points)
        return set_final_mark(grader, answer, final, kind=MarkKind.AGREED, comment=together, now=now)
    audit.record("answer.to_arbitration", actor=grader, target=f"attempt:{attempt.id}",
                 detail={"position": answer.position, "difference": round(difference, 2),
                         "tolerance": rule.tolerance}, at=now)  # fmt: skip
    return attempt


def set_final_mark(actor, answer: Answer, points, *, kind: str, comment: str, now: datetime) -> Attempt:
    """The one place that writes a final mark: a Mark row of `kind` (first, agreed, arbitration, appeal or correction),
    the answer's points, comment and grader, the attempt's total recomputed as grading does (final once every item has
    points), audited as answer.graded with the old and new points and totals. Checks the points and the kind only: who
    may decide is the caller's rule. Refused: another kind, an answer not written by hand (objective items are graded by
    their key, blank ones score 0 by themselves), points out of range."""
    if kind not in FINAL_KINDS:
        raise DomainError(_("Not a kind of final mark."), code="bad_kind")
    attempt, item = _written(answer)
    points, comment = _check_points(points, item), _check_comment(comment)
    actor_id = getattr(actor, "id", None)
    _add_mark(Mark(answer_id=answer.id, grader_id=actor_id, kind=str(kind), points=points, comment=comment,
                   marked_at=now))  # fmt: skip
    old = answer.points
    with rescoring(str(kind) if kind in (MarkKind.APPEAL, MarkKind.CORRECTION) else "manual_grading"):
        answer.points, answer.comment = points, comment
        answer.grader_id, answer.graded_at = actor_id, now
        db.session.flush()
        rescored = scoring.grade(attempt, now)
    audit.record("answer.graded", actor=actor, target=f"attempt:{attempt.id}",
                 detail={"position": answer.position, "old": old, "new": points, "kind": str(kind),
                         "score_old": rescored.old_score, "score_new": rescored.new_score}, at=now)  # fmt: skip
    return attempt


def arbitrate(arbitrator, answer: Answer, points, comment: str, now: datetime) -> Attempt:
    """The arbitrator's final mark of an answer whose two marks differ beyond the tolerance (they see both marks
    and comments). Refused: not an arbitrator of the question, one of its two markers, the candidate, an answer
    not waiting for arbitration, points out of range."""
    attempt, item = _written(answer)
    exam = attempt.exam
    _plan(exam)
    _refuse_own(arbitrator, attempt, now)
    _refuse_released(exam)
    marks = marker_marks(marks_of(answer))
    if answer.points is not None or len(marks) < 2:
        raise DomainError(_("This answer does not wait for an arbitrator."), code="not_in_arbitration")
    if arbitrator.id in {m.grader_id for m in marks}:
        raise DomainError(_("You marked this answer: another arbitrator decides."), code="already_marked",
                          status=403)  # fmt: skip
    if not policy.may_arbitrate(arbitrator, exam.id, item.question_version_id, attempt.user_id,
                                [m.grader_id for m in marks]):  # fmt: skip
        raise DomainError(_("You are not an arbitrator of this question."), code="not_assigned", status=403)
    points, comment = _check_points(points, item), _check_comment(comment)
    return set_final_mark(arbitrator, answer, points, kind=MarkKind.ARBITRATION, comment=comment, now=now)


def unfinished(exam: Exam) -> int:
    """How many written answers of the exam's ended attempts still lack a final mark (0: every item is marked)."""
    rows = grading.written_answers(exam).where(Answer.points.is_(None)).subquery()
    return db.session.scalar(select(func.count()).select_from(rows))


def all_final(exam: Exam) -> bool:
    """Has every item of every attempt of the exam its final mark (阅卷完成)? With a plan or without: no attempt
    still in progress, and no written answer of an ended one without its final mark."""
    running = db.session.scalar(
        select(exists().where(Attempt.exam_id == exam.id, Attempt.status == AttemptStatus.IN_PROGRESS))
    )
    return not running and unfinished(exam) == 0


# ---------------------------------------------------------------- queues and progress


def _marker_count():
    return (
        select(func.count())
        .where(Mark.answer_id == Answer.id, Mark.kind.in_(MARKER_KINDS))
        .correlate(Answer)
        .scalar_subquery()
    )


def queue(exam: Exam, grader):
    """(Answer, PaperItem) of the written answers `grader` has still to mark: of the questions assigned to them,
    without a final mark, not yet marked by them, lacking a mark (one in single, two in double marking), never
    their own. Ordered by question, then attempt."""
    mine = db.session.scalars(select(MarkingAssignment.question_version_id).where(
        MarkingAssignment.exam_id == exam.id, MarkingAssignment.user_id == grader.id,
        MarkingAssignment.role == MarkingRole.MARKER))  # fmt: skip
    mine = set(mine)
    rules = [i for i in items(exam) if i.version.id in mine]
    singles, doubles = [i.version.id for i in rules if not i.double], [i.version.id for i in rules if i.double]
    marked_by_me = exists().where(Mark.answer_id == Answer.id, Mark.grader_id == grader.id,
                                  Mark.kind.in_(MARKER_KINDS))  # fmt: skip
    count = _marker_count()
    return (
        grading.written_answers(exam, grader)
        .where(Answer.points.is_(None), ~marked_by_me)
        .where(
            or_(
                and_(PaperItem.question_version_id.in_(singles), count < 1),
                and_(PaperItem.question_version_id.in_(doubles), count < 2),
            )
        )  # fmt: skip
    )


def marked_by(exam: Exam, grader) -> dict[int, int]:
    """Question version id -> how many answers of the exam `grader` marked (first or second marks)."""
    rows = db.session.execute(
        select(PaperItem.question_version_id, func.count())
        .select_from(Mark)
        .join(Answer, Mark.answer_id == Answer.id)
        .join(Attempt, Answer.attempt_id == Attempt.id)
        .join(PaperItem, and_(PaperItem.paper_id == Attempt.paper_id, PaperItem.position == Answer.position))
        .where(Attempt.exam_id == exam.id, Mark.grader_id == grader.id, Mark.kind.in_(MARKER_KINDS))
        .group_by(PaperItem.question_version_id)
    ).all()
    return dict(rows)


def to_mark(exam: Exam, grader) -> dict[int, int]:
    """Question version id -> how many answers are left in `grader`'s queue."""
    rows = queue(exam, grader).with_only_columns(PaperItem.question_version_id, func.count())
    return dict(db.session.execute(rows.group_by(PaperItem.question_version_id).order_by(None)).all())


def grader_progress(exam: Exam, grader) -> grading.Progress:
    done, left = marked_by(exam, grader), to_mark(exam, grader)
    return grading.Progress(sum(done.values()), sum(done.values()) + sum(left.values()))


def grader_progress_by_question(exam: Exam, grader) -> list[tuple[QuestionVersion, int, int]]:
    done, left = marked_by(exam, grader), to_mark(exam, grader)
    return [(i.version, done.get(i.version.id, 0), done.get(i.version.id, 0) + left.get(i.version.id, 0))
            for i in items(exam) if i.version.id in done or i.version.id in left]  # fmt: skip


@dataclass
class ItemProgress:
    item: Item
    total: int = 0  # written answers to mark
    first: int = 0
    second: int = 0
    final: int = 0
    arbitration: int = 0  # waiting for an arbitrator
    markers: list = field(default_factory=list)  # (user, marked, left)
    arbitrators: list = field(default_factory=list)


def progress(exam: Exam) -> list[ItemProgress]:
    """Per written question: answers, first and second marks, final marks, answers waiting for arbitration, and
    per assigned grader how many they marked and how many are left to them."""
    count = _marker_count()
    stmt = grading.written_answers(exam).with_only_columns(
        PaperItem.question_version_id, Answer.points.is_not(None), count
    )
    per: dict[int, ItemProgress] = {i.version.id: ItemProgress(i) for i in items(exam)}
    for vid, final, n in db.session.execute(stmt.order_by(None)).all():
        row = per.get(vid)
        if row is None:
            continue
        row.total += 1
        row.first += n >= 1
        row.second += n >= 2
        row.final += bool(final)
        row.arbitration += bool(not final and n >= 2)
    people = assignments(exam)
    for vid, row in per.items():
        for user in people.get(vid, {}).get(MarkingRole.MARKER, []):
            row.markers.append((user, marked_by(exam, user).get(vid, 0), to_mark(exam, user).get(vid, 0)))
        row.arbitrators = list(people.get(vid, {}).get(MarkingRole.ARBITRATOR, []))
    return list(per.values())


def arbitration_queue(exam: Exam, arbitrator=None) -> list[tuple[Answer, PaperItem]]:
    """(Answer, PaperItem) of the answers waiting for an arbitrator (with `arbitrator`: of the questions they
    arbitrate, neither their own nor ones they marked)."""
    stmt = grading.written_answers(exam, arbitrator).where(Answer.points.is_(None), _marker_count() >= 2)
    if arbitrator is not None:
        theirs = select(MarkingAssignment.question_version_id).where(
            MarkingAssignment.exam_id == exam.id, MarkingAssignment.user_id == arbitrator.id,
            MarkingAssignment.role == MarkingRole.ARBITRATOR)  # fmt: skip
        marked = exists().where(Mark.answer_id == Answer.id, Mark.grader_id == arbitrator.id)
        stmt = stmt.where(PaperItem.question_version_id.in_(theirs), ~marked)
    return [tuple(r) for r in db.session.execute(stmt).all()]


# ---------------------------------------------------------------- consistency


@dataclass
class Figures:
    """One grader's marks of one question: how many, their mean and spread, and against the other marker."""

    grader: User
    item: Item
    marked: int
    mean: float | None
    std: float | None  # population standard deviation
    pairs: int  # answers both markers marked
    mean_difference: float | None  # mean absolute difference from the other marker
    within: float | None  # share of pairs within the tolerance
    arbitrated: float | None  # share of pairs sent to arbitration


def _marker_rows(exam: Exam):
    """(answer id, version id, grader id, kind, points) of every first and second mark of the exam."""
    return db.session.execute(
        select(Mark.answer_id, PaperItem.question_version_id, Mark.grader_id, Mark.kind, Mark.points)
        .join(Answer, Mark.answer_id == Answer.id)
        .join(Attempt, Answer.attempt_id == Attempt.id)
        .join(PaperItem, and_(PaperItem.paper_id == Attempt.paper_id, PaperItem.position == Answer.position))
        .where(Attempt.exam_id == exam.id, Mark.kind.in_(MARKER_KINDS))
        .order_by(Mark.id)
    ).all()


def consistency(exam: Exam) -> list[Figures]:
    """Per grader and written question: the consistency figures (ordered by question, then grader)."""
    rules = {i.version.id: i for i in items(exam)}
    by_answer: dict[int, list] = defaultdict(list)
    mine: dict[tuple[int, int], list] = defaultdict(list)  # (version, grader) -> [(answer, points)]
    for answer_id, vid, gid, _kind, points in _marker_rows(exam):
        by_answer[answer_id].append((gid, float(points)))
        mine[vid, gid].append((answer_id, float(points)))
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_({g for _v, g in mine})))}
    out = []
    for (vid, gid), marks in sorted(mine.items(), key=lambda kv: (list(rules).index(kv[0][0]), kv[0][1])):
        rule, values = rules[vid], [p for _a, p in marks]
        diffs = []
        for answer_id, points in marks:
            others = [p for g, p in by_answer[answer_id] if g != gid]
            if others:
                diffs.append(abs(points - others[0]))
        within = sum(d <= rule.tolerance + 1e-9 for d in diffs)
        out.append(Figures(
            users[gid], rule, len(values), round(statistics.fmean(values), 2), round(statistics.pstdev(values), 2),
            len(diffs), round(statistics.fmean(diffs), 2) if diffs else None,
            round(within / len(diffs), 4) if diffs else None,
            round((len(diffs) - within) / len(diffs), 4) if diffs else None,
        ))  # fmt: skip
    return out


# ---------------------------------------------------------------- samples (抽查)


def _seed(exam: Exam, grader_id: int) -> int:
    return int.from_bytes(hashlib.sha256(f"sample\0{exam.id}\0{exam.code}\0{grader_id}".encode()).digest()[:8])


def draw_samples(chief, exam: Exam, percent: int, now: datetime) -> int:
    """Draw `percent` % (rounded up) of each grader's marked answers for the chief grader's blind re-mark,
    deterministically (seeded by the exam and the grader); answers drawn before count towards the share, so
    drawing again after more marking tops the sample up. Never the chief's own answer or one they marked.
    Returns how many answers were drawn now."""
    _plan(exam)
    if not policy.may_sample(chief, exam.id):
        raise DomainError(_("Only the chief grader draws samples."), code="not_chief", status=403)
    if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 100:
        raise DomainError(_("A share from 1 to 100 %."), code="bad_percent")
    rows = _marker_rows(exam)
    chief_marked = {a for a, _v, g, _k, _p in rows if g == chief.id}
    own = set(db.session.scalars(_answers_of_version(exam, [r[1] for r in rows]).where(Attempt.user_id == chief.id)))
    per_grader: dict[int, list[int]] = defaultdict(list)
    for answer_id, _vid, gid, _kind, _points in rows:
        if gid is not None and gid != chief.id and answer_id not in chief_marked | own:
            per_grader[gid].append(answer_id)
    drawn = defaultdict(set)
    for gid, aid in db.session.execute(
        select(MarkingSample.grader_id, MarkingSample.answer_id).where(MarkingSample.exam_id == exam.id)
    ):
        drawn[gid].add(aid)
    added = 0
    for gid, answer_ids in sorted(per_grader.items()):
        wanted = math.ceil(len(answer_ids) * percent / 100) - len(drawn[gid])
        pool = sorted(set(answer_ids) - drawn[gid])
        if wanted <= 0 or not pool:
            continue
        for aid in random.Random(_seed(exam, gid)).sample(pool, min(wanted, len(pool))):
            db.session.add(MarkingSample(exam_id=exam.id, answer_id=aid, grader_id=gid, drawn_by_id=chief.id,
                                         drawn_at=now))  # fmt: skip
            added += 1
    db.session.flush()
    audit.record("marking.samples_drawn", actor=chief, target=f"exam:{exam.code}",
                 detail={"percent": percent, "count": added}, at=now)  # fmt: skip
    return added


def sample_queue(exam: Exam) -> list[tuple[Answer, PaperItem]]:
    """The drawn answers not yet re-marked, by question."""
    remarked = exists().where(Mark.answer_id == Answer.id, Mark.kind == MarkKind.SAMPLE)
    drawn = select(MarkingSample.answer_id).where(MarkingSample.exam_id == exam.id)
    stmt = grading.written_answers(exam).where(Answer.id.in_(drawn), ~remarked)
    return [tuple(r) for r in db.session.execute(stmt).all()]


def remark_sample(chief, answer: Answer, points, comment: str, now: datetime) -> Mark:
    """The chief grader's blind re-mark of a drawn answer (kind sample): the final mark stays as it is."""
    attempt, item = _written(answer)
    exam = attempt.exam
    drawn = db.session.scalar(select(exists().where(MarkingSample.exam_id == exam.id,
                                                    MarkingSample.answer_id == answer.id)))  # fmt: skip
    if not drawn:
        raise DomainError(_("This answer is not in the sample."), code="not_drawn", status=404)
    _refuse_own(chief, attempt, now)
    marks = marks_of(answer)
    if any(m.kind == MarkKind.SAMPLE for m in marks):
        raise DomainError(_("This answer is re-marked already."), code="already_marked")
    if not policy.may_sample(chief, exam.id, attempt.user_id, [m.grader_id for m in marker_marks(marks)]):
        raise DomainError(_("Only the chief grader re-marks the sample."), code="not_chief", status=403)
    points, comment = _check_points(points, item), _check_comment(comment)
    mark = _add_mark(Mark(answer_id=answer.id, grader_id=chief.id, kind=MarkKind.SAMPLE, points=points,
                          comment=comment, marked_at=now))  # fmt: skip
    audit.record("answer.sample_marked", actor=chief, target=f"attempt:{attempt.id}",
                 detail={"position": answer.position, "points": points}, at=now)  # fmt: skip
    return mark


@dataclass
class SampleRow:
    answer_id: int
    sheet: str
    version_id: int
    marked: float  # the grader's mark
    remarked: float | None  # the chief's (None: not yet)

    @property
    def difference(self) -> float | None:
        return None if self.remarked is None else round(self.marked - self.remarked, 2)


@dataclass
class SampleSummary:
    grader: User
    rows: list[SampleRow]

    @property
    def done(self) -> list[SampleRow]:
        return [r for r in self.rows if r.remarked is not None]

    @property
    def mean_difference(self) -> float | None:
        done = self.done
        return round(statistics.fmean(r.difference for r in done), 2) if done else None

    @property
    def mean_abs_difference(self) -> float | None:
        done = self.done
        return round(statistics.fmean(abs(r.difference) for r in done), 2) if done else None

    @property
    def max_abs_difference(self) -> float | None:
        done = self.done
        return max(abs(r.difference) for r in done) if done else None


def sample_differences(exam: Exam) -> list[SampleSummary]:
    """Per grader sampled: each drawn answer with their mark and the chief's re-mark, and the differences
    (grader − chief)."""
    drawn = db.session.execute(
        select(MarkingSample.grader_id, MarkingSample.answer_id).where(MarkingSample.exam_id == exam.id)
        .order_by(MarkingSample.grader_id, MarkingSample.answer_id)
    ).all()  # fmt: skip
    if not drawn:
        return []
    marks = defaultdict(dict)
    for m in db.session.scalars(select(Mark).where(Mark.answer_id.in_({a for _g, a in drawn}))):
        marks[m.answer_id][(m.grader_id, m.kind)] = m
    rows_of = {a: (ans, item) for a, (ans, item) in
               ((r[0].id, (r[0], r[1])) for r in db.session.execute(
                   grading.written_answers(exam).where(Answer.id.in_({a for _g, a in drawn}))))}  # fmt: skip
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_({g for g, _a in drawn})))}
    out: dict[int, SampleSummary] = {}
    for gid, aid in drawn:
        given = next((m for (g, k), m in marks[aid].items() if g == gid and k in MARKER_KINDS), None)
        sample = next((m for (_g, k), m in marks[aid].items() if k == MarkKind.SAMPLE), None)
        if given is None or aid not in rows_of or gid not in users:
            continue
        answer, item = rows_of[aid]
        summary = out.setdefault(gid, SampleSummary(users[gid], []))
        summary.rows.append(SampleRow(aid, grading.blind_number(db.session.get(Attempt, answer.attempt_id)),
                                      item.question_version_id, float(given.points),
                                      None if sample is None else float(sample.points)))  # fmt: skip
    return list(out.values())
