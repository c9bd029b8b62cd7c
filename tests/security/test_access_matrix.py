"""The whole app's access matrix, from the URL map: every rule of every blueprint is in a matrix with the status
each role and an anonymous user get, so a new route without an entry fails here.

The matrices live with their blueprints' tests (each builds the objects its routes need); this module holds the
API's and the static files', checks that together they cover every URL rule and method, and sends every method of
every rule as an anonymous user and as a plain cadre, who must reach nothing they are not listed for.
"""

import re

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from accounts.services import create_api_token
from core.models import now_utc
from core.policy import Role
from core.web import MIN_YEAR, YearConverter
from exam import answers, attempts
from tests.accounts import test_access as accounts_matrix
from tests.archive import test_access as archive_matrix
from tests.exam import test_grading as grading_matrix
from tests.exam import test_marking_views as marking_matrix
from tests.exam import test_take as take_matrix
from tests.exam import test_views as exam_matrix
from tests.factories import make_open_exam
from tests.integration import test_access as integration_matrix
from tests.jobs import test_access as jobs_matrix
from tests.personnel import test_access as personnel_matrix
from tests.practice import test_access as practice_matrix
from tests.proctoring import test_access as proctoring_matrix
from tests.question_bank import test_views as bank_matrix
from tests.reports import test_access as reports_matrix
from tests.results import test_access as results_matrix
from tests.sitting import test_access as sitting_matrix

ANON = "anonymous"
ROLES = [ANON, *[r.value for r in Role]]
OWNER = "owner"  # the candidate whose attempt it is (a cadre); the test's other users are not candidates

# The candidate API: endpoint -> (method, url template, who gets a success). Everyone else signed in gets 404
# (another's attempt, or an exam they may not sit, is not there for them); anonymous callers get 401.
API_ROUTES = {
    "exam_api.openapi": ("GET", "/api/v1/openapi.json", {ANON, OWNER, *ROLES}),
    "exam_api.my_exams": ("GET", "/api/v1/exams", {OWNER, *ROLES} - {ANON}),
    "exam_api.start": ("POST", "/api/v1/exams/{code}/attempts", {OWNER}),
    "exam_api.attempt": ("GET", "/api/v1/attempts/{attempt}", {OWNER}),
    "exam_api.claim": ("POST", "/api/v1/attempts/{attempt}/claim", {OWNER}),
    "exam_api.save": ("PUT", "/api/v1/attempts/{attempt}/answers/1", {OWNER}),
    "exam_api.event": ("POST", "/api/v1/attempts/{attempt}/events", {OWNER}),
    "exam_api.submit": ("POST", "/api/v1/attempts/{attempt}/submit", {OWNER}),
    "static": ("GET", "/static/css/app.css", {ANON, OWNER, *ROLES}),
}
_BODIES = {"exam_api.save": {"value": 0, "seq": 1}, "exam_api.event": {"kind": "focus_loss"},
           "exam_api.claim": {"client": "matrix-page-1"}, "exam_api.start": {}}  # fmt: skip

MATRICES = {
    "accounts": accounts_matrix.ROUTES,
    "question_bank": bank_matrix.ROUTES,
    "exam": exam_matrix.ROUTES,
    "take": take_matrix.ROUTES,
    "grading": grading_matrix.ROUTES,
    "marking": marking_matrix.ROUTES,
    "archive": archive_matrix.ROUTES,
    "reports": reports_matrix.ROUTES,
    "jobs": jobs_matrix.ROUTES,
    "sitting": sitting_matrix.ROUTES,
    "results": results_matrix.ROUTES,
    "practice": practice_matrix.ROUTES,
    "proctoring": proctoring_matrix.ROUTES,
    "personnel": personnel_matrix.ROUTES,
    "integration": integration_matrix.ROUTES,
    "api": API_ROUTES,
}


