"""The practice endpoints of the JSON API (/api/v1/practice), for the practice pages' phone app to come: what there
is to practise, a session's question, an answer with its feedback at once, and the wrong-answer book. A key or an
explanation leaves only in an answer's feedback, for the question just answered, while it is open to practice."""

from flask import Blueprint, abort, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from core.api import api_route, closed_object
from core.errors import DomainError
from core.extensions import db
from core.models import now_utc
from core.policy import login_required
from exam.models import Exam
from practice import mock, services
from practice.models import Mode, Outcome
from practice.pool import pool_now
from question_bank.models import Bank, Category
from question_bank.types import QUESTION_TYPES

api_bp = Blueprint("practice_api", __name__, url_prefix="/api/v1")


QUESTION_SCHEMA = closed_object(
    {
        "position": {"type": "integer", "description": "0-based, in the session"},
        "question": {"type": "integer"},
        "type": {"type": "string", "enum": list(QUESTION_TYPES)},
        "stem": {"type": "string", "description": "sanitised HTML"},
        "options": {"type": "array", "items": {"type": "string"}},
        "blanks": {"type": "integer"},
    }
)
SESSION_SCHEMA = closed_object(
    {
        "id": {"type": "integer"},
        "mode": {"type": "string", "enum": [m.value for m in Mode]},
        "total": {"type": "integer"},
        "position": {"type": "integer"},
        "right": {"type": "integer"},
        "finished": {"type": "boolean"},
        "question": {**QUESTION_SCHEMA, "nullable": True, "description": "the question to answer now"},
    }
)
FEEDBACK_SCHEMA = closed_object(
    {
        "position": {"type": "integer"},
        "outcome": {"type": "string", "enum": [o.value for o in Outcome]},
        "share": {"type": "number", "nullable": True, "description": "the share of the points it would earn"},
        "correct_answer": {"description": "the key, in the shape of an answer (an essay: its reference answer)"},
        "scoring_points": {"type": "array", "items": {"type": "string"}},
        "explanation": {"type": "string", "description": "sanitised HTML"},
        "wrong_book": {"type": "string", "nullable": True, "enum": ["added", "mastered", None]},
        "session": SESSION_SCHEMA,
    }
)
START_REQUEST = {
    "type": "object",
    "required": ["mode"],
    "properties": {
        "mode": {"type": "string", "enum": [m.value for m in Mode]},
        "bank": {"type": "string", "description": "a bank's code (mode category)"},
        "category": {"type": "integer", "minimum": 1, "description": "a category of that bank (mode category)"},
        "tag": {"type": "string", "description": "a knowledge point (mode tag)"},
        "shuffled": {"type": "boolean"},
    },
}
ANSWER_REQUEST = {
    "type": "object",
    "required": ["value"],
    "properties": {
        "value": {
            "description": "single: option index; multiple: list of them; truefalse: boolean; fill: list of "
            "texts, one per blank; essay: text (to pass a question over, skip it)"
        }
    },
}
CHOICES_SCHEMA = closed_object(
    {
        "banks": {
            "type": "array",
            "items": closed_object(
                {
                    "code": {"type": "string"},
                    "name": {"type": "string"},
                    "subject": {"type": "string"},
                    "count": {"type": "integer"},
                    "categories": {
                        "type": "array",
                        "items": closed_object(
                            {
                                "id": {"type": "integer"},
                                "name": {"type": "string"},
                                "depth": {"type": "integer"},
                                "count": {"type": "integer"},
                            }
                        ),
                    },
                }
            ),
        },
        "tags": {"type": "array", "items": closed_object({"name": {"type": "string"}, "count": {"type": "integer"}})},
        "wrong_book": {"type": "integer", "description": "questions in the wrong-answer book, not yet mastered"},
        "streak": {"type": "integer", "description": "days in a row of 每日一练 done, up to today"},
        "mocks": {
            "type": "array",
            "description": "the formal exams ahead that a mock can be taken of",
            "items": closed_object({"code": {"type": "string"}, "title": {"type": "string"}}),
        },
    }
)
MOCK_ITEM_SCHEMA = closed_object(
    {
        "position": {"type": "integer"},
        "section": {"type": "string"},
        "type": {"type": "string", "enum": list(QUESTION_TYPES)},
        "points": {"type": "number"},
        "open": {"type": "boolean", "description": "false: closed to practice since the start (no text given)"},
        "stem": {"type": "string", "nullable": True},
        "options": {"type": "array", "items": {"type": "string"}},
        "blanks": {"type": "integer"},
    }
)
MOCK_REVIEW_SCHEMA = closed_object(
    {
        "position": {"type": "integer"},
        "outcome": {"type": "string", "enum": [o.value for o in Outcome]},
        "points": {"type": "number", "nullable": True},
        "your_answer": {},
        "correct_answer": {},
        "explanation": {"type": "string"},
    }
)
MOCK_SCHEMA = closed_object(
    {
        "id": {"type": "integer"},
        "exam": {"type": "string", "nullable": True},
        "deadline_at": {"type": "string", "format": "date-time"},
        "seconds_left": {"type": "integer"},
        "finished": {"type": "boolean"},
        "wanted": {"type": "integer", "description": "questions on the formal paper (the mock may have fewer)"},
        "items": {"type": "array", "items": MOCK_ITEM_SCHEMA},
        "score": {"type": "number", "nullable": True},
        "max_score": {"type": "number", "nullable": True},
        "late": {"type": "boolean"},
        "review": {"type": "array", "items": MOCK_REVIEW_SCHEMA, "description": "once handed in"},
    },
    optional=("review",),
)
MASTERY_SCHEMA = {
    "type": "array",
    "items": closed_object({"tag": {"type": "string"}, "answered": {"type": "integer"}, "share": {"type": "number"}}),
}
BOOK_SCHEMA = {
    "type": "array",
    "items": closed_object(
        {
            "tag": {"type": "string", "nullable": True},
            "entries": {
                "type": "array",
                "items": closed_object(
                    {
                        "id": {"type": "integer"},
                        "question": {"type": "integer"},
                        "open": {"type": "boolean", "description": "open to practice now (else no text is given)"},
                        "stem": {"type": "string", "nullable": True},
                        "wrong_count": {"type": "integer"},
                        "right_streak": {"type": "integer"},
                        "mastered": {"type": "boolean"},
                        "starred": {"type": "boolean"},
                    }
                ),
            },
        }
    ),
}


