"""The admin API under /api/v1/admin/: what the personnel system needs of QualExam.

Every operation needs a system account's token (accounts.system) with the operation's scope, and passes the same
permission check as the page it mirrors, with the account's roles: a unit-scoped account sees and writes its units'
subtrees only. Writes go through the domains' services, checked and audited as a person's are (the actor is the
system account); ID and phone numbers come masked unless the token has `personal:read`, and every read of them in
full is audited. Bodies are checked against the schemas the OpenAPI document shows (core.api.json_body).
"""

from datetime import UTC, datetime

from flask import Blueprint, abort, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from accounts.models import CadreStatus, Education, Gender, PoliticalStatus, Rank, UnitKind
from core.api import api_route, closed_object, json_body
from core.errors import DomainError
from core.models import MAX_INT, now_utc
from core.policy import refuse_conflict, scope_required, token_scopes
from exam.models import ExamStatus, Phase
from integration import services
from results.models import State

bp = Blueprint("admin_api", __name__, url_prefix="/api/v1")

_DATE = {"type": "string", "format": "date"}
_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TEXT = {"type": "string", "nullable": True}

UNIT_SCHEMA = closed_object({
    "code": {"type": "string"}, "name": {"type": "string"}, "kind": {"type": "string", "enum": list(UnitKind)},
    "parent": {"type": "string", "description": "the parent's code; empty at the top of the tree"},
    "sort_order": {"type": "integer"}, "active": {"type": "boolean"},
})  # fmt: skip
UNIT_REQUEST = {
    "type": "object",
    "required": ["name", "kind"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "kind": {"type": "string", "enum": list(UnitKind)},
        "parent": {"type": "string", "maxLength": 32, "description": "the parent's code; left out or empty: the top"},
        "sort_order": {"type": "integer", "minimum": -MAX_INT, "maximum": MAX_INT},
    },
}
UNIT_WRITTEN = closed_object({"unit": UNIT_SCHEMA, "created": {"type": "boolean"}, "changed": {"type": "boolean"}})

CADRE_SCHEMA = closed_object({
    "employee_number": {"type": "string"}, "name": {"type": "string"},
    "gender": {"type": "string", "enum": list(Gender)}, "birth_date": _DATE,
    "unit": {"type": "string", "description": "the unit's code"}, "unit_name": {"type": "string"},
    "rank": {"type": "string", "enum": list(Rank)}, "position": {"type": "string"},
    "education": {"type": "string", "enum": list(Education)},
    "political_status": {"type": "string", "enum": list(PoliticalStatus)},
    "status": {"type": "string", "enum": list(CadreStatus)}, "active": {"type": "boolean"},
    "phone": {"type": "string", "description": "masked (139****5678) unless numbers_masked is false"},
    "id_number": {"type": "string", "description": "masked (3301**********1234) unless numbers_masked is false; "
                                                   "empty when none is kept"},
    "numbers_masked": {"type": "boolean", "description": "false only for a token with personal:read, on a profile "
                                                         "its account keeps (each such read is audited)"},
    "updated_at": _TIME,
})  # fmt: skip
CADRE_REQUEST = {
    "type": "object",
    "required": ["name", "gender", "birth_date", "unit", "rank", "education", "political_status"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 64},
        "gender": {"type": "string", "enum": list(Gender)},
        "birth_date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "YYYY-MM-DD"},
        "unit": {"type": "string", "minLength": 1, "maxLength": 32, "description": "the unit's code"},
        "rank": {"type": "string", "enum": list(Rank)},
        "position": {"type": "string", "maxLength": 100},
        "education": {"type": "string", "enum": list(Education)},
        "political_status": {"type": "string", "enum": list(PoliticalStatus)},
        "status": {"type": "string", "enum": list(CadreStatus), "description": "left out: kept (new: serving)"},
        "phone": {"type": "string", "maxLength": 20, "description": "left out: kept; empty: removed"},
        "id_number": {"type": "string", "maxLength": 20, "description": "18 characters (15 are widened); left out: "
                                                                        "kept; empty: removed"},
        "active": {"type": "boolean", "description": "may the account log in; left out: kept (new: true)"},
    },
}  # fmt: skip
CADRE_WRITTEN = closed_object({
    "cadre": CADRE_SCHEMA, "created": {"type": "boolean"}, "changed": {"type": "boolean"},
    "initial_password": {"type": "string", "description": "a new account's one-time password, shown this once: the "
                                                          "cadre must change it at the first login"},
}, optional=("initial_password",))  # fmt: skip


