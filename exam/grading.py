"""Grading by hand and correcting keys: the queue of written answers (blind: graders see no names), the points a
grader gives, and a key corrected after an exam with the regrading it causes.

Functions take `now`, flush and never commit, like every service.
"""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Select, and_, case, func, select

from core import audit, events, policy
from core.errors import DomainError
from core.extensions import db
from core.i18n import join_list, localtime
from exam import attempts, conflicts, definition, eligibility, scoring
from exam.integrity import rescoring
from exam.models import (
    Answer,
    Attempt,
    AttemptStatus,
    Exam,
    ExamSection,
    ExamStatus,
    KeyCorrection,
    PaperItem,
    Phase,
)
from question_bank.models import QuestionVersion
from question_bank.richtext import to_text
from question_bank.types import QUESTION_TYPES, BadKey, count_blanks

MANUAL_TYPES = tuple(code for code, kind in QUESTION_TYPES.items() if kind.manual)


def written_answers(exam: Exam, grader=None) -> Select:
    """(Answer, PaperItem) of every written answer of the exam's ended attempts that a grader has to read: blank
    ones score 0 by themselves. Ordered by question, then attempt. With `grader`, not the grader's own answers (a
    grader who sat the exam never receives their own sheet: other graders grade it)."""
    stmt = (
        select(Answer, PaperItem)
        .join(Attempt, Answer.attempt_id == Attempt.id)
        .join(PaperItem, and_(PaperItem.paper_id == Attempt.paper_id, PaperItem.position == Answer.position))
        .join(ExamSection, PaperItem.section_id == ExamSection.id)
        .where(
            Attempt.exam_id == exam.id,
            Attempt.status != AttemptStatus.IN_PROGRESS,
            ExamSection.qtype.in_(MANUAL_TYPES),
            Answer.grader_id.is_not(None) | (Answer.points.is_(None)),
        )
        .order_by(PaperItem.question_version_id, Attempt.id)
    )
    grader_id = getattr(grader, "id", None)
    return stmt if grader_id is None else stmt.where(Attempt.user_id != grader_id)


@dataclass
class Progress:
    graded: int
    total: int

    @property
    def done(self) -> bool:
        return self.graded == self.total


def progress(exam: Exam, grader=None) -> Progress:
    """How many of the exam's written answers are graded, of how many (with `grader`: of those they may grade;
    with a marking plan, how many they marked of how many are theirs to mark)."""
    if grader is not None and _planned(exam):
        return marking.grader_progress(exam, grader)
    rows = written_answers(exam, grader).subquery()
    graded, total = db.session.execute(
        select(func.count(case((rows.c.points.is_not(None), 1))), func.count()).select_from(rows)
    ).one()
    return Progress(graded, total)


def progress_by_question(exam: Exam, grader=None) -> list[tuple[QuestionVersion, int, int]]:
    """(question version, graded, total) of every written question of the exam (with `grader`: of the answers
    they may grade; with a marking plan: marked by them, of their questions)."""
    if grader is not None and _planned(exam):
        return marking.grader_progress_by_question(exam, grader)
    rows = written_answers(exam, grader).with_only_columns(
        PaperItem.question_version_id, func.count(case((Answer.points.is_not(None), 1))), func.count()
    )
    counts = db.session.execute(rows.group_by(PaperItem.question_version_id).order_by(None)).all()
    versions = {v.id: v for v in db.session.scalars(select(QuestionVersion).where(
        QuestionVersion.id.in_([vid for vid, _g, _t in counts])))}  # fmt: skip
    return [(versions[vid], graded, total) for vid, graded, total in counts]


