"""The candidate JSON API under /api/v1: my exams, start or resume, save one answer, submit, status and result.

Browser calls use the session cookie and the X-CSRFToken header; scripts use `Authorization: Bearer <token>`.
No response carries a key, a correct flag or an explanation before the result and the review policy allow it.
"""

import math

from flask import Blueprint, abort, current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from core.api import api_route, closed_object, openapi_document
from core.errors import DomainError
from core.extensions import db
from core.models import now_utc
from core.policy import login_required
from exam import answers, attempts, eligibility, review, timeline
from exam.definition import CODE_PATTERN
from exam.models import Attempt, AttemptStatus, Exam, Phase
from question_bank.types import QUESTION_TYPES

api_bp = Blueprint("exam_api", __name__, url_prefix="/api/v1")

_TIME = {"type": "string", "format": "date-time"}
_MAYBE_TIME = {**_TIME, "nullable": True}
_CLIENT_PATTERN = f"^{attempts.CLIENT_ID.pattern}$"  # an exam page's id, as attempts.claim accepts it


EXAM_SCHEMA = closed_object({
    "code": {"type": "string"}, "title": {"type": "string"}, "subject": {"type": "string"},
    "phase": {"type": "string", "enum": [p.value for p in Phase]}, "opens_at": _TIME, "closes_at": _TIME,
    "duration_minutes": {"type": "integer"}, "attempts_allowed": {"type": "integer"},
    "attempts_used": {"type": "integer"}, "attempt_in_progress": {"type": "integer", "nullable": True},
    "access_code_required": {"type": "boolean"},
})  # fmt: skip
ITEM_SCHEMA = closed_object({
    "position": {"type": "integer"}, "section": {"type": "string"},
    "type": {"type": "string", "enum": list(QUESTION_TYPES)},
    "points": {"type": "number"}, "stem": {"type": "string", "description": "sanitised HTML"},
    "options": {"type": "array", "items": {"type": "string"}}, "blanks": {"type": "integer"},
})  # fmt: skip
REVIEW_SCHEMA = closed_object({
    "position": {"type": "integer"}, "your_answer": {}, "points": {"type": "number", "nullable": True},
    "correct_answer": {}, "explanation": {"type": "string"}, "comment": {"type": "string"},
}, optional=("explanation", "comment"))  # fmt: skip
RESULT_SCHEMA = {
    **closed_object({
        "score": {"type": "number", "nullable": True}, "total": {"type": "number"},
        "passed": {"type": "boolean", "nullable": True}, "fully_graded": {"type": "boolean"},
        "grading": {"type": "boolean", "description": "the submit is recorded and the answers are being graded: "
                                                      "the score follows within seconds (read the attempt again)"},
        "time_used_seconds": {"type": "integer"}, "corrected_at": _MAYBE_TIME,
        "voided": {"type": "boolean", "description": "the score was voided by a decision on an incident"},
        "void_reason": {"type": "string", "nullable": True},
        "review": {"type": "array", "items": REVIEW_SCHEMA,
                   "description": "keys and explanations, once the review policy allows and nobody is still sitting"},
    }, optional=("review",)),
    "nullable": True,
    "description": "null until the release policy shows the score",
}  # fmt: skip
ATTEMPT_SCHEMA = closed_object({
    "id": {"type": "integer"}, "exam": {"type": "string"},
    "status": {"type": "string", "enum": [s.value for s in AttemptStatus]},
    "started_at": _TIME, "deadline_at": _TIME, "server_time": _TIME,
    "seconds_left": {"type": "integer", "description": "frozen while paused"},
    "paused": {"type": "boolean", "description": "a proctor holds the clock: saves and submits are refused with "
                                                 "409 paused until it resumes"},
    "instructions": {"type": "string", "description": "while it runs"},
    "focus_losses": {"type": "integer"},
    "focus_loss_limit": {"type": "integer", "nullable": True, "description": "auto-submit at this count"},
    "items": {"type": "array", "items": ITEM_SCHEMA, "description": "the paper, while it runs"},
    "answers": {"type": "object", "description": "position -> the answer saved, while it runs",
                "additionalProperties": closed_object({"value": {}, "seq": {"type": "integer"},
                                                       "saved_at": _TIME})},
    "result": RESULT_SCHEMA,
}, optional=("instructions", "items", "answers"))  # fmt: skip
SAVE_REQUEST = {
    "type": "object",
    "required": ["value", "seq"],
    "properties": {
        "value": {"description": "single: shown option index; multiple: list of them; truefalse: boolean; "
                                 "fill: list of texts, one per blank; essay: text; null clears"},
        "seq": {"type": "integer", "minimum": 1, "maximum": answers.MAX_SEQ,
                "description": "the client's sequence number; the highest one wins; a new value needs a new number"},
    },
}  # fmt: skip
EVENT_REQUEST = {
    "type": "object",
    "required": ["kind"],
    "properties": {
        "kind": {
            "type": "string",
            "enum": ["focus_loss", "paste", "fullscreen_exit", "fullscreen_back", "inactive", "camera_off"],
            "description": "fullscreen_exit, fullscreen_back, inactive and camera_off only where the exam "
            "watches them (its proctoring settings)",
        },
        "detail": {
            "type": "object",
            "nullable": True,
            "description": "at most a few short fields, e.g. the question shown",
        },
    },
}
EVENT_RESPONSE = closed_object({
    "status": {"type": "string", "enum": [s.value for s in AttemptStatus]}, "focus_losses": {"type": "integer"},
    "focus_loss_limit": {"type": "integer", "nullable": True},
    "fullscreen_exits": {"type": "integer"},
    "fullscreen_limit": {"type": "integer", "nullable": True, "description": "submitted at this count of exits"},
})  # fmt: skip
CLAIM_REQUEST = {
    "type": "object",
    "required": ["client"],
    "properties": {"client": {"type": "string", "pattern": _CLIENT_PATTERN, "description": (
        "the page's own id (8-32 letters, digits, - or _), kept for its tab; send it as X-Exam-Client on writes")}},
}  # fmt: skip
CLAIM_RESPONSE = closed_object({"took_over": {"type": "boolean"}})
SAVE_RESPONSE = closed_object({
    "position": {"type": "integer"}, "seq": {"type": "integer"}, "saved_at": _TIME,
    "accepted": {"type": "boolean", "description": "true: stored, or this very save (same seq, same value) sent "
                                                   "again; false: an answer with a higher seq was already stored"},
})  # fmt: skip


