"""The access matrix of practice: every page and API route, every role, and the owner of the session and of the
wrong-answer book entry (a cadre). Practice is everyone's own: whoever is signed in practises; another person's
session or book entry is not there for them (404), whatever roles they hold; anonymous callers are sent to log in
(401 from the API)."""

from datetime import timedelta

import pytest

from core.extensions import db as _db
from core.models import now_utc
from core.policy import Role
from exam import publishing
from exam.models import Exam, ExamSection, SectionRule
from practice import mock, services
from practice.models import Mode, Outcome
from question_bank import services as qb
from tests.factories import make_bank, make_cadre, make_question, make_unit, make_user

ANON = "anonymous"
OWNER = "owner"
ROLES = [ANON, OWNER, *[r.value for r in Role]]
SIGNED_IN = set(ROLES) - {ANON}

# endpoint -> (method, url template, who gets a success); written out by hand, not derived from the code.
ROUTES = {
    "practice.home": ("GET", "/practice/", SIGNED_IN),
    "practice.start": ("POST", "/practice/start?mode=category&bank={bank}", SIGNED_IN),
    "practice.session": ("GET", "/practice/sessions/{session}", {OWNER}),
    "practice.answer": ("POST", "/practice/sessions/{session}/answer", {OWNER}),
    "practice.skip": ("POST", "/practice/sessions/{session}/skip", {OWNER}),
    "practice.finish": ("POST", "/practice/sessions/{session}/finish", {OWNER}),
    "practice.wrong_book": ("GET", "/practice/wrong-book", SIGNED_IN),
    "practice.daily": ("POST", "/practice/daily", SIGNED_IN),
    "practice.start_mock": ("POST", "/practice/mocks/{exam}", {OWNER}),  # a candidate of the exam ahead
    "practice.submit_mock": ("POST", "/practice/sessions/{mock}/submit", {OWNER}),
    "practice.star_entry": ("POST", "/practice/wrong-book/{entry}/star", {OWNER}),
    "practice.remove_entry": ("POST", "/practice/wrong-book/{entry}/remove", {OWNER}),
    "practice.claim_hours": ("POST", "/practice/hours", SIGNED_IN),  # nothing on offer: back to the page
    "practice.activity": ("GET", "/practice/activity", {"system_admin", "org_admin", "unit_admin"}),
    "practice_api.choices": ("GET", "/api/v1/practice", SIGNED_IN),
    "practice_api.start": ("POST", "/api/v1/practice/sessions", SIGNED_IN),
    "practice_api.session": ("GET", "/api/v1/practice/sessions/{session}", {OWNER}),
    "practice_api.answer": ("PUT", "/api/v1/practice/sessions/{session}/answers/0", {OWNER}),
    "practice_api.skip": ("POST", "/api/v1/practice/sessions/{session}/skip", {OWNER}),
    "practice_api.wrong_book": ("GET", "/api/v1/practice/wrong-book", SIGNED_IN),
    "practice_api.daily": ("POST", "/api/v1/practice/daily", SIGNED_IN),
    "practice_api.mastery": ("GET", "/api/v1/practice/mastery", SIGNED_IN),
    "practice_api.start_mock": ("POST", "/api/v1/practice/mocks", {OWNER}),
    "practice_api.get_mock": ("GET", "/api/v1/practice/mocks/{mock}", {OWNER}),
    "practice_api.submit_mock": ("POST", "/api/v1/practice/mocks/{mock}/submit", {OWNER}),
}
_BODIES = {"practice_api.start": {"mode": "category"}, "practice_api.answer": {"value": 0},
           "practice_api.submit_mock": {"answers": {}}}  # fmt: skip


def test_every_practice_route_is_in_the_matrix(app):
    endpoints = {
        r.endpoint for r in app.url_map.iter_rules() if r.endpoint.split(".")[0] in ("practice", "practice_api")
    }
    assert endpoints == set(ROUTES)


@pytest.mark.parametrize("who", ROLES)
def test_access_matrix(client, auth, db, who):
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    bank = make_bank(actor=admin)
    for _ in range(3):
        make_question(bank, actor=admin, status="active")
    qb.open_for_practice(admin, bank, True, now_utc())
    unit = make_unit()
    owner = make_cadre(unit=unit).user
    session = services.start(owner, now_utc(), mode=Mode.CATEGORY, bank=bank)
    # A formal exam ahead of the owner's, drawing another bank: a mock of it comes from the opened one.
    other = make_bank(actor=admin)
    make_question(other, actor=admin, status="active")
    exam = Exam(code="MXP", title="模拟", subject=bank.subject, duration_minutes=30, opens_at=now_utc(),
                closes_at=now_utc() + timedelta(days=1), pass_mark=1, eligibility={"unit_ids": [unit.id]})  # fmt: skip
    section = ExamSection(position=1, title="一、单选题", qtype="single", points_per_question=1)
    section.rules.append(SectionRule(bank=other, count=1))
    exam.sections.append(section)
    _db.session.add(exam)
    _db.session.flush()
    publishing.publish(admin, exam, now_utc())
    mocked = mock.start(owner, exam, now_utc())
    services.record_in_book(owner.id, session.question_ids[0], Outcome.WRONG, now_utc(), "practice")
    _db.session.commit()
    entry = services.wrong_book(owner)[0].entries[0]
    if who == OWNER:
        auth.login(owner.username)
    elif who != ANON:
        auth.login_as(who)
    csrf, wrong = client.csrf_token(), []
    _BODIES["practice_api.start"]["bank"] = bank.code
    _BODIES["practice_api.start_mock"] = {"exam": exam.code}
    # The reads first, then the API (its answer takes position 0): a finish ends the session.
    for endpoint in sorted(ROUTES, key=lambda e: (ROUTES[e][0] != "GET", not e.startswith("practice_api"), e)):
        method, template, allowed = ROUTES[endpoint]
        url = template.format(bank=bank.id, session=session.id, entry=entry.id, exam=exam.code, mock=mocked.id)
        if url.startswith("/api/"):
            response = client.open(url, method=method, json=_BODIES.get(endpoint), headers={"X-CSRFToken": csrf})
        else:
            path, _q, query = url.partition("?")
            form = dict(pair.split("=") for pair in query.split("&")) if query else {}
            form.update({"csrf_token": csrf, "position": "0", "q": "0"})
            response = client.open(path, method=method, data=form)
        status, location = response.status_code, response.headers.get("Location", "")
        response.close()
        if who in allowed:
            ok = status == 200 or status == 302 and "/login" not in location
        elif who == ANON:
            ok = status == 401 if url.startswith("/api/") else status == 302 and "/login" in location
        else:  # the units' activity is refused outright; another's session or entry is not there
            ok = status == (403 if endpoint == "practice.activity" else 404)
        if not ok:
            wrong.append((endpoint, status))
    assert wrong == []