def next_to_grade(
    exam: Exam, *, version_id: int | None = None, attempt_id: int | None = None, grader=None
) -> Answer | None:
    """The next ungraded written answer: of the same question (item by item), of the same attempt (candidate by
    candidate), or else any; with `grader`, never one of the grader's own (with a marking plan: the next of their
    queue, exam.marking.queue)."""
    if grader is not None and _planned(exam):
        stmt = marking.queue(exam, grader)
    else:
        stmt = written_answers(exam, grader).where(Answer.points.is_(None))
    for narrowed in (
        stmt.where(PaperItem.question_version_id == version_id) if version_id else None,
        stmt.where(Attempt.id == attempt_id).order_by(None).order_by(Answer.position) if attempt_id else None,
        stmt,
    ):
        if narrowed is not None:
            row = db.session.execute(narrowed.limit(1)).first()
            if row is not None:
                return row[0]
    return None


def _planned(exam: Exam) -> bool:
    """Is the exam marked by assignment (exam.marking)?"""
    return marking.plan_of(exam) is not None


def own_sheets(exam: Exam, grader) -> Progress:
    """The grader's own written answers in the exam (they sat it), graded or not: left to other graders."""
    rows = written_answers(exam).where(Attempt.user_id == getattr(grader, "id", None)).subquery()
    graded, total = db.session.execute(
        select(func.count(case((rows.c.points.is_not(None), 1))), func.count()).select_from(rows)
    ).one()
    return Progress(graded, total)


def blind_number(attempt: Attempt) -> str:
    """The sheet number a grader sees: stable for an attempt, naming nobody (not even the attempt's id)."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"sheet\0{attempt.id}".encode(), hashlib.sha256).hexdigest()[:8].upper()


def answer_item(answer: Answer) -> PaperItem:
    attempt = db.session.get(Attempt, answer.attempt_id)
    return db.session.scalar(
        select(PaperItem).where(PaperItem.paper_id == attempt.paper_id, PaperItem.position == answer.position)
    )


def grading_refusal(grader, exam: Exam, now: datetime) -> str | None:
    """Why `grader` may not grade this exam now, if they may not: a grader who sits the exam themselves would see
    reference answers and other candidates' essays while they may still be answering."""
    if exam.phase(now) in (Phase.PUBLISHED, Phase.OPEN):
        sitting = db.session.scalar(
            select(Attempt.id).where(Attempt.exam_id == exam.id, Attempt.user_id == grader.id).limit(1)
        )
        if sitting is not None or eligibility.is_eligible(exam, grader):
            return _("You sit this exam yourself: you can grade it once it has closed.")
    return None


@dataclass
class Wait:
    """Why a grader's grading of an exam waits, and until when."""

    exam_id: int
    #: The exams the grader sits that keep this one from them (this exam itself, or others sharing its questions).
    own_exams: list[Exam]
    #: When grading opens (None: once the results of `own_exams` are released by hand).
    opens_at: datetime | None

    @property
    def sits_it(self) -> bool:
        """Does the grader sit this exam itself (rather than one that can draw its questions)?"""
        return [e.id for e in self.own_exams] == [self.exam_id]

    def message(self) -> str:
        """Why grading waits and when it opens, for the grading list and the refusal page alike."""
        if self.sits_it:
            return _("Conflict of interest: you are a candidate of this exam. You can grade it once it has closed "
                     "(%(t)s); your own sheet is left to other graders.", t=localtime(self.opens_at))  # fmt: skip
        exams = join_list(e.title for e in self.own_exams)
        if self.opens_at is None:
            return _("Conflict of interest: its questions can be on your own paper of %(exams)s. You can grade it "
                     "once the results of that exam are released.", exams=exams)  # fmt: skip
        return _("Conflict of interest: its questions can be on your own paper of %(exams)s. You can grade it once "
                 "your review of that exam is allowed (%(t)s).", exams=exams, t=localtime(self.opens_at))  # fmt: skip


