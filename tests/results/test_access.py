"""The access matrix of the lifecycle's pages: every route, every role, and the candidate (a cadre who sat the
exam), on one world: an official exam in public notice (scope: the candidates) and a kept calendar day.

ROUTES: endpoint (a `#suffix` tells two rows of one endpoint apart) -> (method, url template, who gets a success).
Everyone else signed in gets 403 or 404; anonymous callers are sent to log in (the verification page is public)."""

from datetime import date

import pytest

from core.extensions import db as _db
from core.models import now_utc
from core.policy import Role
from results import appeals, calendar, lifecycle, notices
from results.appeal_models import Correction
from tests.results.world import district_admin, essay, official_exam

ANON = "anonymous"
OWNER = "owner"  # a candidate of the exam (a cadre)
ROLES = [ANON, *[r.value for r in Role], OWNER]
DISTRICT = {"system_admin", "org_admin"}
EVERYONE = set(ROLES)

ROUTES: dict[str, tuple] = {
    "results.index": ("GET", "/results/", DISTRICT),
    "results.exam": ("GET", "/results/exams/{exam}", DISTRICT),
    "results.register": ("POST", "/results/exams/{exam}/register", DISTRICT),
    "results.check": ("POST", "/results/exams/{exam}/check", DISTRICT),
    "results.approve": ("POST", "/results/exams/{exam}/approve", DISTRICT),
    "results.send_back": ("POST", "/results/exams/{exam}/send-back", DISTRICT),
    "results.publish": ("POST", "/results/exams/{exam}/publish", DISTRICT),
    "results.notice": ("GET", "/results/notices/{serial}", DISTRICT | {OWNER}),
    "results.notice_pdf": ("GET", "/results/notices/{serial}.pdf", DISTRICT | {OWNER}),
    "results.calendar_days": ("GET", "/results/calendar", DISTRICT),
    "results.calendar_days#post": ("POST", "/results/calendar", DISTRICT),
    "results.calendar_remove": ("POST", "/results/calendar/{day}/remove", DISTRICT),
    "notice_verify.check_serial": ("GET", "/verify/notice/{serial}", EVERYONE),
    # Appeals: the candidate's own page; reviewers' queue; an item for the district (and its reviewer, none here:
    # no grader existed when it was filed); a decision only by the item's reviewer.
    "results.appeal": ("GET", "/results/exams/{exam}/appeal", {OWNER}),
    "results.appeal#post": ("POST", "/results/exams/{exam}/appeal", {OWNER}),
    "results.appeal_queue": ("GET", "/results/appeals/", DISTRICT | {"grader"}),
    "results.appeal_item": ("GET", "/results/appeals/{item}", DISTRICT),
    "results.appeal_item#post": ("POST", "/results/appeals/{item}", set()),
    "results.appeal_assign": ("POST", "/results/appeals/{item}/assign", DISTRICT),
    "results.correction_request": ("POST", "/results/exams/{exam}/corrections", DISTRICT),
    "results.correction_decide": ("POST", "/results/corrections/{correction}/decide", DISTRICT),
}


def world():
    exam, people, attempts, registrar = official_exam(_db, code="RX1")
    now = now_utc()
    lifecycle.check(district_admin(), exam, "", now)
    lifecycle.approve(district_admin(), exam, "", now)
    notice = notices.publish(registrar, exam, now, days=5, scope="candidates")
    day = calendar.add_day(registrar, date(2030, 10, 1), "holiday", "国庆节", now)
    written = essay(_db, attempts[0])
    appeal = appeals.file(people[0], exam, {written.position: ""}, "评分偏低", now)
    correction = Correction(exam_id=exam.id, attempt_id=attempts[0].id, answer_id=written.id, old_points=2,
                            new_points=3, reason="复核发现漏计", state="requested", requested_by_id=registrar.id,
                            requested_at=now)  # fmt: skip
    _db.session.add(correction)
    _db.session.commit()
    ids = {"exam": exam.code, "serial": notice.serial, "day": day.id, "item": appeal.items[0].id,
           "correction": correction.id}  # fmt: skip
    return ids, people[0]


def test_every_results_route_is_in_the_matrix(app):
    blueprints = ("results", "notice_verify")
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.split(".")[0] in blueprints}
    assert endpoints == {key.split("#")[0] for key in ROUTES}


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(client, auth, db, role):
    ids, candidate = world()
    if role == OWNER:
        auth.login(candidate.username)
    elif role != ANON:
        auth.login_as(role)
    wrong = []
    for route in sorted(ROUTES, key=lambda r: (ROUTES[r][0] == "POST", r)):
        method, template, allowed = ROUTES[route]
        url = template.format(**ids)
        response = client.get(url) if method == "GET" else client.post_form(url)
        status, location = response.status_code, response.headers.get("Location", "")
        response.close()
        if role in allowed:
            ok = status in (200, 400) if method == "POST" else status == 200
            ok = ok or status == 302 and "/login" not in location
        elif role == ANON:
            ok = status == 302 and "/login" in location
        else:
            ok = status in (403, 404)
        if not ok:
            wrong.append((route, status))
    assert wrong == []
