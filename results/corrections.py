"""Formal corrections (更正): once an exam's results are final, a mark changes only through a correction that one
district admin requests with a reason and another approves (or rejects) with a note. The record keeps the old and
new values of the item and the total; an approved correction changes the final mark through exam.marking (the
total, ranking, archive, qualification and certificate follow) and publishes a revised notice for the record.

Functions take `now`, flush and never commit."""

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from core import audit
from core.errors import DomainError
from core.extensions import db
from exam import marking
from exam.attempts import lock_attempt
from exam.grading import MANUAL_TYPES, answer_item
from exam.models import Answer, Attempt, Exam
from results import lifecycle, notices
from results.appeal_models import Correction, CorrectionState


def request(actor, exam: Exam, answer: Answer, points, reason: str, now: datetime) -> Correction:
    """Ask for `answer`'s mark to become `points`. Only once the results are final (before, the lifecycle's own
    steps and appeals change marks), with a reason, within the item's range, and one open request per answer."""
    if lifecycle.state(exam, now) != lifecycle.State.FINAL:
        raise DomainError(_("A formal correction is for final results; until then marks change through marking, "
                            "checking and appeals."), code="bad_state")  # fmt: skip
    attempt = db.session.get(Attempt, answer.attempt_id)
    if attempt is None or attempt.exam_id != exam.id:
        raise DomainError(_("This answer is not of this exam."), code="not_found", status=404)
    if attempt.voided_at is not None or not attempt.fully_graded:
        raise DomainError(_("Only a marked result that is not voided can be corrected."), code="not_correctable")
    attempt = lock_attempt(attempt)  # two requests for one answer at once: the second sees the first
    item = answer_item(answer)
    if item.section.qtype not in MANUAL_TYPES:
        raise DomainError(_("An objective item is corrected by correcting its key."), code="objective")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Say why the result is corrected."),
                          problems=[("reason", _("Say why the result is corrected."))], code="no_reason")  # fmt: skip
    if isinstance(points, bool) or not isinstance(points, int | float) or not 0 <= points <= float(item.points):
        message = _("Points from 0 to %(m)s.", m=f"{float(item.points):g}")
        raise DomainError(message, problems=[("points", message)], code="bad_points")
    if points == answer.points:
        raise DomainError(_("The new mark is the mark it has."), code="unchanged")
    pending = db.session.scalar(
        select(Correction.id).where(Correction.answer_id == answer.id, Correction.state == CorrectionState.REQUESTED)
    )
    if pending is not None:
        raise DomainError(_("A correction of this item already waits for a decision."), code="pending")
    correction = Correction(exam_id=exam.id, attempt_id=attempt.id, answer_id=answer.id, old_points=answer.points,
                            new_points=round(float(points), 2), old_score=attempt.score, reason=reason,
                            state=CorrectionState.REQUESTED, requested_by_id=actor.id, requested_at=now)  # fmt: skip
    db.session.add(correction)
    db.session.flush()
    audit.record("results.correction_requested", actor=actor, target=f"attempt:{attempt.id}",
                 detail={"correction": correction.id, "position": answer.position, "old": correction.old_points,
                         "new": correction.new_points, "reason": reason}, at=now)  # fmt: skip
    return correction


def decide(actor, correction: Correction, approve: bool, note: str, now: datetime) -> Correction:
    """Approve or reject a requested correction: by another person than the requester, with a note."""
    # Locked and read afresh: an approval and a rejection at once, or one sent twice, are taken one after the other.
    db.session.scalar(select(Correction).where(Correction.id == correction.id).with_for_update()
                      .execution_options(populate_existing=True))  # fmt: skip
    if correction.state != CorrectionState.REQUESTED:
        raise DomainError(_("This correction is decided."), code="decided")
    if actor.id == correction.requested_by_id:
        raise DomainError(_("A correction is approved by someone other than the person who asked for it."),
                          code="same_person", status=403)  # fmt: skip
    note = (note or "").strip()
    if not note:
        raise DomainError(_("Give a note with the decision."), problems=[("note", _("Give a note with the decision."))],
                          code="no_note")  # fmt: skip
    exam = correction.exam
    if approve:
        if lifecycle.state(exam, now) != lifecycle.State.FINAL:
            raise DomainError(_("The results are no longer final."), code="bad_state")
        marking.set_final_mark(actor, correction.answer, correction.new_points, kind="correction",
                               comment=correction.reason, now=now)  # fmt: skip
        correction.new_score = correction.attempt.score
        notice = notices.publish_correction(actor, exam, _("Formal correction: %(r)s", r=correction.reason), now)
        correction.notice_serial = notice.serial
    correction.state = CorrectionState.APPROVED if approve else CorrectionState.REJECTED
    correction.decided_by_id, correction.decided_at, correction.decision_note = actor.id, now, note
    db.session.flush()
    audit.record("results.correction_decided", actor=actor, target=f"attempt:{correction.attempt_id}",
                 detail={"correction": correction.id, "state": str(correction.state), "old_score": correction.old_score,
                         "new_score": correction.new_score, "note": note}, at=now)  # fmt: skip
    return correction


def exam_corrections(exam: Exam) -> list[Correction]:
    return list(db.session.scalars(
        select(Correction).where(Correction.exam_id == exam.id).order_by(Correction.requested_at.desc())
    ))  # fmt: skip


def final_attempts(exam: Exam) -> list[Attempt]:
    """The attempts a correction may concern: marked and not voided, by candidate name."""
    from accounts.models import User

    return list(db.session.scalars(
        select(Attempt).join(User, Attempt.user_id == User.id)
        .where(Attempt.exam_id == exam.id, Attempt.fully_graded.is_(True), Attempt.voided_at.is_(None))
        .order_by(User.name, Attempt.number)
    ))  # fmt: skip
