"""The candidate JSON API under /api/v1: my exams, start or resume, save one answer, submit, status and result.

Browser calls use the session cookie and the X-CSRFToken header; scripts use `Authorization: Bearer <token>`.
No response carries a key, a correct flag or an explanation before the result and the review policy allow it.
"""

from flask import Blueprint, abort, current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from core import audit
from core.api import api_route, openapi_document
from core.errors import DomainError
from core.extensions import db
from core.models import now_utc
from core.policy import login_required
from exam import services
from exam.models import Answer, Attempt, AttemptStatus, Exam, Phase, ReviewPolicy
from question_bank.richtext import to_text
from question_bank.types import count_blanks

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
            "type": "object", "properties": {"value": {}, "seq": {"type": "integer"}}}},
        "result": {"type": "object", "nullable": True},
    },
}  # fmt: skip
SAVE_REQUEST = {
    "type": "object",
    "required": ["value", "seq"],
    "properties": {
        "value": {"description": "single: shown option index; multiple: list of them; truefalse: boolean; "
                                 "fill: list of texts, one per blank; essay: text; null clears"},
        "seq": {"type": "integer", "description": "the client's sequence number; the highest one wins"},
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
SAVE_RESPONSE = {
    "type": "object",
    "properties": {"position": {"type": "integer"}, "seq": {"type": "integer"}, "saved_at": _TIME,
                   "accepted": {"type": "boolean", "description": "false: a newer answer was already stored"}},
}  # fmt: skip


def _iso(dt) -> str | None:
    return dt.isoformat() if dt else None


def _own_attempt(attempt_id: int) -> Attempt:
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or attempt.user_id != current_user.id:
        abort(404)
    return attempt


def _shown(item, value):
    """An answer as stored (version option indexes) -> as the candidate's paper shows it."""
    if value is None:
        return None
    order = item.option_order or []
    if item.section.qtype == "single":
        return order.index(value)
    if item.section.qtype == "multiple":
        return sorted(order.index(v) for v in value)
    return value


def attempt_payload(attempt: Attempt, now) -> dict:
    exam = attempt.exam
    payload = {
        "id": attempt.id,
        "exam": exam.code,
        "status": attempt.status,
        "started_at": _iso(attempt.started_at),
        "deadline_at": _iso(attempt.deadline_at),
        "server_time": _iso(now),
        "seconds_left": int(attempt.time_left(now).total_seconds())
        if attempt.status == AttemptStatus.IN_PROGRESS
        else 0,
        "focus_losses": attempt.focus_losses,
        "focus_loss_limit": exam.focus_loss_limit,
        "result": result_payload(attempt, now),
    }
    if attempt.status == AttemptStatus.IN_PROGRESS:
        items = attempt.paper.items
        answers = {a.position: a for a in db.session.scalars(select(Answer).where(Answer.attempt_id == attempt.id))}
        payload["instructions"] = exam.instructions
        payload["items"] = [
            {
                "position": item.position,
                "section": item.section.title,
                "type": item.section.qtype,
                "points": float(item.points),
                "stem": item.version.stem,
                "options": [item.version.options[i] for i in item.option_order],
                "blanks": count_blanks(to_text(item.version.stem)) if item.section.qtype == "fill" else 0,
            }
            for item in items
        ]
        payload["answers"] = {
            str(pos): {"value": _shown(next(i for i in items if i.position == pos), a.value), "seq": a.seq}
            for pos, a in answers.items()
        }
    return payload


def result_payload(attempt: Attempt, now) -> dict | None:
    """The score when the release policy allows; keys and explanations only when the review policy does too, and
    once nobody can still be answering (services.review_visible)."""
    if not services.result_visible(attempt, now):
        return None
    exam = attempt.exam
    result = {
        "score": attempt.score,
        "total": exam.total_points,
        "passed": attempt.passed,
        "fully_graded": attempt.fully_graded,
        "time_used_seconds": int(((attempt.ended_at or now) - attempt.started_at).total_seconds()),
    }
    if exam.review_policy in (ReviewPolicy.ANSWERS, ReviewPolicy.EXPLANATIONS) and services.review_visible(
        attempt, now
    ):
        answers = {a.position: a for a in db.session.scalars(select(Answer).where(Answer.attempt_id == attempt.id))}
        review = []
        for item in attempt.paper.items:
            answer = answers.get(item.position)
            entry = {
                "position": item.position,
                "your_answer": _shown(item, answer.value) if answer else None,
                "points": float(answer.points) if answer and answer.points is not None else None,
                "correct_answer": _shown_key(item),
            }
            if exam.review_policy == ReviewPolicy.EXPLANATIONS:
                entry["explanation"] = item.version.explanation
            review.append(entry)
        result["review"] = review
    return result


def _shown_key(item):
    key = item.version.answer
    if item.section.qtype in ("single", "multiple"):
        shown = sorted(item.option_order.index(i) for i in key)
        return shown[0] if item.section.qtype == "single" else shown
    if item.section.qtype == "essay":
        return key.get("reference", "")
    return key


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
            "opens_at": _iso(exam.opens_at), "closes_at": _iso(exam.closes_at),
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
    body = request.get_json(silent=True) or {}
    now = now_utc()
    try:
        attempt = services.start_attempt(exam, current_user, now, access_code=body.get("access_code"))
    except DomainError as exc:
        if exc.code == "bad_access_code":  # counted in a transaction of its own, so the refusal cannot undo it
            db.session.rollback()
            audit.record("exam.bad_access_code", actor=current_user, target=f"exam:{exam.code}", at=now)
            db.session.commit()
        raise
    return jsonify(attempt_payload(attempt, now))


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
    return jsonify(attempt_payload(attempt, now))


@api_route(
    api_bp, "/attempts/<int:attempt_id>/answers/<int:position>", ["PUT"], summary="Save one answer (idempotent)",
    request=SAVE_REQUEST, responses={200: SAVE_RESPONSE},
)  # fmt: skip
@login_required
def save(attempt_id: int, position: int):
    attempt = _own_attempt(attempt_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "value" not in body or not isinstance(body.get("seq"), int):
        raise DomainError(_("The request needs a value and a whole-number seq."), code="bad_request")
    now = now_utc()
    answer = services.save_answer(attempt, position, body["value"], body["seq"], now)
    # The commit happens before the response is sent (core.models): "saved" is never said of an unsaved answer.
    return jsonify(
        position=position, seq=answer.seq, saved_at=_iso(answer.saved_at), accepted=answer.seq == body["seq"]
    )


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
    attempt = services.submit(_own_attempt(attempt_id), now)
    return jsonify(attempt_payload(attempt, now))


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
    attempt = services.record_event(attempt, body["kind"], now_utc(), _event_detail(body.get("detail")))
    return jsonify(
        status=attempt.status, focus_losses=attempt.focus_losses, focus_loss_limit=attempt.exam.focus_loss_limit
    )


@api_bp.route("/openapi.json")
def openapi():
    """The OpenAPI document of this API, built from the routes themselves."""
    return jsonify(openapi_document("QualExam candidate API", current_app.config.get("API_VERSION", "1.0")))
