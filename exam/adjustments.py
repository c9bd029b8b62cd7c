"""A proctor's changes to one attempt: more time, the clock held and resumed, a submit by the proctor, the page's
hold released, an attempt ended by mistake reopened, and a score voided (or restored) by a decision on an incident.

The engine knows nothing of sittings: these are plain functions on an attempt that whoever may call them (the
sitting's console, a command) calls with the actor and a reason. Each takes `now`, flushes without committing,
locks the attempt's row first (a save or a submit lands wholly before or after it), records an event on the attempt
(its timeline, the sitting record) and an audit event with what changed."""

from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core import audit, guards
from core.errors import DomainError
from core.extensions import db
from core.i18n import localtime
from exam.attempts import grace, in_progress, lock_attempt, submit
from exam.integrity import rescoring
from exam.models import Attempt, AttemptEvent, AttemptStatus, EventKind

#: The most time one extension (or a reopening) may give, in minutes.
MAX_EXTENSION_MINUTES = 240


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Give a reason."), code="reason_required")
    if len(reason) > 500:
        raise DomainError(_("The reason is too long (500 characters at most)."), code="reason_too_long")
    return reason


def _minutes(minutes) -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_EXTENSION_MINUTES:
        raise DomainError(
            _("Give the minutes as a whole number from 1 to %(max)d.", max=MAX_EXTENSION_MINUTES), code="bad_minutes"
        )
    return minutes


def _running(attempt: Attempt, now: datetime) -> Attempt:
    attempt = lock_attempt(attempt)
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise DomainError(_("This attempt has ended."), code="attempt_ended", status=409)
    if attempt.paused_at is None and now > attempt.deadline_at + grace():
        raise DomainError(_("This attempt's time is up; it is being finalized."), code="deadline_passed", status=409)
    return attempt


def _until_close(attempt: Attempt, deadline: datetime) -> datetime:
    """A proctor's change never moves a deadline past the exam's close: the keys, the review and the end of the
    conflicts of interest open at the close, so nobody may still be answering then. Beyond it, the district moves
    the exam's close (exam settings), which carries the attempts it had cut short."""
    return min(deadline, attempt.exam.closes_at)


def _refuse_at_close(attempt: Attempt) -> None:
    raise DomainError(
        _("The exam closes at %(time)s: no attempt may run past it. Ask the district to move the exam's close.",
          time=localtime(attempt.exam.closes_at)), code="exam_closes", status=409)  # fmt: skip


def _log(attempt: Attempt, kind: EventKind, actor, reason: str, now: datetime, **detail) -> None:
    detail = {"by": getattr(actor, "id", None), "reason": reason, **detail}
    db.session.add(AttemptEvent(attempt_id=attempt.id, kind=kind, at=now, detail=detail))
    audit.record(f"attempt.{kind.value}", actor=actor, target=f"attempt:{attempt.id}", detail=detail, at=now)


