"""The signals the exam page reports for the exam's proctoring (full screen, inactivity, the camera), registered
with the engine's timeline (exam.timeline.register_reported_kinds): each is refused where the exam does not watch
it, and the full-screen limit and inactivity (where the exam says so) submit the paper."""

import math
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select

from core.errors import DomainError
from core.extensions import db
from exam.models import Attempt, AttemptEvent, EventKind
from exam.timeline import register_reported_kinds
from proctoring.models import ProctoringSettings
from proctoring.services import count_events


def _settings(attempt: Attempt) -> ProctoringSettings | None:
    return db.session.get(ProctoringSettings, attempt.exam_id)


def _refuse() -> DomainError:
    # A kind the API knows, which this exam does not watch: refused by the exam's settings (409), not the request.
    return DomainError(_("This exam does not watch that."), code="not_watched", status=409)


def rule(attempt: Attempt, kind: str, detail: dict, now: datetime) -> str | None:
    settings = _settings(attempt)
    if settings is None:
        raise _refuse()
    if kind in (EventKind.FULLSCREEN_EXIT, EventKind.FULLSCREEN_BACK):
        if not settings.fullscreen:
            raise _refuse()
        if kind == EventKind.FULLSCREEN_BACK and "seconds" in detail:
            detail["seconds"] = _seconds_out(attempt, settings, detail["seconds"], now)
        limit = settings.fullscreen_exit_limit
        # This exit is added after the rule: the limit is reached at limit - 1 earlier ones.
        if kind == EventKind.FULLSCREEN_EXIT and limit and count_events(attempt, kind) + 1 >= limit:
            return "fullscreen"
        return None
    if kind == EventKind.INACTIVE:
        if not settings.inactivity_minutes:
            raise _refuse()
        return "inactive" if settings.inactivity_submit else None
    if kind == EventKind.CAMERA_OFF:
        if not settings.snapshots:
            raise _refuse()
        # `start` is the server's mark of a refusal at the start (services.record_start), never the page's: sent,
        # it would switch the camera off for the rest of the attempt (services.camera_given) and mislabel it.
        detail.pop("start", None)
        return None
    raise _refuse()


def _seconds_out(attempt: Attempt, settings: ProctoringSettings, said, now: datetime) -> int:
    """The seconds out of full screen the page reports, within what the server saw: from the last exit it recorded
    (reported after the grace) to now, plus the grace. A number out of that range, or no number, is the bound."""
    exit_at = db.session.scalar(
        select(func.max(AttemptEvent.at)).where(AttemptEvent.attempt_id == attempt.id,
                                                AttemptEvent.kind == EventKind.FULLSCREEN_EXIT)
    )  # fmt: skip
    # (Whole seconds up, and one more: the page rounds its own count, and its exit reached the server later.)
    out = math.ceil(max(0.0, (now - (exit_at or attempt.started_at)).total_seconds()))
    bound = out + settings.fullscreen_grace_seconds + 1
    if isinstance(said, int | float) and not isinstance(said, bool) and 0 <= said <= bound:
        return int(said)
    return bound


def state(attempt: Attempt) -> dict:
    settings = _settings(attempt)
    watching = settings is not None and settings.fullscreen
    return {
        "fullscreen_exits": count_events(attempt, EventKind.FULLSCREEN_EXIT) if watching else 0,
        "fullscreen_limit": settings.fullscreen_exit_limit if watching else None,
    }


register_reported_kinds(
    (EventKind.FULLSCREEN_EXIT, EventKind.FULLSCREEN_BACK, EventKind.INACTIVE, EventKind.CAMERA_OFF), rule, state
)
