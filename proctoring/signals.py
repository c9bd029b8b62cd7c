"""The signals the exam page reports for the exam's proctoring (full screen, inactivity, the camera), registered
with the engine's timeline (exam.timeline.register_reported_kinds): each is refused where the exam does not watch
it, and the full-screen limit and inactivity (where the exam says so) submit the paper."""

from datetime import datetime

from flask_babel import gettext as _

from core.errors import DomainError
from core.extensions import db
from exam.models import Attempt, EventKind
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
        return None
    raise _refuse()


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