def _session_payload(session, now) -> dict:
    served = services.current(session, now)
    question = None
    if served is not None:
        question = {
            "position": served.position,
            "question": served.question.id,
            "type": served.question.type,
            "stem": served.version.stem,
            "options": list(served.version.options or []),
            "blanks": served.blanks,
        }
    return {
        "id": session.id,
        "mode": session.mode,
        "total": session.total,
        "position": session.position,
        "right": session.right_count,
        "finished": session.done,
        "question": question,
    }


@api_route(api_bp, "/practice", ["GET"], summary="What there is to practise", responses={200: CHOICES_SCHEMA})
@login_required
def choices():
    now = now_utc()
    services.take_exam_mistakes(current_user, now)
    banks, tags = services.choices(now)
    return jsonify(
        banks=[
            {
                "code": c.bank.code,
                "name": c.bank.name,
                "subject": c.bank.subject,
                "count": c.count,
                "categories": [{"id": k.id, "name": k.name, "depth": k.depth, "count": n} for k, n in c.categories],
            }
            for c in banks
        ],
        tags=[{"name": name, "count": n} for name, n in tags],
        wrong_book=services.book_count(current_user),
        streak=services.streak(current_user, now),
        mocks=[{"code": e.code, "title": e.title} for e in mock.exams_to_mock(current_user, now)],
    )


