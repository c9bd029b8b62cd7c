"""The marking pages (exam.marking_views) and the grading pages under a marking plan: the access matrix, the plan
set through its forms, blind double marking through the grading page, arbitration, consistency, samples, CSRF."""

import re

import pytest
from sqlalchemy import select

from core.extensions import db as _db
from core.models import now_utc
from core.policy import Role
from exam import marking
from exam.models import Answer, Mark, MarkingAssignment, MarkingItem, MarkingPlan
from tests.exam.test_marking import essay, planned
from tests.factories import make_user

ANON = "anonymous"
ASSIGNED = "assigned"  # a grader assigned as the question's arbitrator and named the exam's chief grader
ROLES = [ANON, *[r.value for r in Role], ASSIGNED]
DISTRICT = {"system_admin", "org_admin"}
ARBITERS = DISTRICT | {"grader", ASSIGNED}

# endpoint (a `#suffix` tells two rows of one endpoint apart) -> (method, url template, who gets a success);
# written out by hand, not derived from the policy. {code}: the exam; {version}: its essay; {answer}: an answer
# waiting for arbitration (and drawn for the sample). Everyone else signed in gets 403 or 404.
ROUTES = {
    "marking.setup": ("GET", "/marking/{code}/setup", DISTRICT),
    "marking.plan": ("POST", "/marking/{code}/plan", DISTRICT),
    "marking.item": ("POST", "/marking/{code}/items/{version}", DISTRICT),
    "marking.assign": ("POST", "/marking/{code}/assignments", DISTRICT),
    "marking.chief": ("POST", "/marking/{code}/chief", DISTRICT),
    "marking.progress": ("GET", "/marking/{code}/progress", DISTRICT | {ASSIGNED}),
    "marking.consistency": ("GET", "/marking/{code}/consistency", DISTRICT | {ASSIGNED}),
    "marking.arbitration": ("GET", "/marking/{code}/arbitration", ARBITERS),
    "marking.arbitrate": ("GET", "/marking/{code}/arbitration/{answer}", {ASSIGNED}),
    "marking.arbitrate#post": ("POST", "/marking/{code}/arbitration/{answer}", {ASSIGNED}),
    "marking.samples": ("GET", "/marking/{code}/samples", DISTRICT | {ASSIGNED}),
    "marking.samples#post": ("POST", "/marking/{code}/samples", {ASSIGNED}),
    "marking.sample": ("GET", "/marking/{code}/samples/{answer}", {ASSIGNED}),
    "marking.sample#post": ("POST", "/marking/{code}/samples/{answer}", {ASSIGNED}),
}
#: What each POST sends (valid data: an allowed caller is answered with a redirect).
DATA = {
    "marking.plan": {"mode": "double", "tolerance": "1"},
    "marking.item": {"mode": "double", "tolerance": "1"},
    "marking.assign": {"role": "marker"},  # version and user filled in
    "marking.chief": {},
    "marking.arbitrate#post": {"points": "5", "comment": "仲裁"},
    "marking.samples#post": {"percent": "50"},
    "marking.sample#post": {"points": "4"},
}


def test_every_marking_route_is_in_the_matrix(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("marking.")}
    assert endpoints == {key.split("#")[0] for key in ROUTES}


def world(db, person=None):
    """Three candidates' essays under double marking (tolerance 1): the first disputed (3 and 8), the second
    agreed (5 and 5); `person` (when given) is the essay's arbitrator and the chief grader, who drew every marked
    answer for the sample."""
    exam, people, attempts, version, admin, (g1, g2), _judges = planned(db, n=3, tolerance=1, arbitrators=0)
    disputed, agreed = essay(db, attempts[0]), essay(db, attempts[1])
    for answer, a, b in ((disputed, 3, 8), (agreed, 5, 5)):
        marking.mark_answer(g1, answer, a, "甲的评语", now_utc())
        marking.mark_answer(g2, answer, b, "乙的评语", now_utc())
    if person is not None:
        marking.assign(admin, exam, version, person, "arbitrator", now_utc())
        marking.set_chief(admin, exam, person, now_utc())
        marking.draw_samples(person, exam, 100, now_utc())
    db.session.commit()
    return exam, version, disputed, agreed, admin, (g1, g2)


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(client, auth, db, role):
    user = None
    if role == ASSIGNED:
        user = auth.login_as("grader")
    elif role != ANON:
        user = auth.login_as(role)
    exam, version, disputed, _agreed, _admin, (g1, _g2) = world(db, user if role == ASSIGNED else None)
    wrong = []
    for key, (method, template, allowed) in ROUTES.items():
        url = template.format(code=exam.code, version=version, answer=disputed.id)
        if method == "GET":
            response = client.get(url)
            ok = 200
        else:
            data = dict(DATA[key.split("#")[0]] if key not in DATA else DATA[key])
            data.update({"version": str(version), "user": str(g1.id)} if key == "marking.assign" else {})
            response = client.post_form(url, data)
            ok = 302
        if role == ANON:
            good = response.status_code == 302 and "/login" in response.headers["Location"]
        elif role in allowed:
            good = response.status_code == ok
        else:
            good = response.status_code in (403, 404)
        if not good:
            wrong.append((role, key, response.status_code))
    assert wrong == []


