"""An exam's proctoring settings, what the exam page is told of them, and the start's checks (the networks, the
camera). Functions take `now`, flush and never commit, like every service."""

from datetime import datetime

from flask import g, has_request_context, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from core import audit
from core.errors import DomainError
from core.extensions import db
from exam.attempts import register_start_check, register_started
from exam.models import Attempt, AttemptEvent, EventKind, Exam
from proctoring.models import ProctoringSettings
from sitting.services import address_in, parse_networks

#: The settings, in the order the form shows them, with their defaults (an exam without a row has these).
DEFAULTS = {
    "watermark": False, "fullscreen": False, "fullscreen_grace_seconds": 3, "fullscreen_exit_limit": None,
    "inactivity_minutes": None, "inactivity_warning_seconds": 60, "inactivity_submit": False, "snapshots": False,
    "snapshot_minutes": 5, "camera_required": False, "snapshot_retention_days": 90, "networks": "",
}  # fmt: skip
#: What may change once candidates have started: how long snapshots are kept (the rest is what they were told).
SAFE_AFTER_START = frozenset({"snapshot_retention_days"})
BOUNDS = {
    "fullscreen_grace_seconds": (0, 60), "fullscreen_exit_limit": (1, 100), "inactivity_minutes": (1, 240),
    "inactivity_warning_seconds": (10, 600), "snapshot_minutes": (1, 60), "snapshot_retention_days": (1, 3650),
}  # fmt: skip
OPTIONAL = frozenset({"fullscreen_exit_limit", "inactivity_minutes"})


def settings_of(exam: Exam) -> ProctoringSettings:
    """The exam's settings; unsaved defaults (nothing watched) when it has none."""
    return db.session.get(ProctoringSettings, exam.id) or ProctoringSettings(exam_id=exam.id, **DEFAULTS)


def values_of(settings: ProctoringSettings) -> dict:
    return {name: getattr(settings, name) for name in DEFAULTS}


def problems(values: dict) -> list[tuple[str, str]]:
    """(setting, what is wrong) for every value that breaks a rule."""
    found = []
    for name, default in DEFAULTS.items():
        value = values.get(name)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                found.append((name, _("Yes or no.")))
        elif name in BOUNDS:
            low, high = BOUNDS[name]
            if value is None and name in OPTIONAL:
                continue
            if not (isinstance(value, int) and not isinstance(value, bool) and low <= value <= high):
                found.append((name, _("A whole number from %(low)d to %(high)d.", low=low, high=high)))
    try:
        parse_networks(values.get("networks") or "")
    except DomainError as exc:
        found.append(("networks", exc.message))
    if values.get("camera_required") and not values.get("snapshots"):
        found.append(("camera_required", _("The camera can be required only with camera snapshots on.")))
    return found


def update_settings(exam: Exam, *, actor, now: datetime, **values) -> ProctoringSettings:
    """Change the exam's proctoring; audited with the old and new values. Once candidates have started, only the
    snapshots' retention may change: the rest is what they were told on the start page."""
    current = settings_of(exam)
    new = {**values_of(current), **values}
    new["networks"] = " ".join(str(n) for n in parse_networks(new.get("networks") or "")) if not any(
        name == "networks" for name, _m in problems(new)) else new.get("networks")  # fmt: skip
    found = problems(new)
    old = values_of(current)
    changed = {name for name in DEFAULTS if new[name] != old[name]}
    if exam.first_started_at is not None:
        found += [(name, _("Candidates have started: this can no longer change.")) for name in
                  sorted(changed - SAFE_AFTER_START)]  # fmt: skip
    if found:
        raise DomainError(" ".join(m for _n, m in found), code="bad_settings", problems=found)
    if not changed:
        return current
    for name in changed:
        setattr(current, name, new[name])
    if current not in db.session:
        db.session.add(current)
    audit.record("exam.proctoring_changed", actor=actor, target=f"exam:{exam.code}", at=now,
                 detail={name: {"old": old[name], "new": new[name]} for name in sorted(changed)})  # fmt: skip
    db.session.flush()
    return current


def watched(settings: ProctoringSettings) -> bool:
    return any((settings.watermark, settings.fullscreen, settings.inactivity_minutes, settings.snapshots,
                bool(settings.networks)))  # fmt: skip


def count_events(attempt: Attempt, kind: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(AttemptEvent).where(AttemptEvent.attempt_id == attempt.id,
                                                             AttemptEvent.kind == kind)
    )  # fmt: skip