def _entries():
    """(matrix, endpoint, method, path) of every entry of every matrix, ids filled with 1."""
    for matrix, routes in MATRICES.items():
        for key, value in routes.items():
            method, template = ("GET", value) if isinstance(value, str) else value[:2]
            path = re.sub(r"\{[^}]+\}", "1", template).split("?")[0]
            yield matrix, key.split("#")[0], method, path


def test_every_url_rule_is_in_a_matrix(app):
    adapter = app.url_map.bind("localhost")
    covered, wrong = set(), []
    for matrix, endpoint, method, path in _entries():
        try:
            rule, _args = adapter.match(path, method=method, return_rule=True)
        except (NotFound, MethodNotAllowed):
            wrong.append((matrix, endpoint, method, path))
            continue
        if rule.endpoint != endpoint:
            wrong.append((matrix, endpoint, "matches", rule.endpoint))
        covered.add(rule.rule)
    assert wrong == []
    missing = sorted(r.rule for r in app.url_map.iter_rules() if r.rule not in covered)
    assert missing == [], "routes in no access matrix: add them to their blueprint's matrix"


def _world(db):
    exam, owner = make_open_exam(code="MX1", qtypes=("single", "essay"))
    attempt = attempts.start_attempt(exam, owner, now_utc())
    db.session.commit()
    return exam, owner, attempt


@pytest.mark.parametrize("who", [ANON, OWNER, *ROLES[1:]])
def test_api_access_matrix(client, auth, db, who):
    exam, owner, attempt = _world(db)
    if who == OWNER:
        auth.login(owner.username)
    elif who != ANON:
        auth.login_as(who)
    csrf = client.csrf_token()
    wrong = []
    for endpoint in sorted(API_ROUTES, key=lambda e: e == "exam_api.submit"):  # submit last: it ends the attempt
        method, template, allowed = API_ROUTES[endpoint]
        url = template.format(code=exam.code, attempt=attempt.id)
        response = client.open(url, method=method, json=_BODIES.get(endpoint), headers={"X-CSRFToken": csrf})
        response.close()
        expected = (200, 201) if who in allowed else (401,) if who == ANON else (404,)
        if response.status_code not in expected:
            wrong.append((endpoint, response.status_code))
    assert wrong == []


def test_a_token_reaches_only_its_owners_attempt(client, db):
    exam, owner, attempt = _world(db)
    stranger = make_open_exam(code="MX2", qtypes=("single",))[1]
    headers = {"Authorization": f"Bearer {create_api_token(stranger, 'x', now_utc())}"}
    db.session.commit()
    for endpoint in ("exam_api.attempt", "exam_api.save", "exam_api.claim", "exam_api.event", "exam_api.submit"):
        method, template, _allowed = API_ROUTES[endpoint]
        url = template.format(code=exam.code, attempt=attempt.id)
        assert client.open(url, method=method, json=_BODIES.get(endpoint), headers=headers).status_code == 404
    assert client.post("/api/v1/exams/MX1/attempts", json={}, headers=headers).status_code == 404


#: Endpoints anybody may reach signed out (the login page, the public certificate check, static files, the API's
#: description); every other method of every rule sends an anonymous user to log in (401 for the API).
PUBLIC = {
    "accounts.login",
    "accounts.set_language",
    "verify.form",
    "verify.check",
    "static",
    "exam_api.openapi",
    "notice_verify.check_serial",
}