def test_the_plan_is_set_through_its_forms(client, auth, db):
    from tests.exam.test_marking import sat

    exam, people, attempts, version = sat(db)
    grader, chief = make_user(roles=(Role.GRADER,)), make_user(roles=(Role.GRADER,))
    db.session.commit()
    auth.login_as("org_admin")
    assert 'id="marking-setup"' in client.get(f"/exams/{exam.code}/").get_data(as_text=True)
    page = client.get(f"/marking/{exam.code}/setup").get_data(as_text=True)
    assert 'data-planned="no"' in page
    client.post_form(f"/marking/{exam.code}/plan", {"mode": "double", "tolerance": "1.5"})
    client.post_form(f"/marking/{exam.code}/items/{version}", {"mode": "double", "tolerance": "2"})
    client.post_form(f"/marking/{exam.code}/assignments", {"version": version, "user": grader.id, "role": "marker"})
    client.post_form(f"/marking/{exam.code}/chief", {"user": chief.id})
    db.session.expire_all()
    plan = db.session.scalar(select(MarkingPlan))
    assert (plan.default_mode, plan.default_tolerance, plan.chief_grader_id) == ("double", 1.5, chief.id)
    assert db.session.scalar(select(MarkingItem.tolerance)) == 2
    assert db.session.execute(select(MarkingAssignment.user_id, MarkingAssignment.role)).all() == [
        (grader.id, "marker")
    ]
    page = client.get(f"/marking/{exam.code}/setup").get_data(as_text=True)
    assert f'data-version="{version}" data-mode="double" data-tolerance="2"' in page
    # a bad tolerance and a refused assignment change nothing
    client.post_form(f"/marking/{exam.code}/plan", {"mode": "double", "tolerance": "-1"})
    client.post_form(f"/marking/{exam.code}/assignments", {"version": version, "user": people[0].id, "role": "marker"})
    client.post_form(f"/marking/{exam.code}/assignments", {"version": version, "user": grader.id, "role": "marker",
                                                           "remove": "1"})  # fmt: skip
    db.session.expire_all()
    assert db.session.scalar(select(MarkingPlan.default_tolerance)) == 1.5
    assert db.session.execute(select(MarkingAssignment.user_id)).all() == []


def test_state_changes_need_a_csrf_token(client, auth, db):
    exam, version, disputed, _agreed, _admin, _g = world(db)
    auth.login_as("system_admin")
    for url, data in ((f"/marking/{exam.code}/plan", {"mode": "single", "tolerance": "3"}),
                      (f"/marking/{exam.code}/items/{version}", {"mode": "single", "tolerance": "3"}),
                      (f"/marking/{exam.code}/chief", {"user": ""})):  # fmt: skip
        assert client.post(url, data=data).status_code == 400
    db.session.expire_all()
    assert db.session.scalar(select(MarkingPlan.default_mode)) == "double"
    assert db.session.scalar(select(MarkingItem.id)) is None


def _login(client, user):
    from tests.factories import PASSWORD

    client.post_form("/logout")
    assert client.post_form("/login", {"username": user.username, "password": PASSWORD}).status_code == 302


