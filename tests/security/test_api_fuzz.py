"""API fuzzing: schemathesis drives every operation of /api/v1/openapi.json, as a candidate with a valid token, with
valid and invalid data (its examples, coverage and fuzzing phases, positive and negative), and no response may be
a 5xx or break the document: undocumented status codes, bodies that miss their schema, wrong content types.

The document is read from the app itself and every request goes to it in-process (WSGI); the number of examples
is bounded and the run is seeded and derandomized, so CI sees the same cases every time. A failure is reported
per operation with the check that failed (e.g. "ST101 Server error", "ST108 Response violates schema" and the
schema at fault), the response, and a curl command that sends the same request again (its token shown as
[Filtered]: put a token of your own there); the app's own traceback of a 500 is in the captured log. Running the
test again replays the same cases.

Paths name the real exam and the real attempt for about half the generated ids (hooks below), or almost every
call would be a 404; after a submit a new attempt is started, so the operations after it still find one running.
"""

import pytest
import schemathesis

from accounts import system
from accounts.services import create_api_token
from core.api import MAX_PATH_INT
from core.models import now_utc
from core.policy import API_SCOPES, Role
from exam.models import Exam
from practice import services as practice
from proctoring import services as proctoring
from question_bank import services as qb
from tests.factories import make_bank, make_cadre, make_open_exam, make_question, make_unit, make_user

EXAM_CODE = "FZ1"
QTYPES = ("single", "multiple", "truefalse", "fill", "essay")
MAX_EXAMPLES = 40  # per operation and generation mode, in the fuzzing phase


class _Fresh:
    """The app as a WSGI callable whose every request runs in an app context of its own (fresh `g`, fresh
    database session), as in production and as tests.conftest.CSRFClient does: the test holds one open."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        with self.app.app_context():
            return self.app(environ, start_response)


def _config(token: str, operations=None) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": 20261202,
            # Hypothesis' health checks time the generation: on a busy CI machine they would fail a passing run.
            "suppress-health-check": ["all"],
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            "phases": {"stateful": {"enabled": False}},
            "auth": {"openapi": {"bearer": {"bearer": token}}},
            "operations": operations
            or [
                {
                    # Whether an answer fits depends on the question at that position, which no schema can say:
                    # a schema-valid answer may still be refused (400 bad_answer).
                    "include-name": "PUT /api/v1/attempts/{attempt_id}/answers/{position}",
                    "checks": {"positive_data_acceptance": {"expected-statuses": ["2XX", 400, 404, 409]}},
                },
                {
                    # The same for a practice answer: its shape depends on the question shown now.
                    "include-name": "PUT /api/v1/practice/sessions/{session_id}/answers/{position}",
                    "checks": {"positive_data_acceptance": {"expected-statuses": ["2XX", 400, 404, 409]}},
                },
                {
                    # A bank's code or a knowledge point, an exam's code, a mock's answers are free text: a lone
                    # surrogate or a NUL is refused (400).
                    "include-name": "POST /api/v1/practice/sessions",
                    "checks": {"positive_data_acceptance": {"expected-statuses": ["2XX", 400, 404, 409]}},
                },
                {
                    "include-name": "POST /api/v1/practice/mocks",
                    "checks": {"positive_data_acceptance": {"expected-statuses": ["2XX", 400, 404, 409]}},
                },
                {
                    "include-name": "POST /api/v1/practice/mocks/{session_id}/submit",
                    "checks": {"positive_data_acceptance": {"expected-statuses": ["2XX", 400, 404, 409]}},
                },
                {
                    # Whether a base64 string is a JPEG of the right size no schema can say: a schema-valid body
                    # may hold no image at all (400 bad_snapshot).
                    "include-name": "POST /api/v1/attempts/{attempt_id}/snapshots",
                    "checks": {"positive_data_acceptance": {"expected-statuses": ["2XX", 400, 404, 409, 429]}},
                },
                {
                    # Free text in the body (an access code, an event's detail) may hold a lone surrogate, which
                    # JSON's escapes can spell but no Unicode text is: the strict JSON provider refuses it (400).
                    "include-name": "POST /api/v1/exams/{code}/attempts",
                    "checks": {"positive_data_acceptance": {"expected-statuses": ["2XX", 400, 403, 404, 409]}},
                },
            ],
        }
    )


class _Sitting:
    """The candidate's running attempt, started again whenever the fuzzer has submitted it."""

    def __init__(self, app, token, practice_id):
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}
        self.attempt_id = self.start()
        self.practice_id = practice_id

    def start(self) -> int:
        response = self.client.post(f"/api/v1/exams/{EXAM_CODE}/attempts", headers=self.headers, json={})
        assert response.status_code == 200, response.get_data(as_text=True)
        self.attempt_id = response.get_json()["id"]
        return self.attempt_id

    def map_path_parameters(self, context, path_parameters: dict) -> dict:
        """About half the ids that are valid at all (deterministically: by their parity) become the real ones."""
        if not path_parameters:
            return path_parameters
        params = dict(path_parameters)
        attempt_id, position, code = (params.get(k) for k in ("attempt_id", "position", "code"))
        if _valid_int(attempt_id) and attempt_id % 2 == 0:
            params["attempt_id"] = self.attempt_id
        if _valid_int(params.get("session_id")) and params["session_id"] % 2 == 0:
            params["session_id"] = self.practice_id
        if _valid_int(position) and position % 2 == 0:
            params["position"] = position % len(QTYPES) + 1
        if isinstance(code, str) and len(code) % 2 == 0:
            params["code"] = EXAM_CODE
        return params