def _every_rule_and_method(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            # Ids of 1 and codes of "1"; an any() converter gets its first choice, a year converter a year it takes.
            values = {name: min(getattr(c, "items", None) or ["1"]) for name, c in rule._converters.items()}
            values.update({name: MIN_YEAR for name, c in rule._converters.items() if isinstance(c, YearConverter)})
            yield rule, method, rule.build(values, append_unknown=False)[1]


def test_every_method_of_every_rule_sends_an_anonymous_user_to_log_in(client, app, db):
    csrf, wrong = client.csrf_token(), []
    for rule, method, path in _every_rule_and_method(app):
        if rule.endpoint in PUBLIC:
            continue
        response = client.open(path, method=method, data={"csrf_token": csrf}, headers={"X-CSRFToken": csrf})
        response.close()
        if path.startswith("/api/"):
            ok = response.status_code == 401
        else:
            ok = response.status_code == 302 and "/login" in response.headers["Location"]
        if not ok:
            wrong.append((method, path, response.status_code))
    assert wrong == []


def _cadre_may(endpoint: str) -> bool:
    """Listed for a plain cadre (or for the owner, a cadre) in its blueprint's matrix."""
    if endpoint in PUBLIC:
        return True
    for routes in MATRICES.values():
        for key, value in routes.items():
            # A form page's entry (GET) covers its POST too: the same view, behind the same check.
            if key.split("#")[0] == endpoint and not isinstance(value, str):
                allowed = value[2] if len(value) > 2 else set()
                if "cadre" in allowed or OWNER in allowed:
                    return True
    return False


def test_every_method_of_every_rule_refuses_a_plain_cadre(client, auth, app, db):
    """Every admin page, by every method (a POST to a page listed only for GET too): 403 where the route names
    no object; 403, or 404 where even its existence is not the cadre's business, where it names one (the
    blueprints' matrices send those with real objects)."""
    auth.login_as("cadre")
    csrf, wrong = client.csrf_token(), []
    for rule, method, path in _every_rule_and_method(app):
        if _cadre_may(rule.endpoint):
            continue
        response = client.open(path, method=method, data={"csrf_token": csrf}, headers={"X-CSRFToken": csrf})
        response.close()
        if response.status_code not in ((403, 404) if rule.arguments else (403,)):
            wrong.append((method, path, response.status_code))
    assert wrong == []


# ---------------------------------------------------------------- conflicts of interest (回避)

#: People who sit an exam and hold another role: while the exam runs they reach none of its pool, keys, paper
#: definition, item analysis, or other candidates' answers and results, whatever that role lets them do otherwise.
CANDIDATE_ROLES = ["author", "grader", "org_admin", "unit_admin", "system_admin"]
#: Pages that name the exam or a question of its pool, by blueprint matrix, each filled in with the world's ids.
_CONFLICT_MATRICES = {"exam": exam_matrix.ROUTES, "reports": reports_matrix.ROUTES, "grading": grading_matrix.ROUTES,
                      "marking": marking_matrix.ROUTES}  # fmt: skip
#: Pages that name neither (lists, a year's table, a new exam): the rule leaves them to the roles.
_NOT_THE_EXAMS = {
    "exam.exams",
    "exam.exam_new",
    "exam.import_file",
    "reports.home",
    "reports.year_units",
    "reports.year_units_xlsx",
    "reports.my_history",
    "reports.qualifications",
    "reports.qualifications_xlsx",
    "grading.exams",
    "reports.person_history",
}  # (a history is checked below: it leaves the exam out)


def _conflict_world(db, role):
    """A running exam (single and essay) whose bank belongs to the candidates' unit: another candidate has
    submitted (their result is shown at once), and the person holding `role` is sitting it now."""
    from sqlalchemy import select

    from exam.models import Answer
    from question_bank.models import Bank, Question
    from tests.factories import make_cadre, make_user

    exam, other = make_open_exam(code="CF1", qtypes=("single", "essay"))
    unit = other.cadre.unit
    bank = db.session.get(Bank, exam.sections[0].rules[0].bank_id)
    bank.owner_unit_id = unit.id  # the candidate-author's own unit: their bank rights reach it
    person = make_user(roles=(Role(role), Role.CADRE), unit=unit)
    make_cadre(unit=unit, user=person)
    theirs = attempts.start_attempt(exam, other, now_utc())
    for item in theirs.paper.items:
        answers.save_answer(theirs, item.position, 0 if item.section.qtype == "single" else "他人的论述", 1, now_utc())
    attempts.submit(theirs, now_utc())
    mine = attempts.start_attempt(exam, person, now_utc())
    db.session.commit()
    questions = list(db.session.scalars(select(Question).where(Question.bank_id == bank.id)))
    answer = db.session.scalar(select(Answer).where(Answer.attempt_id == theirs.id).order_by(Answer.position.desc()))
    ids = {"code": exam.code, "exam": exam.code, "fixed": exam.code, "section": exam.sections[0].id,
           "fixed_section": exam.sections[0].id, "rule": exam.sections[0].rules[0].id, "item": 1,
           "attempt": theirs.id, "version": mine.paper.items[0].question_version_id, "answer": answer.id,
           "username": other.username}  # fmt: skip
    return exam, person, other, bank, questions, ids


@pytest.mark.parametrize("role", CANDIDATE_ROLES)
def test_a_candidate_with_another_role_reaches_nothing_of_their_running_exam(client, auth, db, role):
    from tests.factories import SECRET

    exam, person, other, bank, questions, ids = _conflict_world(db, role)
    auth.login(person.username)
    wrong = []

    def reached(method, url):
        response = client.get(url) if method == "GET" else client.post_form(url)
        body = response.get_data(as_text=True) if response.mimetype == "text/html" else ""
        if response.status_code not in (403, 404) or SECRET in body:
            wrong.append((method, url, response.status_code))

    for q in questions:
        for url in (f"/banks/questions/{q.id}", f"/banks/questions/{q.id}/versions/1",
                    f"/banks/questions/{q.id}/edit"):  # fmt: skip
            reached("GET", url)
        reached("POST", f"/banks/questions/{q.id}/retire")
    for fmt in ("xlsx", "gift", "aiken", "csv"):
        reached("GET", f"/banks/{bank.code}/export?format={fmt}")
        reached("GET", f"/banks/{bank.code}/export/check?format={fmt}")
    for routes in _CONFLICT_MATRICES.values():
        for endpoint, value in routes.items():
            if endpoint in _NOT_THE_EXAMS:
                continue
            method, template = ("GET", value) if isinstance(value, str) else value[:2]
            reached(method, template.format(**ids))
    assert wrong == []
    # Pages the role reaches anyway show nothing of the exam's pool or of the other candidate's result.
    for url in (f"/banks/{bank.code}/", f"/banks/{bank.code}/?q=根本", "/banks/review",
                f"/reports/people/{other.username}/history", f"/archive/cadres/{other.username}"):  # fmt: skip
        body = client.get(url).get_data(as_text=True)
        assert "我国的根本政治制度" not in body and SECRET not in body, url
        if "/banks/" not in url:  # (a bank's page names the exam in its notice of what it leaves out)
            assert exam.title not in body, url
    assert db.session.get(type(exam), exam.id).status == "published"  # no POST changed it


@pytest.mark.parametrize("role", ["grader", "system_admin"])
def test_the_same_roles_not_sitting_the_exam_reach_it(client, auth, db, role):
    """The control: without the candidacy the same pages answer (so the test above refuses for the rule)."""
    exam, person, other, bank, questions, ids = _conflict_world(db, "cadre")
    auth.login_as(role)
    assert client.get(f"/banks/questions/{questions[0].id}").status_code == 200
    if role == "system_admin":
        assert client.get(f"/exams/{exam.code}/keys").status_code == 200
        assert client.get(f"/exams/{exam.code}/attempts/{ids['attempt']}").status_code == 200
        assert client.get(f"/reports/exams/{exam.code}/ranking").status_code == 200
        for url in (f"/reports/people/{other.username}/history", f"/archive/cadres/{other.username}"):
            assert exam.title in client.get(url).get_data(as_text=True), url
    else:
        assert "我国的根本政治制度" in client.get(f"/banks/{bank.code}/?q=根本").get_data(as_text=True)