def test_double_marking_on_the_grading_page_is_blind(client, db):
    exam, people, attempts, version, admin, (g1, g2), (judge,) = planned(db, n=1, tolerance=1)
    answer = essay(db, attempts[0])
    outsider = make_user(roles=(Role.GRADER,))
    db.session.commit()
    _login(client, outsider)
    assert client.get(f"/grading/{exam.code}/answers/{answer.id}").status_code == 403  # not assigned
    assert exam.title not in client.get("/grading/").get_data(as_text=True)
    _login(client, g1)
    page = client.get(f"/grading/{exam.code}/").get_data(as_text=True)
    assert f"/grading/{exam.code}/answers/{answer.id}" in page
    response = client.post_form(f"/grading/{exam.code}/answers/{answer.id}", {"points": "3", "comment": "甲评：偏题"})
    assert response.status_code == 302
    page = client.get(f"/grading/{exam.code}/answers/{answer.id}").get_data(as_text=True)
    assert 'data-my-mark="3"' in page
    _login(client, g2)
    page = client.get(f"/grading/{exam.code}/answers/{answer.id}").get_data(as_text=True)
    assert 'data-planned="yes" data-my-mark=""' in page
    assert "甲评" not in page and 'value="3"' not in page and 'id="my-mark"' not in page
    client.post_form(f"/grading/{exam.code}/answers/{answer.id}", {"points": "8", "comment": "乙评：充分"})
    page = client.get(f"/grading/{exam.code}/answers/{answer.id}").get_data(as_text=True)
    assert 'data-my-mark="8"' in page and "甲评" not in page
    db.session.expire_all()
    assert db.session.get(Answer, answer.id).points is None  # 3 and 8: beyond the tolerance
    # the arbitrator sees both marks and both comments, and decides
    _login(client, judge)
    queue = client.get(f"/marking/{exam.code}/arbitration").get_data(as_text=True)
    assert f'data-answer="{answer.id}"' in queue
    page = client.get(f"/marking/{exam.code}/arbitration/{answer.id}").get_data(as_text=True)
    assert 'data-kind="first" data-points="3"' in page and 'data-kind="second" data-points="8"' in page
    assert "甲评：偏题" in page and "乙评：充分" in page
    response = client.post_form(f"/marking/{exam.code}/arbitration/{answer.id}", {"points": "6", "comment": "裁"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Answer, answer.id).points == 6
    # a marker cannot arbitrate the answer they marked, even if assigned
    marking.assign(admin, exam, version, g1, "arbitrator", now_utc())
    db.session.commit()
    _login(client, g1)
    assert client.get(f"/marking/{exam.code}/arbitration/{answer.id}").status_code == 403


def test_progress_and_consistency_pages_show_the_figures(client, auth, db):
    exam, version, disputed, agreed, admin, (g1, g2) = world(db)
    auth.login_as("org_admin")
    page = client.get(f"/marking/{exam.code}/progress").get_data(as_text=True)
    assert (f'data-version="{version}" data-total="3" data-first="2" data-second="2" data-final="1" '
            'data-arbitration="1"') in page  # fmt: skip
    assert f'data-user="{g1.id}" data-marked="2" data-left="1"' in page
    page = client.get(f"/marking/{exam.code}/consistency").get_data(as_text=True)
    # g1 gave 3 and 5 (mean 4, sd 1); differences 5 and 0: mean 2.5, within 1: one of two
    assert re.search(rf'data-user="{g1.id}" data-version="{version}" data-marked="2" data-mean="4.0" '
                     r'data-std="1.0" data-pairs="2" data-mean-difference="2.5" data-within="0.5" '
                     r'data-arbitrated="0.5"', page)  # fmt: skip
    assert 'data-link="marking.setup"' in page


def test_the_chief_grader_draws_and_re_marks_blind(client, auth, db):
    chief = auth.login_as("grader")
    exam, version, disputed, agreed, admin, (g1, g2) = world(db)
    marking.set_chief(admin, exam, chief, now_utc())
    db.session.commit()
    response = client.post_form(f"/marking/{exam.code}/samples", {"percent": "100"})
    assert response.status_code == 302
    page = client.get(f"/marking/{exam.code}/samples").get_data(as_text=True)
    assert f'data-user="{g1.id}" data-drawn="2" data-remarked="0"' in page
    page = client.get(f"/marking/{exam.code}/samples/{agreed.id}").get_data(as_text=True)
    assert 'data-my-mark=""' in page and "甲的评语" not in page and "乙的评语" not in page
    client.post_form(f"/marking/{exam.code}/samples/{agreed.id}", {"points": "4"})
    db.session.expire_all()
    assert db.session.get(Answer, agreed.id).points == 5  # the final mark stays
    assert db.session.scalar(select(Mark.points).where(Mark.kind == "sample")) == 4
    page = client.get(f"/marking/{exam.code}/samples").get_data(as_text=True)
    assert f'data-user="{g1.id}" data-drawn="2" data-remarked="1" data-mean-difference="1.0"' in page
    auth.logout()
    _login(client, g1)  # a marker is no chief
    assert client.get(f"/marking/{exam.code}/samples").status_code == 403
    assert client.post_form(f"/marking/{exam.code}/samples", {"percent": "10"}).status_code == 403
    _db.session.rollback()


def test_the_audit_page_names_the_marking_events(client, auth, db):
    exam, version, disputed, agreed, admin, (g1, g2) = world(db)
    auth.login_as("system_admin")
    page = client.get("/admin/audit?action=marking.assigned")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    # the assignment's grader named (not an id), in the event's detail
    assert re.search(rf'title="user">[^<]*</span>: {g1.name}[^<]*{g1.username}', body)
    assert client.get("/admin/audit").status_code == 200