def _valid_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_PATH_INT


@pytest.fixture
def sitting(app, db):
    """An open exam with every objective type and an essay (attempts enough for every submit the fuzzer makes),
    and its candidate with a valid token and an attempt running; a practice bank (every type, for practice only)
    and a practice session of theirs. Function-scoped, as conftest's `app` is: the one test runs every operation
    (as subtests) against these rows, and conftest empties the tables after it."""
    exam, user = make_open_exam(code=EXAM_CODE, qtypes=QTYPES)
    db.session.get(Exam, exam.id).attempts_allowed = 1000
    # Every signal the page may report is watched, and snapshots are taken (with no limit that would submit).
    proctoring.update_settings(exam, actor=None, now=now_utc(), fullscreen=True, inactivity_minutes=5, snapshots=True)
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    bank = make_bank(code="FZP", actor=admin)
    for qtype in QTYPES:
        qb.set_usage(admin, make_question(bank, qtype, actor=admin, status="active"), "practice", now_utc())
    session = practice.start(user, now_utc(), bank=bank)
    token = create_api_token(user, "fuzz", now_utc())
    db.session.commit()
    return _Sitting(app, token, session.id), token


@pytest.fixture
def api_schema(request, app, sitting):
    # schemathesis 4.32's lazy loader reads and sets `Node._nodeid`, which pytest 9.2 no longer has (it keeps
    # `_id`): give it one, or the test dies with an AttributeError before any case runs.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid
    state, token = sitting
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _Fresh(app), config=_config(token))

    def map_path_parameters(context, path_parameters):  # hooks are named after what they do, and carry attributes
        return state.map_path_parameters(context, path_parameters)

    schema.hook(map_path_parameters)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema").exclude(path_regex="^/api/v1/admin/")  # fuzzed below


@schema.parametrize()
def test_api_fuzz(case, sitting):
    state, _token = sitting
    response = case.call_and_validate()
    if (case.method, response.status_code) == ("POST", 200) and case.path.endswith("/submit"):
        state.start()  # the next cases find an attempt running again


# ---------------------------------------------------------------- the admin API, with a system token

#: Whether a code names a unit, whether an employee number is free, whether a parent would make a cycle: no schema
#: can say, so schema-valid data may be refused (400 unknown_unit, 409 duplicate_number) or be outside the
#: account's scope (403).
_ADMIN_ACCEPTANCE = {"positive_data_acceptance": {"expected-statuses": ["2XX", 400, 403, 404, 409]}}
ADMIN_OPERATIONS = [
    {"include-name": name, "checks": _ADMIN_ACCEPTANCE}
    for name in ("PUT /api/v1/admin/units/{code}", "PUT /api/v1/admin/cadres/{number}", "GET /api/v1/admin/cadres")
]