def _page_of(items_schema: dict) -> dict:
    return closed_object({"items": {"type": "array", "items": items_schema}, "page": {"type": "integer"},
                          "per_page": {"type": "integer"}, "total": {"type": "integer"}})  # fmt: skip


EXAM_SCHEMA = closed_object({
    "code": {"type": "string"}, "title": {"type": "string"}, "subject": {"type": "string"},
    "status": {"type": "string", "enum": [s.value for s in ExamStatus if s != ExamStatus.DRAFT]},
    "phase": {"type": "string", "enum": [p.value for p in Phase]}, "opens_at": _TIME, "closes_at": _TIME,
    "duration_minutes": {"type": "integer"}, "pass_mark": {"type": "number"},
    "qualification_part": _NULLABLE_TEXT, "qualification_cycle": _NULLABLE_TEXT,
    "official_state": {"type": "string", "nullable": True, "enum": [s.value for s in State],
                       "description": "an official exam's results: marking → marked → checked → approved → notice "
                                      "→ final; null for an exam that is not official"},
})  # fmt: skip
RESULT_FIELDS = {
    "exam": {"type": "string"}, "attempt_number": {"type": "integer"}, "sat_on": _DATE,
    "final": {"type": "boolean", "description": "the result is final: an official exam's once its notice is over, "
                                                "another exam's once every answer is marked"},
    "score": {"type": "number", "nullable": True, "description": "null until final"},
    "total_points": {"type": "number"}, "pass_mark": {"type": "number"},
    "passed": {"type": "boolean", "nullable": True, "description": "null until final"},
    "voided": {"type": "boolean", "description": "voided by a decision on an incident: counts as not passed"},
    "time_used_seconds": {"type": "integer"},
}  # fmt: skip
RESULT_SCHEMA = closed_object(RESULT_FIELDS)
EXAM_RESULT_SCHEMA = closed_object({"employee_number": {"type": "string"}, "name": {"type": "string"},
                                    "unit": {"type": "string", "nullable": True, "description": "at the exam"},
                                    **RESULT_FIELDS})  # fmt: skip
ARCHIVE_SCHEMA = closed_object({
    "employee_number": {"type": "string"}, "education": {"type": "string", "enum": list(Education)},
    "years": {"type": "array", "items": closed_object({
        "year": {"type": "integer"}, "required_hours": {"type": "number"}, "total_hours": {"type": "number"},
        "hours": {"type": "object", "additionalProperties": {"type": "number"}, "description": "by kind of hours"},
        "closed": {"type": "boolean"}, "assessment": _NULLABLE_TEXT,
    })},
    "degrees": {"type": "array", "items": closed_object({"title": {"type": "string"}, "starts_on": _DATE,
                                                         "ends_on": {**_DATE, "nullable": True}})},
    "results": {"type": "array", "items": RESULT_SCHEMA},
})  # fmt: skip
QUALIFICATION_SCHEMA = closed_object({
    "cycle": {"type": "string"}, "code": {"type": "string", "description": "the certificate's verification code"},
    "granted_on": _DATE, "valid_until": _DATE, "revoked": {"type": "boolean"}, "revoke_reason": {"type": "string"},
    "political_exam": _NULLABLE_TEXT, "job_exam": _NULLABLE_TEXT,
})  # fmt: skip

