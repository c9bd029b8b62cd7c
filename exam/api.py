"""The candidate JSON API under /api/v1: my exams, start or resume, save one answer, submit, status and result.

Browser calls use the session cookie and the X-CSRFToken header; scripts use `Authorization: Bearer <token>`.
No response carries a key, a correct flag or an explanation before the result and the review policy allow it.
"""

from flask import Blueprint, abort, current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from core.api import api_route, openapi_document
from core.errors import DomainError
from core.extensions import db
from core.models import now_utc
from core.policy import login_required
from exam import review, services
from exam.models import Attempt, AttemptStatus, Exam, Phase

api_bp = Blueprint("exam_api", __name__, url_prefix="/api/v1")

_TIME = {"type": "string", "format": "date-time"}
EXAM_SCHEMA = {
    "type": "object",
    "properties": {
        "code": {"type": "string"}, "title": {"type": "string"}, "subject": {"type": "string"},
        "phase": {"type": "string", "enum": [p.value for p in Phase]}, "opens_at": _TIME, "closes_at": _TIME,
        "duration_minutes": {"type": "integer"}, "attempts_allowed": {"type": "integer"},
        "attempts_used": {"type": "integer"}, "attempt_in_progress": {"type": "integer", "nullable": True},
        "access_code_required": {"type": "boolean"},
    },
}  # fmt: skip
ITEM_SCHEMA = {
    "type": "object",
    "properties": {
        "position": {"type": "integer"}, "section": {"type": "string"}, "type": {"type": "string"},
        "points": {"type": "number"}, "stem": {"type": "string", "description": "sanitised HTML"},
        "options": {"type": "array", "items": {"type": "string"}}, "blanks": {"type": "integer"},
    },
}  # fmt: skip
ATTEMPT_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"}, "exam": {"type": "string"}, "status": {"type": "string"},
        "started_at": _TIME, "deadline_at": _TIME, "server_time": _TIME,
        "seconds_left": {"type": "integer"}, "instructions": {"type": "string"},
        "focus_losses": {"type": "integer"},
        "focus_loss_limit": {"type": "integer", "nullable": True, "description": "auto-submit at this count"},
        "items": {"type": "array", "items": ITEM_SCHEMA},
        "answers": {"type": "object", "additionalProperties": {
            "type": "object", "properties": {"value": {}, "seq": {"type": "integer"}, "saved_at": _TIME}}},
        "result": {"type": "object", "nullable": True},
    },
}  # fmt: skip
SAVE_REQUEST = {
    "type": "object",
    "required": ["value", "seq"],
    "properties": {
        "value": {"description": "single: shown option index; multiple: list of them; truefalse: boolean; "
                                 "fill: list of texts, one per blank; essay: text; null clears"},
        "seq": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1,
                "description": "the client's sequence number; the highest one wins"},
    },
}  # fmt: skip
EVENT_REQUEST = {
    "type": "object",
    "required": ["kind"],
    "properties": {
        "kind": {"type": "string", "enum": ["focus_loss", "paste"]},
        "detail": {"type": "object", "description": "at most a few short fields, e.g. the question shown"},
    },
}
EVENT_RESPONSE = {
    "type": "object",
    "properties": {"status": {"type": "string"}, "focus_losses": {"type": "integer"},
                   "focus_loss_limit": {"type": "integer", "nullable": True}},
}  # fmt: skip
CLAIM_REQUEST = {
    "type": "object",
    "required": ["client"],
    "properties": {"client": {"type": "string", "description": (
        "the page's own id (8-32 letters, digits, - or _), kept for its tab; send it as X-Exam-Client on writes")}},
}  # fmt: skip
CLAIM_RESPONSE = {"type": "object", "properties": {"took_over": {"type": "boolean"}}}
SAVE_RESPONSE = {
    "type": "object",
    "properties": {"position": {"type": "integer"}, "seq": {"type": "integer"}, "saved_at": _TIME,
                   "accepted": {"type": "boolean", "description": "false: a newer answer was already stored"}},
}  # fmt: skip


def _client() -> str | None:
    """The exam page's id (X-Exam-Client), when a page sends one: writes from a page taken over are refused."""
    return request.headers.get("X-Exam-Client") or None


def _own_attempt(attempt_id: int) -> Attempt:
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or attempt.user_id != current_user.id:
        abort(404)
    return attempt


@api_route(
    api_bp,
    "/exams",
    ["GET"],
    summary="The exams I may sit or have sat",
    responses={200: {"type": "array", "items": EXAM_SCHEMA}},
)
@login_required
def my_exams():
    now = now_utc()
    return jsonify([
        {
            "code": exam.code, "title": exam.title, "subject": exam.subject, "phase": exam.phase(now),
            "opens_at": review.iso(exam.opens_at), "closes_at": review.iso(exam.closes_at),
            "duration_minutes": exam.duration_minutes, "attempts_allowed": exam.attempts_allowed,
            "attempts_used": used, "attempt_in_progress": open_id,
            "access_code_required": exam.access_code_hash is not None,
        }
        for exam, used, open_id in services.exams_for(current_user)
    ])  # fmt: skip