@api_route(
    api_bp,
    "/practice/sessions",
    ["POST"],
    summary="Start a practice session, or resume the unfinished one of the same choice",
    request=START_REQUEST,
    responses={200: SESSION_SCHEMA},
    errors=(404, 409),
)
@login_required
def start():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("mode"), str):
        raise DomainError(_("The request needs a practice mode."), code="bad_request")
    bank = category = None
    if isinstance(body.get("bank"), str):
        bank = db.session.query(Bank).filter_by(code=body["bank"][:32]).one_or_none()
        if bank is None:
            raise DomainError(_("There is no such bank."), code="not_found", status=404)
    if body.get("category") is not None:
        if not isinstance(body["category"], int) or isinstance(body["category"], bool) or body["category"] < 1:
            raise DomainError(_("There is no such chapter."), code="not_found", status=404)
        category = db.session.get(Category, min(body["category"], 2**31 - 1))
        if category is None or (bank is not None and category.bank_id != bank.id):
            raise DomainError(_("There is no such chapter."), code="not_found", status=404)
    tag = body.get("tag") if isinstance(body.get("tag"), str) else None
    now = now_utc()
    session = services.start(
        current_user,
        now,
        mode=body["mode"],
        bank=bank,
        category=category,
        tag=tag,
        shuffled=body.get("shuffled") is True,
    )
    return jsonify(_session_payload(session, now))


@api_route(api_bp, "/practice/sessions/<int:session_id>", ["GET"], summary="A practice session and its question now",
           responses={200: SESSION_SCHEMA})  # fmt: skip
@login_required
def session(session_id: int):
    session = services.own_session(current_user, session_id) or abort(404)
    return jsonify(_session_payload(session, now_utc()))


@api_route(
    api_bp,
    "/practice/sessions/<int:session_id>/answers/<int:position>",
    ["PUT"],
    summary="Answer the question shown now, and get its key and explanation at once",
    request=ANSWER_REQUEST,
    responses={200: FEEDBACK_SCHEMA},
    errors=(409,),
    description="Only the session's current position can be answered (409 wrong_position); a finished session "
    "answers 409 session_finished. The key of no other question is ever given.",
)
@login_required
def answer(session_id: int, position: int):
    session = services.own_session(current_user, session_id) or abort(404)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or body.get("value") is None:
        raise DomainError(_("The request needs a value."), code="bad_request")
    now = now_utc()
    feedback = services.answer(session, position, body["value"], now)
    key = feedback.version.answer
    essay = feedback.question.type == "essay"
    return jsonify(
        position=feedback.position,
        outcome=feedback.outcome,
        share=feedback.share,
        correct_answer=_key_shape(feedback.question.type, key),
        scoring_points=[str(p) for p in key.get("scoring_points", [])] if essay else [],
        explanation=feedback.version.explanation or "",
        wrong_book=feedback.wrong_book,
        session=_session_payload(session, now),
    )


@api_route(api_bp, "/practice/daily", ["POST"], summary="Today's 每日一练 (made at the first call of the day)",
           responses={200: SESSION_SCHEMA}, errors=(409,))  # fmt: skip
@login_required
def daily():
    now = now_utc()
    return jsonify(_session_payload(services.daily(current_user, now), now))


@api_route(api_bp, "/practice/mastery", ["GET"], summary="My mastery by knowledge point, weakest first",
           responses={200: MASTERY_SCHEMA})  # fmt: skip
@login_required
def mastery():
    return jsonify([{"tag": m.tag, "answered": m.answered, "share": round(m.share, 4)}
                    for m in services.mastery(current_user)])  # fmt: skip


def _key_shape(qtype: str, key):
    if qtype == "essay":
        return key.get("reference", "")
    return key[0] if qtype == "single" else key


def _mock_payload(session, now) -> dict:
    paper = mock.items(session, now)
    payload = {
        "id": session.id,
        "exam": session.exam.code if session.exam is not None else None,
        "deadline_at": session.deadline_at.isoformat(),
        "seconds_left": mock.time_left(session, now),
        "finished": session.done,
        "wanted": mock.wanted(session),
        "items": [
            {
                "position": i.position, "section": i.slot.section, "type": i.slot.qtype, "points": i.slot.points,
                "open": i.open, "stem": i.question.current_version.stem if i.open else None,
                "options": list(i.question.current_version.options or []) if i.open else [], "blanks": i.blanks,
            }
            for i in paper
        ],
        "score": session.score,
        "max_score": session.max_score,
        "late": mock.came_late(session),
    }  # fmt: skip
    if session.done:
        answers = {a.position: a for a in services.session_answers(session)}
        payload["review"] = [
            {
                "position": i.position, "outcome": a.outcome,
                "points": None if a.share is None else round(a.share * i.slot.points, 2),
                "your_answer": a.answer, "correct_answer": _key_shape(i.slot.qtype, a.version.answer),
                "explanation": a.version.explanation or "",
            }
            for i in paper
            if i.open and (a := answers.get(i.position)) is not None
        ]  # fmt: skip
    return payload