def grading_wait(grader, exam: Exam, now: datetime) -> Wait | None:
    """Why `grader` may not grade `exam` yet, if they may not: the rule of core.policy (a conflict of interest,
    judged for grading) and grading_refusal, the two the grading pages apply, explained. A candidate of the exam
    grades it once it has closed; a candidate of another exam that can draw its questions, once their review of
    that exam is allowed (exam.conflicts.review_open)."""
    refused = grading_refusal(grader, exam, now)
    if not refused and not policy.conflict(grader, exam_id=exam.id, grading=True, now=now):
        return None
    found = policy.conflicts(grader, now)
    # The grader's other exams that share its questions: those are named, and waited for.
    others = [
        e
        for e in (found.exams if found else [])
        if e.id != exam.id and conflicts.Conflicts(grader.id, [e], now).covers_exam(exam.id, grading=True)
    ]
    if refused or exam.id in found.exam_ids or not others:
        return Wait(exam.id, [exam], exam.closes_at)
    opens = [conflicts.review_opens_at(e) for e in others]
    return Wait(exam.id, others, None if None in opens else max(opens))


@dataclass
class QueueRow:
    """One exam of a grader's list: their progress, why grading waits (if it does) and the next answer they may
    grade (None while it waits, or once none is left to them)."""

    exam: Exam
    progress: Progress
    wait: Wait | None
    next: Answer | None
    #: The grader's own written answers left to other graders (they sat it).
    own: Progress
    #: Under a marking plan: the answers waiting for the grader's arbitration (None: not an arbitrator there).
    arbitration: int | None = None


def queue(grader, now: datetime) -> list[QueueRow]:
    """The exams with written answers for `grader` to grade, newest first."""
    rows = []
    for exam in db.session.scalars(select(Exam).where(Exam.status != ExamStatus.DRAFT).order_by(Exam.opens_at.desc())):
        done = progress(exam, grader)
        # Under a marking plan, an arbitrator or the chief grader finds the exam here too, marker or not.
        roles = marking.roles_of(grader, exam) if _planned(exam) else set()
        if not done.total and not roles:
            continue
        wait = grading_wait(grader, exam, now)
        nxt = None if wait or done.done else next_to_grade(exam, grader=grader)
        arbitration = None
        if "arbitrator" in roles and not wait:
            arbitration = len(marking.arbitration_queue(exam, grader))
        rows.append(QueueRow(exam, done, wait, nxt, own_sheets(exam, grader), arbitration))
    return rows


def grade_answer(grader, answer: Answer, points, comment: str, now: datetime) -> Attempt:
    """Give a written answer its points (0 to the item's maximum) and a comment. The attempt's total becomes final
    once every item has points; a change of points already given is audited with the old and new values. The
    attempt is locked meanwhile: two graders finishing one sheet at once both count. An exam with a marking plan
    is marked by exam.marking.mark_answer instead (assigned graders, single or double marking)."""
    if _planned(db.session.get(Attempt, answer.attempt_id).exam):
        return marking.mark_answer(grader, answer, points, comment, now)
    attempt = attempts.lock_attempt(db.session.get(Attempt, answer.attempt_id))
    item = answer_item(answer)
    if item.section.qtype not in MANUAL_TYPES or attempt.status == AttemptStatus.IN_PROGRESS:
        raise DomainError(_("This answer is not one to grade by hand."), code="not_manual")
    refusal = grading_refusal(grader, attempt.exam, now)
    if refusal or attempt.user_id == getattr(grader, "id", None):
        raise DomainError(refusal or _("Nobody grades their own answers."), code="not_yours", status=403)
    if attempt.exam.status == ExamStatus.RELEASED:
        raise DomainError(_("The results are released: the points can no longer change."), code="locked")
    scoring.refuse_locked_marks(attempt.exam)
    if isinstance(points, bool) or not isinstance(points, int | float) or not 0 <= points <= float(item.points):
        raise DomainError(_("Points from 0 to %(m)s.", m=f"{float(item.points):g}"), code="bad_points")
    comment = (comment or "").strip()
    if len(comment) > 2000:
        raise DomainError(_("A comment is at most 2,000 characters."), code="bad_comment")
    old = answer.points
    with rescoring("manual_grading"):
        answer.points, answer.comment = round(float(points), 2), comment
        answer.grader_id, answer.graded_at = getattr(grader, "id", None), now
        db.session.flush()
        rescored = scoring.grade(attempt, now)
    # The item's points, and the total with them (old: before this grade; None while not every item had points).
    audit.record("answer.graded", actor=grader, target=f"attempt:{attempt.id}",
                 detail={"position": answer.position, "old": old, "new": answer.points,
                         "score_old": rescored.old_score, "score_new": rescored.new_score}, at=now)  # fmt: skip
    return attempt