@api_route(
    api_bp, "/exams/<code>/attempts", ["POST"], summary="Start an attempt, or resume the one in progress",
    request={"type": "object", "properties": {"access_code": {"type": "string"}}}, responses={200: ATTEMPT_SCHEMA},
)  # fmt: skip
@login_required
def start(code: str):
    exam = db.session.scalar(select(Exam).where(Exam.code == code)) or abort(404)
    if not services.concerns(exam, current_user):
        abort(404)  # as on the start page: not a candidate, so not told the exam exists
    body = request.get_json(silent=True) or {}
    now = now_utc()
    attempt = services.start_for_request(exam, current_user, now, access_code=body.get("access_code"))
    return jsonify(review.attempt_payload(attempt, now))


@api_route(
    api_bp,
    "/attempts/<int:attempt_id>",
    ["GET"],
    summary="An attempt: the paper while it runs, the result after",
    responses={200: ATTEMPT_SCHEMA},
)
@login_required
def attempt(attempt_id: int):
    attempt = _own_attempt(attempt_id)
    now = now_utc()
    if attempt.status == AttemptStatus.IN_PROGRESS and now > attempt.deadline_at + services.grace():
        services.finalize(attempt, now)  # touched after its time: finalized with what was saved in time
    return jsonify(review.attempt_payload(attempt, now))


@api_route(
    api_bp, "/attempts/<int:attempt_id>/answers/<int:position>", ["PUT"], summary="Save one answer (idempotent)",
    request=SAVE_REQUEST, responses={200: SAVE_RESPONSE},
)  # fmt: skip
@login_required
def save(attempt_id: int, position: int):
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "value" not in body or not isinstance(body.get("seq"), int):
        raise DomainError(_("The request needs a value and a whole-number seq."), code="bad_request")
    # The hot path: the token's lookup (which loads the user) and one statement that checks and writes.
    saved = services.save_answer(
        attempt_id, position, body["value"], body["seq"], now_utc(), client=_client(), user_id=current_user.id
    )
    # The commit happens before the response is sent (core.models): "saved" is never said of an unsaved answer.
    return jsonify(position=position, seq=saved.seq, saved_at=review.iso(saved.saved_at), accepted=saved.accepted)


@api_route(
    api_bp,
    "/attempts/<int:attempt_id>/submit",
    ["POST"],
    summary="Submit the attempt (harmless twice)",
    responses={200: ATTEMPT_SCHEMA},
)
@login_required
def submit(attempt_id: int):
    now = now_utc()
    attempt = services.submit(_own_attempt(attempt_id), now, client=_client())
    return jsonify(review.attempt_payload(attempt, now))


def _event_detail(raw) -> dict | None:
    """What of a reported event's detail is kept: up to five short scalar fields."""
    if not isinstance(raw, dict):
        return None
    kept = {}
    for key, value in list(raw.items())[:5]:
        if isinstance(key, str) and isinstance(value, str | int | float | bool) and len(key) <= 32:
            kept[key] = value[:200] if isinstance(value, str) else value
    return kept or None


@api_route(
    api_bp, "/attempts/<int:attempt_id>/events", ["POST"],
    summary="Report an integrity signal (a focus loss, a paste); at the focus-loss limit the attempt is submitted",
    request=EVENT_REQUEST, responses={200: EVENT_RESPONSE},
)  # fmt: skip
@login_required
def event(attempt_id: int):
    attempt = _own_attempt(attempt_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("kind"), str):
        raise DomainError(_("The request needs the kind of event."), code="bad_request")
    attempt = services.record_event(
        attempt, body["kind"], now_utc(), _event_detail(body.get("detail")), client=_client()
    )
    return jsonify(
        status=attempt.status, focus_losses=attempt.focus_losses, focus_loss_limit=attempt.exam.focus_loss_limit
    )


@api_route(
    api_bp, "/attempts/<int:attempt_id>/claim", ["POST"],
    summary="The exam page that sends this holds the attempt; a page that held it before is taken over",
    request=CLAIM_REQUEST, responses={200: CLAIM_RESPONSE},
)  # fmt: skip
@login_required
def claim(attempt_id: int):
    attempt = _own_attempt(attempt_id)
    body = request.get_json(silent=True)
    return jsonify(took_over=services.claim(attempt, (body or {}).get("client") if isinstance(body, dict) else None,
                                            now_utc()))  # fmt: skip


@api_bp.route("/openapi.json")
def openapi():
    """The OpenAPI document of this API, built from the routes themselves."""
    return jsonify(openapi_document("QualExam candidate API", current_app.config.get("API_VERSION", "1.0")))