CLIENT_HEADER = {
    "name": "X-Exam-Client", "in": "header", "required": False,
    "schema": {"type": "string", "pattern": _CLIENT_PATTERN},
    "description": "the exam page's id (as sent to /claim); scripts send none",
}  # fmt: skip


def client_of_request() -> str | None:
    """The exam page's id (X-Exam-Client), when a page sends one: writes from a page taken over are refused."""
    client = request.headers.get("X-Exam-Client")
    if client is not None and not attempts.CLIENT_ID.fullmatch(client):  # sent, but no page's id (nor empty)
        raise DomainError(_("The exam page sent no valid page id."), code="bad_client")
    return client


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
        for exam, used, open_id in eligibility.exams_for(current_user)
    ])  # fmt: skip


@api_route(
    api_bp, "/exams/<code>/attempts", ["POST"], summary="Start an attempt, or resume the one in progress",
    request={"type": "object", "properties": {"access_code": {"type": "string"}}}, request_required=False,
    responses={200: ATTEMPT_SCHEMA}, errors=(409, 429),
)  # fmt: skip
@login_required
def start(code: str):
    if not CODE_PATTERN.fullmatch(code):
        abort(404)  # no exam has such a code (and a NUL byte in it would not even reach PostgreSQL)
    exam = db.session.scalar(select(Exam).where(Exam.code == code)) or abort(404)
    if not eligibility.concerns(exam, current_user):
        abort(404)  # as on the start page: not a candidate, so not told the exam exists
    # No body asks for nothing but the start; a body must be a JSON object (not malformed JSON, not a list).
    body = request.get_json(silent=True) if request.get_data(cache=True).strip() else {}
    if not isinstance(body, dict):
        raise DomainError(_("The request body must be a JSON object."), code="bad_request")
    if body.get("access_code") is not None and not isinstance(body["access_code"], str) and not exam.access_code_hash:
        # (Where the exam has a code, any other value is a wrong code: refused and counted as a guess.)
        raise DomainError(_("The access code must be text."), code="bad_request")
    now = now_utc()
    attempt = attempts.start_for_request(exam, current_user, now, access_code=body.get("access_code"))
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
    if attempt.overdue(now, attempts.grace()):
        attempts.finalize(attempt, now)  # touched after its time: finalized with what was saved in time
    attempts.grade_if_kept_waiting(attempt, now)
    return jsonify(review.attempt_payload(attempt, now))