# ---------------------------------------------------------------- key corrections


def used_versions(exam: Exam) -> list[tuple[QuestionVersion, str, int]]:
    """(question version, question type, papers using it) of every objective question in the exam's papers."""
    from exam.models import Paper

    rows = db.session.execute(
        select(PaperItem.question_version_id, ExamSection.qtype, func.count())
        .join(Paper, PaperItem.paper_id == Paper.id)
        .join(ExamSection, PaperItem.section_id == ExamSection.id)
        .where(Paper.exam_id == exam.id, ExamSection.qtype.not_in(MANUAL_TYPES))
        .group_by(PaperItem.question_version_id, ExamSection.qtype, ExamSection.position)
        .order_by(ExamSection.position, PaperItem.question_version_id)
    ).all()
    versions = {v.id: v for v in db.session.scalars(select(QuestionVersion).where(
        QuestionVersion.id.in_([vid for vid, _t, _n in rows])))}  # fmt: skip
    return [(versions[vid], qtype, n) for vid, qtype, n in rows]


def key_text(version: QuestionVersion, qtype: str, corrected: dict) -> str:
    """The key in force (`corrected`: scoring.corrected_keys of the exam), as text in the import format ("B",
    "ACD", 正确, "a|b;c")."""
    key = corrected.get(version.id, version.answer)
    return QUESTION_TYPES[qtype].key_to_text(key)


def correct_key(actor, exam: Exam, version: QuestionVersion, text: str, reason: str, now: datetime):
    """Correct a question's key for this exam and regrade every ended attempt; returns regrade's changes. The
    question version itself never changes (a new version in the bank is the author's business)."""
    exam = definition.lock(exam)  # one correction at a time per exam
    qtype = db.session.scalar(
        select(ExamSection.qtype)
        .join(PaperItem, PaperItem.section_id == ExamSection.id)
        .where(ExamSection.exam_id == exam.id, PaperItem.question_version_id == version.id)
        .limit(1)
    )
    if qtype is None or qtype in MANUAL_TYPES:
        raise DomainError(_("That question is not an objective question of this exam."), code="not_in_exam")
    reason = (reason or "").strip()
    if not 0 < len(reason) <= 500:
        raise DomainError(_("Say why the key is corrected (up to 500 characters)."), code="bad_reason")
    try:
        key = QUESTION_TYPES[qtype].key_from_text(text, len(version.options or []), count_blanks(to_text(version.stem)))
    except BadKey as exc:
        raise DomainError(str(exc), code="bad_key") from exc
    row = db.session.scalar(
        select(KeyCorrection).where(KeyCorrection.exam_id == exam.id, KeyCorrection.question_version_id == version.id)
    )
    old = row.answer if row else version.answer
    actor_id = getattr(actor, "id", None)  # read first: loading an expired actor flushes, and a new row is not whole
    if row is None:
        row = KeyCorrection(exam_id=exam.id, question_version_id=version.id)
        db.session.add(row)
    row.answer, row.reason, row.corrected_by_id, row.corrected_at = key, reason, actor_id, now
    db.session.flush()
    audit.record("exam.key_corrected", actor=actor, target=f"exam:{exam.code}",
                 detail={"version": version.id, "old": old, "new": key, "reason": reason}, at=now)  # fmt: skip
    with rescoring("key_correction"):
        changed = scoring.regrade(actor, exam, now)
        for attempt, _old, _new in changed:
            attempt.regraded_at = now
    db.session.flush()
    events.key_corrected.send(exam, actor=actor, now=now, version_id=version.id, changed=len(changed))
    return changed


# Marking by assignment builds on this module (its queue is the written answers above); imported last, as it
# imports this one.
from exam import marking  # noqa: E402