def extend(attempt: Attempt, minutes: int, actor, reason: str, now: datetime) -> Attempt:
    """Give an attempt in progress `minutes` more (a technical failure): its deadline moves on, never past the
    exam's close (cut short there; refused when already there); the exam page learns it at its next contact."""
    minutes, reason = _minutes(minutes), _reason(reason)
    attempt = _running(attempt, now)
    old = attempt.deadline_at
    new = _until_close(attempt, old + timedelta(minutes=minutes))
    if new <= old:
        _refuse_at_close(attempt)
    attempt.deadline_at = new
    minutes = int((new - old).total_seconds() // 60) or minutes  # what was given, when the close cut it short
    _log(
        attempt,
        EventKind.EXTENDED,
        actor,
        reason,
        now,
        minutes=minutes,
        old_deadline=old.isoformat(),
        new_deadline=attempt.deadline_at.isoformat(),
    )
    db.session.flush()
    return attempt


def pause(attempt: Attempt, actor, reason: str, now: datetime) -> Attempt:
    """Hold an attempt's clock: until it is resumed, its saves are refused (the page keeps them and sends them
    after), its page shows it paused, and it is never finalized."""
    reason = _reason(reason)
    attempt = _running(attempt, now)
    if attempt.paused_at is not None:
        raise DomainError(_("This attempt's clock is already paused."), code="already_paused", status=409)
    attempt.paused_at = now
    _log(attempt, EventKind.PAUSED, actor, reason, now, time_left=int(attempt.time_left(now).total_seconds()))
    db.session.flush()
    return attempt


def resume(attempt: Attempt, actor, reason: str, now: datetime) -> Attempt:
    """Run a paused attempt's clock again: the deadline moves on by the time it was held."""
    reason = (reason or "").strip()[:500]
    attempt = lock_attempt(attempt)
    if attempt.status != AttemptStatus.IN_PROGRESS or attempt.paused_at is None:
        raise DomainError(_("This attempt's clock is not paused."), code="not_paused", status=409)
    held = now - attempt.paused_at
    old = attempt.deadline_at
    attempt.deadline_at, attempt.paused_at = _until_close(attempt, old + held), None
    _log(
        attempt,
        EventKind.RESUMED,
        actor,
        reason,
        now,
        paused_seconds=int(held.total_seconds()),
        new_deadline=attempt.deadline_at.isoformat(),
    )
    db.session.flush()
    return attempt


def force_submit(attempt: Attempt, actor, reason: str, now: datetime) -> Attempt:
    """Submit an attempt in progress for the candidate (graded as a submit; a paused clock is released first)."""
    reason = _reason(reason)
    attempt = lock_attempt(attempt)
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise DomainError(_("This attempt has ended."), code="attempt_ended", status=409)
    attempt.paused_at = None
    _log(attempt, EventKind.FORCED, actor, reason, now)
    return submit(attempt, now)


def release(attempt: Attempt, actor, reason: str, now: datetime) -> Attempt:
    """Release the page holding an attempt: the next page to open it (another computer) holds it without a
    take-over being counted against the candidate."""
    reason = _reason(reason)
    attempt = _running(attempt, now)
    attempt.client_id = None
    _log(attempt, EventKind.RELEASED, actor, reason, now)
    db.session.flush()
    return attempt


def reopen(attempt: Attempt, minutes: int, actor, reason: str, now: datetime) -> Attempt:
    """Open again an attempt that ended by mistake (a wrong click, a machine that submitted on its own), with
    `minutes` to go. Its answers are kept and it is graded again when it ends; its score is withdrawn meanwhile.
    The one documented path by which a finalized attempt changes its status (the database checks the count)."""
    from exam.visibility import result_visible  # visibility builds on the attempts: imported on use

    minutes, reason = _minutes(minutes), _reason(reason)
    attempt = lock_attempt(attempt)
    if attempt.status == AttemptStatus.IN_PROGRESS:
        raise DomainError(_("This attempt is still in progress."), code="attempt_running", status=409)
    if attempt.reopened:
        raise DomainError(_("This attempt was reopened once already; it cannot be reopened again."),
                          code="reopened_before", status=409)  # fmt: skip
    if result_visible(attempt, now):
        # The candidate may have seen the score: answering again would turn it into a way to find the keys.
        raise DomainError(_("The candidate's score is already shown to them: the attempt cannot be reopened."),
                          code="result_shown", status=409)  # fmt: skip
    if now + timedelta(minutes=1) >= attempt.exam.closes_at:
        _refuse_at_close(attempt)
    later = select(Attempt.id).where(
        Attempt.exam_id == attempt.exam_id, Attempt.user_id == attempt.user_id, Attempt.number > attempt.number
    )
    if db.session.execute(later.limit(1)).first() is not None:
        raise DomainError(_("The candidate has a later attempt: only the latest can be reopened."),
                          code="not_latest", status=409)  # fmt: skip
    if in_progress(attempt.exam, attempt.user) is not None:
        raise DomainError(_("The candidate has another attempt in progress."), code="attempt_running", status=409)
    old = {
        "status": attempt.status,
        "ended_at": attempt.ended_at.isoformat() if attempt.ended_at else None,
        "score": attempt.score,
    }
    try:
        with guards.allowing("reopen"), rescoring("reopen"), db.session.begin_nested():
            attempt.reopened += 1
            attempt.status, attempt.ended_at = AttemptStatus.IN_PROGRESS, None
            attempt.deadline_at = _until_close(attempt, now + timedelta(minutes=minutes))
            attempt.paused_at, attempt.client_id = None, None
            attempt.score, attempt.fully_graded, attempt.passed = None, False, None
            db.session.flush()
    except IntegrityError:
        raise DomainError(
            _("The candidate has another attempt in progress."), code="attempt_running", status=409
        ) from None
    _log(attempt, EventKind.REOPENED, actor, reason, now, minutes=minutes, old=old)
    db.session.flush()
    return attempt


def void(attempt: Attempt, actor, reason: str, now: datetime) -> Attempt:
    """Void an attempt's score by a decision on an incident: kept as graded, counted for nothing. Listeners of
    `attempt_finalized` (the archive) record it again."""
    from core.events import attempt_finalized

    reason = _reason(reason)
    attempt = lock_attempt(attempt)
    if attempt.voided_at is not None:
        return attempt
    with guards.allowing("void"):
        attempt.voided_at, attempt.void_reason = now, reason
        db.session.flush()
    _log(attempt, EventKind.VOIDED, actor, reason, now)
    db.session.flush()
    if attempt.status != AttemptStatus.IN_PROGRESS:
        attempt_finalized.send(attempt, now=now)
    return attempt


def restore(attempt: Attempt, actor, reason: str, now: datetime) -> Attempt:
    """Undo a voiding (a later decision): the score counts again."""
    from core.events import attempt_finalized

    reason = _reason(reason)
    attempt = lock_attempt(attempt)
    if attempt.voided_at is None:
        return attempt
    with guards.allowing("void"):
        attempt.voided_at, attempt.void_reason = None, None
        db.session.flush()
    _log(attempt, EventKind.RESTORED, actor, reason, now)
    db.session.flush()
    if attempt.status != AttemptStatus.IN_PROGRESS:
        attempt_finalized.send(attempt, now=now)
    return attempt