SAVE_RULES = (
    "The answer with the highest seq wins. A lower seq than the stored one is answered 200 with accepted false and "
    "the stored seq. The same seq with the same value (a resend after a lost reply) is answered 200 with accepted "
    "true. The same seq with a different value is refused: 409 with error code seq_reused, and nothing is stored; "
    "send the value again with a higher seq. Other 409 codes: attempt_ended, deadline_passed, taken_over, "
    "save_conflict, paused (keep the answer and send it again once the attempt resumes)."
)


@api_route(
    api_bp, "/attempts/<int:attempt_id>/answers/<int:position>", ["PUT"], summary="Save one answer (idempotent)",
    request=SAVE_REQUEST, responses={200: SAVE_RESPONSE}, errors=(409,), parameters=(CLIENT_HEADER,),
    description=SAVE_RULES,
)  # fmt: skip
@login_required
def save(attempt_id: int, position: int):
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "value" not in body or not isinstance(body.get("seq"), int):
        raise DomainError(_("The request needs a value and a whole-number seq."), code="bad_request")
    # The hot path: the token's lookup (which loads the user) and one statement that checks and writes.
    saved = answers.save_answer(
        attempt_id, position, body["value"], body["seq"], now_utc(), client=client_of_request(), user_id=current_user.id
    )
    # The commit happens before the response is sent (core.models): "saved" is never said of an unsaved answer.
    return jsonify(position=position, seq=saved.seq, saved_at=review.iso(saved.saved_at), accepted=saved.accepted)


@api_route(
    api_bp,
    "/attempts/<int:attempt_id>/submit",
    ["POST"],
    summary="Submit the attempt (harmless twice)",
    responses={200: ATTEMPT_SCHEMA},
    errors=(409,),
    parameters=(CLIENT_HEADER,),
)
@login_required
def submit(attempt_id: int):
    now = now_utc()
    # The end is recorded; the grading is a job's (a deadline burst's submits cost about what a save costs).
    attempt = attempts.submit(_own_attempt(attempt_id), now, client=client_of_request(), grade_later=True)
    return jsonify(review.attempt_payload(attempt, now))


def _event_detail(raw) -> dict | None:
    """What of a reported event's detail is kept: up to five short scalar fields."""
    if not isinstance(raw, dict):
        return None
    kept = {}
    for key, value in list(raw.items())[:5]:
        if isinstance(value, float) and not math.isfinite(value):
            continue  # 1e400 reads as inf, which no JSON (nor PostgreSQL's json type) can hold
        if isinstance(key, str) and isinstance(value, str | int | float | bool) and len(key) <= 32:
            kept[key] = value[:200] if isinstance(value, str) else value
    return kept or None


@api_route(
    api_bp, "/attempts/<int:attempt_id>/events", ["POST"],
    summary="Report an integrity signal (a focus loss, a paste, a full-screen exit, inactivity, the camera off); at "
            "the exam's limits the attempt is submitted",
    request=EVENT_REQUEST, responses={200: EVENT_RESPONSE}, errors=(409,), parameters=(CLIENT_HEADER,),
)  # fmt: skip
@login_required
def event(attempt_id: int):
    attempt = _own_attempt(attempt_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("kind"), str):
        raise DomainError(_("The request needs the kind of event."), code="bad_request")
    if not isinstance(body.get("detail"), dict | None):
        raise DomainError(_("The event's detail must be a JSON object."), code="bad_request")
    attempt = timeline.record_event(
        attempt, body["kind"], now_utc(), _event_detail(body.get("detail")), client=client_of_request()
    )
    return jsonify(timeline.signal_state(attempt))


@api_route(
    api_bp, "/attempts/<int:attempt_id>/claim", ["POST"],
    summary="The exam page that sends this holds the attempt; a page that held it before is taken over",
    request=CLAIM_REQUEST, responses={200: CLAIM_RESPONSE},
)  # fmt: skip
@login_required
def claim(attempt_id: int):
    attempt = _own_attempt(attempt_id)
    body = request.get_json(silent=True)
    return jsonify(took_over=attempts.claim(attempt, (body or {}).get("client") if isinstance(body, dict) else None,
                                            now_utc()))  # fmt: skip


@api_bp.route("/openapi.json")
def openapi():
    """The OpenAPI document of this API, built from the routes themselves."""
    return jsonify(openapi_document("QualExam API", current_app.config.get("API_VERSION", "1.0")))