_INT_QUERY = {"type": "integer", "minimum": 1, "maximum": MAX_INT}
PAGE_PARAMETERS = (
    {"name": "page", "in": "query", "required": False, "schema": _INT_QUERY},
    {"name": "per_page", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": services.MAX_PER_PAGE}},
)  # fmt: skip
CADRE_LIST_PARAMETERS = (
    *PAGE_PARAMETERS,
    {"name": "unit", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "a unit's code: its subtree only"},
    {"name": "updated_since", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "profiles changed at or after this time only: ISO 8601 with its offset, e.g. "
                    "2026-12-01T00:00:00+08:00"},
)  # fmt: skip


def _int_arg(name: str, default: int, highest: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= highest:
        raise DomainError(_("%(name)s: a whole number from 1 to %(n)d.", name=name, n=highest), code="bad_request")
    return int(raw)


def _paging() -> tuple[int, int]:
    return _int_arg("page", 1, MAX_INT), _int_arg("per_page", 100, services.MAX_PER_PAGE)


def _numbers_allowed() -> bool:
    return "personal:read" in (token_scopes() or ())


def _cadre_or_404(number: str):
    return services.cadre_by_number(current_user, number) or abort(404)


# ---------------------------------------------------------------- units


@api_route(bp, "/admin/units", ["GET"], summary="The units this account administers, in tree order",
           responses={200: {"type": "array", "items": UNIT_SCHEMA}}, scope="units:read")  # fmt: skip
@scope_required("units:read", "unit.view")
def units():
    return jsonify([services.unit_payload(unit) for unit in services.units(current_user)])


@api_route(
    bp, "/admin/units/<code>", ["PUT"], summary="Create the unit with this code, or change it (idempotent)",
    request=UNIT_REQUEST, responses={200: UNIT_WRITTEN, 201: UNIT_WRITTEN}, errors=(409,), scope="units:write",
    description="201: created; 200: it existed (changed says whether this call changed it). The district's "
                "accounts only. Moving a unit under itself or its own sub-unit is refused (400).",
)  # fmt: skip
@scope_required("units:write", "unit.manage")
def put_unit(code: str):
    body = json_body(UNIT_REQUEST)
    unit, created, changed = services.upsert_unit(current_user, code, body, now_utc())
    return jsonify(unit=services.unit_payload(unit), created=created, changed=changed), 201 if created else 200


# ---------------------------------------------------------------- cadres


def _cadre_filter() -> services.CadreFilter:
    unit, since = None, None
    if request.args.get("unit") is not None:
        unit = services.unit_by_code(request.args["unit"])
        if unit is None or not services.in_units(current_user, unit):
            raise DomainError(_("No unit in your scope has the code %(code)s.", code=request.args["unit"]),
                              code="unknown_unit")  # fmt: skip
    if request.args.get("updated_since") is not None:
        try:
            since = datetime.fromisoformat(request.args["updated_since"])
            since = since.astimezone(UTC) if since.tzinfo is not None else None
        except (ValueError, OverflowError):  # not a time, or one whose offset takes it past year 1 or 9999
            since = None
        if since is None:
            raise DomainError(_("updated_since: a date and time with its offset (ISO 8601)."), code="bad_request")
    return services.CadreFilter(unit=unit, updated_since=since)


@api_route(
    bp, "/admin/cadres", ["GET"], summary="The cadres this account administers, by employee number",
    responses={200: _page_of(CADRE_SCHEMA)}, parameters=CADRE_LIST_PARAMETERS, scope="cadres:read",
)  # fmt: skip
@scope_required("cadres:read", "cadre.view")
def cadres():
    filters = _cadre_filter()
    page, per_page = _paging()
    rows, total = services.page_of(services.cadres_query(current_user, filters), page, per_page)
    items = services.cadre_payloads(current_user, rows, _numbers_allowed(), now_utc())
    return jsonify(items=items, page=page, per_page=per_page, total=total)


@api_route(bp, "/admin/cadres/<number>", ["GET"], summary="One cadre's profile, by employee number",
           responses={200: CADRE_SCHEMA}, scope="cadres:read")  # fmt: skip
@scope_required("cadres:read", "cadre.view")
def cadre(number: str):
    found = _cadre_or_404(number)
    return jsonify(services.cadre_payloads(current_user, [found], _numbers_allowed(), now_utc())[0])


@api_route(
    bp, "/admin/cadres/<number>", ["PUT"], summary="Create the cadre with this employee number, or update the "
    "profile (idempotent)", request=CADRE_REQUEST, responses={200: CADRE_WRITTEN, 201: CADRE_WRITTEN},
    errors=(409,), scope="cadres:write",
    description="201: a new cadre and account, with its one-time password (shown this once); 200: the profile "
                "existed (changed says whether this call changed it). The unit and the profile must lie in this "
                "account's scope. 409: the employee number belongs to an account without a cadre profile, or to a "
                "cadre outside this account's scope. Every change is audited as this account's.",
)  # fmt: skip
@scope_required("cadres:write", "cadre.manage")
def put_cadre(number: str):
    body = json_body(CADRE_REQUEST)
    now = now_utc()
    found, created, changed, password = services.upsert_cadre(current_user, number, body, now)
    payload = {"cadre": services.cadre_payloads(current_user, [found], _numbers_allowed(), now)[0],
               "created": created, "changed": changed}  # fmt: skip
    if password is not None:
        payload["initial_password"] = password
    response = jsonify(payload)
    response.headers["Cache-Control"] = "no-store"
    return response, 201 if created else 200


@api_route(bp, "/admin/cadres/<number>/archive", ["GET"], summary="A cadre's learning archive in figures: hours "
           "by year, assessments, degree education and exam results", responses={200: ARCHIVE_SCHEMA},
           scope="archives:read")  # fmt: skip
@scope_required("archives:read", "archive.view")
def cadre_archive(number: str):
    return jsonify(services.archive_summary(_cadre_or_404(number), now_utc()))


@api_route(bp, "/admin/cadres/<number>/qualifications", ["GET"], summary="A cadre's qualifications (任职资格), "
           "revoked ones included", responses={200: {"type": "array", "items": QUALIFICATION_SCHEMA}},
           scope="archives:read")  # fmt: skip
@scope_required("archives:read", "archive.view")
def cadre_qualifications(number: str):
    return jsonify(services.qualifications_of(_cadre_or_404(number)))


# ---------------------------------------------------------------- exams and results


@api_route(bp, "/admin/exams", ["GET"], summary="The exams published to candidates, newest first",
           responses={200: {"type": "array", "items": EXAM_SCHEMA}}, scope="exams:read")  # fmt: skip
@scope_required("exams:read", "reports.view")
def exams():
    now = now_utc()
    return jsonify([services.exam_payload(exam, now) for exam in services.exams()])


@api_route(
    bp, "/admin/exams/<code>/results", ["GET"], summary="An exam's results, for the candidates this account "
    "administers (by their unit at the exam)", responses={200: _page_of(EXAM_RESULT_SCHEMA)},
    parameters=PAGE_PARAMETERS, scope="results:read",
    description="One row per attempt. The score and the pass are null until the result is final: no provisional "
                "mark leaves QualExam through this API.",
)  # fmt: skip
@scope_required("results:read", "reports.view")
def exam_results(code: str):
    exam = services.exam_by_code(code) or abort(404)
    now = now_utc()
    refuse_conflict(results_of=exam.id, now=now)
    page, per_page = _paging()
    items, total = services.results_page(current_user, exam, now, page, per_page)
    return jsonify(items=items, page=page, per_page=per_page, total=total)