class _District:
    """A district with a unit, a cadre with an archive and an exam with a result, read and written by a system
    account holding every scope."""

    def __init__(self, db):
        root = make_unit("区委", code="FZU")
        cadre = make_cadre(unit=root, username="FZ100")
        exam, candidate = make_open_exam(code="FZX", qtypes=("single",))
        operator = make_user(roles=(Role.SYSTEM_ADMIN,))
        account = system.create_account(operator, "fz-hr", "", [], now_utc())
        self.token = system.mint_token(operator, account, "fuzz", list(API_SCOPES), now_utc())
        db.session.commit()
        self.names = {"code": ("FZU", "FZX"), "number": ("FZ100", candidate.username, cadre.employee_number)}

    def map_path_parameters(self, context, path_parameters: dict) -> dict:
        """About half the codes and numbers (by their length's parity) become real ones."""
        params = dict(path_parameters or {})
        for key, real in self.names.items():
            value = params.get(key)
            if isinstance(value, str) and len(value) % 2 == 0:
                params[key] = real[len(value) % len(real)]
        if context.operation.path.startswith("/api/v1/admin/exams/") and params.get("code") == "FZU":
            params["code"] = "FZX"
        return params

    def map_query(self, context, query: dict | None) -> dict | None:
        if query and isinstance(query.get("unit"), str) and len(query["unit"]) % 2 == 0:
            query = {**query, "unit": "FZU"}
        return query


@pytest.fixture
def admin_schema(request, app, db):
    if not hasattr(request.node, "_nodeid"):  # as for api_schema
        request.node._nodeid = request.node.nodeid
    district = _District(db)
    config = _config(district.token, ADMIN_OPERATIONS)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _Fresh(app), config=config)

    def map_path_parameters(context, path_parameters):
        return district.map_path_parameters(context, path_parameters)

    def map_query(context, query):
        return district.map_query(context, query)

    schema.hook(map_path_parameters)
    schema.hook(map_query)
    return schema


admin_api = schemathesis.pytest.from_fixture("admin_schema").include(path_regex="^/api/v1/admin/")


@admin_api.parametrize()
def test_admin_api_fuzz(case):
    case.call_and_validate()


#: Bodies schemathesis never sends (it writes standard JSON), each of which was a 500 once: nesting deeper than
#: the parser recurses (a RecursionError), NaN and Infinity (PostgreSQL's json type refuses them), a number that
#: reads as infinity, a list where an object belongs. `{attempt}` is the running attempt's id.
DEEP = "[" * 100_000 + "]" * 100_000
ODD_BODIES = [
    ("PUT", "/api/v1/attempts/{attempt}/answers/1", DEEP),
    ("PUT", "/api/v1/attempts/{attempt}/answers/1", '{"value": NaN, "seq": 1}'),
    ("POST", "/api/v1/attempts/{attempt}/events", '{"kind": "paste", "detail": {"a": NaN}}'),
    ("POST", "/api/v1/attempts/{attempt}/events", '{"kind": "paste", "detail": {"a": -Infinity}}'),
    ("POST", "/api/v1/attempts/{attempt}/events", '{"kind": "paste", "detail": {"a": 1e400}}'),
    ("POST", f"/api/v1/exams/{EXAM_CODE}/attempts", DEEP),
    ("POST", f"/api/v1/exams/{EXAM_CODE}/attempts", "[1]"),
    ("POST", f"/api/v1/exams/{EXAM_CODE}/attempts", "{not json"),
]


@pytest.mark.parametrize(("method", "url", "body"), ODD_BODIES, ids=lambda v: v[:40])
def test_odd_bodies_are_refused_or_ignored_never_a_500(sitting, method, url, body):
    state, _token = sitting
    headers = {**state.headers, "Content-Type": "application/json"}
    response = state.client.open(url.format(attempt=state.attempt_id), method=method, data=body, headers=headers)
    assert response.status_code in (200, 400), (response.status_code, response.get_data(as_text=True)[:300])
    assert response.is_json and (response.status_code == 200 or "error" in response.get_json())
