"""The access matrix of practice: every page and API route, every role, and the owner of the session and of the
wrong-answer book entry (a cadre). Practice is everyone's own: whoever is signed in practises; another person's
session or book entry is not there for them (404), whatever roles they hold; anonymous callers are sent to log in
(401 from the API)."""

import pytest

from core.extensions import db as _db
from core.models import now_utc
from core.policy import Role
from practice import services
from practice.models import Mode, Outcome
from question_bank import services as qb
from tests.factories import make_bank, make_cadre, make_question, make_user

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
    "practice.star_entry": ("POST", "/practice/wrong-book/{entry}/star", {OWNER}),
    "practice.remove_entry": ("POST", "/practice/wrong-book/{entry}/remove", {OWNER}),
    "practice_api.choices": ("GET", "/api/v1/practice", SIGNED_IN),
    "practice_api.start": ("POST", "/api/v1/practice/sessions", SIGNED_IN),
    "practice_api.session": ("GET", "/api/v1/practice/sessions/{session}", {OWNER}),
    "practice_api.answer": ("PUT", "/api/v1/practice/sessions/{session}/answers/0", {OWNER}),
    "practice_api.skip": ("POST", "/api/v1/practice/sessions/{session}/skip", {OWNER}),
    "practice_api.wrong_book": ("GET", "/api/v1/practice/wrong-book", SIGNED_IN),
}
_BODIES = {"practice_api.start": {"mode": "category"}, "practice_api.answer": {"value": 0}}


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
    owner = make_cadre().user
    session = services.start(owner, now_utc(), mode=Mode.CATEGORY, bank=bank)
    services.record_in_book(owner.id, session.question_ids[0], Outcome.WRONG, now_utc(), "practice")
    _db.session.commit()
    entry = services.wrong_book(owner)[0].entries[0]
    if who == OWNER:
        auth.login(owner.username)
    elif who != ANON:
        auth.login_as(who)
    csrf, wrong = client.csrf_token(), []
    _BODIES["practice_api.start"]["bank"] = bank.code
    # The reads first, then the API (its answer takes position 0): a finish ends the session.
    for endpoint in sorted(ROUTES, key=lambda e: (ROUTES[e][0] != "GET", not e.startswith("practice_api"), e)):
        method, template, allowed = ROUTES[endpoint]
        url = template.format(bank=bank.id, session=session.id, entry=entry.id)
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
        else:
            ok = status == 404
        if not ok:
            wrong.append((endpoint, status))
    assert wrong == []
