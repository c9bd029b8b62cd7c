"""An attempt's integrity signals (focus losses, pastes, take-overs), with the automatic submit at the limit."""

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select, update

from core.errors import DomainError
from core.extensions import db
from exam.attempts import check_client, finalize, grace, lock_attempt
from exam.integrity import rescoring
from exam.models import Attempt, AttemptEvent, AttemptStatus, EventKind
from exam.scoring import grade


def record_event(
    attempt: Attempt, kind: str, now: datetime, detail: dict | None = None, client: str | None = None
) -> Attempt:
    """Keep an integrity signal the exam page reports (a focus loss, a paste). At the exam's focus-loss limit the
    attempt is submitted by the server, with the answers saved so far. Signals after the end are ignored."""
    if kind not in (EventKind.FOCUS_LOSS, EventKind.PASTE):
        raise DomainError(_("Unknown kind of event."), code="bad_event")
    attempt = lock_attempt(attempt)
    check_client(attempt, client)
    if attempt.status != AttemptStatus.IN_PROGRESS:
        return attempt
    if now > attempt.deadline_at + grace():
        return finalize(attempt, now)
    db.session.add(AttemptEvent(attempt_id=attempt.id, kind=kind, at=now, detail=detail or None))
    if kind == EventKind.FOCUS_LOSS:
        # Counted in SQL: two reports at once (blur and visibilitychange) both count, even where the row lock
        # above is a no-op (SQLite serialises the UPDATEs instead).
        db.session.execute(
            update(Attempt).where(Attempt.id == attempt.id).values(focus_losses=Attempt.focus_losses + 1)
        )
        db.session.refresh(attempt, ["focus_losses"])
        limit = attempt.exam.focus_loss_limit
        # Never while a proctor holds the clock: the attempt waits for them, whatever the page reports meanwhile.
        if limit and attempt.focus_losses >= limit and attempt.paused_at is None:
            db.session.add(AttemptEvent(attempt_id=attempt.id, kind=EventKind.AUTO_SUBMIT, at=now,
                                        detail={"focus_losses": attempt.focus_losses}))  # fmt: skip
            attempt.status, attempt.ended_at = AttemptStatus.SUBMITTED, now
            with rescoring("finalize"):
                grade(attempt, now)
    db.session.flush()
    return attempt


def attempt_events(attempt: Attempt) -> list[AttemptEvent]:
    return list(
        db.session.scalars(select(AttemptEvent).where(AttemptEvent.attempt_id == attempt.id).order_by(AttemptEvent.id))
    )