def _own_mock(session_id: int):
    session = services.own_session(current_user, session_id)
    if session is None or session.mode != Mode.MOCK:
        abort(404)
    return session


@api_route(api_bp, "/practice/mocks", ["POST"], summary="Start a mock of a formal exam ahead, or resume it",
           request={"type": "object", "required": ["exam"], "properties": {"exam": {"type": "string"}}},
           responses={200: MOCK_SCHEMA}, errors=(404, 409))  # fmt: skip
@login_required
def start_mock():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("exam"), str):
        raise DomainError(_("The request needs an exam's code."), code="bad_request")
    exam = db.session.scalar(select(Exam).where(Exam.code == body["exam"][:32]))
    if exam is None:
        raise DomainError(_("There is no mock of this exam for you."), code="not_found", status=404)
    now = now_utc()
    return jsonify(_mock_payload(mock.start(current_user, exam, now), now))


@api_route(api_bp, "/practice/mocks/<int:session_id>", ["GET"], summary="A mock exam: its paper, or its review",
           responses={200: MOCK_SCHEMA})  # fmt: skip
@login_required
def get_mock(session_id: int):
    return jsonify(_mock_payload(_own_mock(session_id), now_utc()))


@api_route(
    api_bp,
    "/practice/mocks/<int:session_id>/submit",
    ["POST"],
    summary="Hand in a mock (harmless twice) and get its review",
    request={
        "type": "object",
        "required": ["answers"],
        "properties": {
            "answers": {
                "type": "object",
                "description": "position (as text) -> the answer, shaped as for a practice answer; missing: none",
            }
        },
    },
    responses={200: MOCK_SCHEMA},
    errors=(409,),
)
@login_required
def submit_mock(session_id: int):
    session = _own_mock(session_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("answers"), dict):
        raise DomainError(_("The request needs the answers."), code="bad_request")
    values = {int(k): v for k, v in body["answers"].items() if isinstance(k, str) and k.isdigit() and len(k) < 6}
    now = now_utc()
    mock.submit(session, values, now)
    return jsonify(_mock_payload(session, now))


@api_route(
    api_bp,
    "/practice/sessions/<int:session_id>/skip",
    ["POST"],
    summary="Pass over the question shown now (counted neither way)",
    responses={200: SESSION_SCHEMA},
)
@login_required
def skip(session_id: int):
    session = services.own_session(current_user, session_id) or abort(404)
    now = now_utc()
    services.skip(session, now)
    return jsonify(_session_payload(session, now))


@api_route(api_bp, "/practice/wrong-book", ["GET"], summary="My wrong-answer book, by knowledge point",
           responses={200: BOOK_SCHEMA})  # fmt: skip
@login_required
def wrong_book():
    services.take_exam_mistakes(current_user, now_utc())
    groups = services.wrong_book(current_user, include_mastered=request.args.get("all") == "1")
    open_ids = pool_now(now_utc()).open_among(e.question_id for g in groups for e in g.entries)
    return jsonify([
        {
            "tag": g.tag,
            "entries": [
                {
                    "id": e.id, "question": e.question_id, "open": e.question_id in open_ids,
                    "stem": e.question.current_version.stem if e.question_id in open_ids else None,
                    "wrong_count": e.wrong_count, "right_streak": e.right_streak,
                    "mastered": e.mastered_at is not None, "starred": e.starred,
                }
                for e in g.entries
            ],
        }
        for g in groups
    ])  # fmt: skip