def camera_given(attempt: Attempt) -> bool:
    """Did the candidate consent and the start page get the camera? A refusal at the start is kept as a camera_off
    event marked `start` (record_start); a camera lost later is not a refusal: a reload tries it again."""
    return not any(
        (detail or {}).get("start")
        for detail in db.session.scalars(
            select(AttemptEvent.detail).where(
                AttemptEvent.attempt_id == attempt.id, AttemptEvent.kind == EventKind.CAMERA_OFF
            )
        )
    )


def client_state(attempt: Attempt) -> dict:
    """What the exam page is told of the exam's proctoring (`state.proctoring` of templates/exam/take.html)."""
    settings = settings_of(attempt.exam)
    user = attempt.user
    label = f"{user.name} · {user.username}"  # the username is the employee number (工号)
    return {
        "watermark": {"label": label} if settings.watermark else None,
        "fullscreen": {
            "graceSeconds": settings.fullscreen_grace_seconds,
            "limit": settings.fullscreen_exit_limit,
            "exits": count_events(attempt, EventKind.FULLSCREEN_EXIT),
        } if settings.fullscreen else None,
        "inactivity": {
            "seconds": settings.inactivity_minutes * 60,
            "warningSeconds": settings.inactivity_warning_seconds,
            "submit": settings.inactivity_submit,
        } if settings.inactivity_minutes else None,
        "snapshots": {
            "everySeconds": settings.snapshot_minutes * 60,
            "url": url_for("proctoring_api.snapshot_upload", attempt_id=attempt.id),
            "camera": camera_given(attempt),
        } if settings.snapshots else None,
    }  # fmt: skip


# ---------------------------------------------------------------- the start


def client_address() -> str | None:
    """The candidate's address: the request's, as the trusted proxies (TRUSTED_PROXIES, ProxyFix) report it."""
    return request.remote_addr if has_request_context() else None


def camera_answer() -> tuple[bool, str]:
    """(consented, what the start page's camera test found: granted, refused, unavailable or "") of this start."""
    if not has_request_context():
        return False, ""
    return request.form.get("camera_consent") == "1", (request.form.get("camera") or "")[:16]


def _start_settings(exam_id: int) -> ProctoringSettings | None:
    """The exam's settings for a start: read once per request (the check and the record after the start share it;
    an exam without a row would otherwise be asked again, the identity map keeping no "none")."""
    if not has_request_context():
        return db.session.get(ProctoringSettings, exam_id)
    memo = g.setdefault("proctoring_settings", {})
    if exam_id not in memo:
        memo[exam_id] = db.session.get(ProctoringSettings, exam_id)
    return memo[exam_id]


@register_start_check
def may_start(exam: Exam, user, now: datetime) -> None:
    """The exam's networks, then its camera: a start from elsewhere, or without the camera the exam requires, is
    refused with the reason (outside a request, e.g. a command, neither is asked)."""
    if not has_request_context():
        return
    settings = _start_settings(exam.id)
    if settings is None:
        return
    networks = parse_networks(settings.networks)
    if networks:
        raw = client_address() or ""
        if not address_in(raw, networks):
            raise DomainError(
                _("This exam can be started only from the networks its organisers allow; your address (%(ip)s) is "
                  "not one of them. Start it from a computer of your unit or exam room.", ip=raw or "?"),
                code="wrong_network", status=403,
            )  # fmt: skip
    if settings.snapshots and settings.camera_required and request.method == "POST":
        consented, camera = camera_answer()
        if not consented:
            raise DomainError(_("This exam takes camera snapshots: agree to them to start."), code="camera_consent",
                              status=409)  # fmt: skip
        if camera != "granted":
            raise DomainError(
                _("This exam needs your camera, and this browser did not give it: allow the camera for this site "
                  "and test it again."), code="camera_required", status=409,
            )  # fmt: skip


@register_started
def record_start(attempt: Attempt, now: datetime) -> None:
    """After a start from the page: without consent or a camera (where the exam allowed that), a camera_off event."""
    if not has_request_context():
        return
    settings = _start_settings(attempt.exam_id)
    if settings is None or not settings.snapshots:
        return
    consented, camera = camera_answer()
    if consented and camera == "granted":
        return
    reason = "refused" if not consented or camera == "refused" else "unavailable"
    db.session.add(AttemptEvent(attempt_id=attempt.id, kind=EventKind.CAMERA_OFF, at=now,
                                detail={"reason": reason, "start": True}))  # fmt: skip
    db.session.flush()
