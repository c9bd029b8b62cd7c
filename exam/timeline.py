"""An attempt's integrity signals (focus losses, pastes, take-overs), with the automatic submit at the limit."""

from collections.abc import Callable
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select, update

from core.errors import DomainError
from core.extensions import db
from exam.attempts import check_client, finalize, grace, lock_attempt
from exam.integrity import rescoring
from exam.models import Attempt, AttemptEvent, AttemptStatus, EventKind
from exam.scoring import grade

#: Kinds of signal a package above the engine lets the page report (proctoring: full screen, inactivity, camera),
#: each with `rule(attempt, kind, detail, now) -> str | None`: it raises a DomainError for a signal the exam does
#: not watch, may correct `detail` (a copy, kept as the rule leaves it), and returns a reason ("fullscreen",
#: "inactive") when the signal submits the paper.
_reported: dict[str, Callable] = {}
#: `state(attempt) -> dict`: what those packages add to the answer to a reported signal (their counts and limits).
_states: list[Callable] = []


def register_reported_kinds(kinds, rule: Callable, state: Callable | None = None) -> None:
    for kind in kinds:
        _reported[kind] = rule
    if state is not None:
        _states.append(state)


def signal_state(attempt: Attempt) -> dict:
    """The counts and limits the page shows after a signal: the focus losses' and the registered packages'."""
    found = {"status": attempt.status, "focus_losses": attempt.focus_losses,
             "focus_loss_limit": attempt.exam.focus_loss_limit}  # fmt: skip
    for state in _states:
        found.update(state(attempt))
    return found


def _auto_submit(attempt: Attempt, now: datetime, detail: dict) -> None:
    db.session.add(AttemptEvent(attempt_id=attempt.id, kind=EventKind.AUTO_SUBMIT, at=now, detail=detail))
    attempt.status, attempt.ended_at = AttemptStatus.SUBMITTED, now
    with rescoring("finalize"):
        grade(attempt, now)


def record_event(
    attempt: Attempt, kind: str, now: datetime, detail: dict | None = None, client: str | None = None
) -> Attempt:
    """Keep an integrity signal the exam page reports (a focus loss, a paste). At the exam's focus-loss limit the
    attempt is submitted by the server, with the answers saved so far. Signals after the end are ignored."""
    if kind not in (EventKind.FOCUS_LOSS, EventKind.PASTE) and kind not in _reported:
        raise DomainError(_("Unknown kind of event."), code="bad_event")
    attempt = lock_attempt(attempt)
    check_client(attempt, client)
    if attempt.status != AttemptStatus.IN_PROGRESS:
        return attempt
    if now > attempt.deadline_at + grace():
        return finalize(attempt, now)
    if kind in _reported:
        detail = dict(detail or {})  # the rule may correct what the page says (its own copy, kept as corrected)
        reason = _reported[kind](attempt, kind, detail, now)
        db.session.add(AttemptEvent(attempt_id=attempt.id, kind=kind, at=now, detail=detail or None))
        if reason and attempt.paused_at is None:  # never while a proctor holds the clock, as below
            db.session.flush()
            _auto_submit(attempt, now, {"reason": reason})
        db.session.flush()
        return attempt
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
            _auto_submit(attempt, now, {"reason": "focus", "focus_losses": attempt.focus_losses})
    db.session.flush()
    return attempt


def attempt_events(attempt: Attempt) -> list[AttemptEvent]:
    return list(
        db.session.scalars(select(AttemptEvent).where(AttemptEvent.attempt_id == attempt.id).order_by(AttemptEvent.id))
    )
