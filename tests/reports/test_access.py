"""The access matrix of the report pages: every route, every role, on one sat exam."""

from datetime import UTC, datetime

import pytest

from core.extensions import db as _db
from core.policy import Role
from tests.factories import make_cadre, make_unit
from tests.reports.test_reports import exam_of, sit

ANON = "anonymous"
ROLES = [ANON, *[r.value for r in Role]]
ADMINS = {"system_admin", "org_admin", "unit_admin"}
DISTRICT = {"system_admin", "org_admin"}
SIGNED_IN = set(ROLES) - {ANON}

# endpoint -> (method, url template, roles allowed); written out by hand, not derived from the policy.
ROUTES = {
    "reports.home": ("GET", "/reports/", ADMINS),
    "reports.exam_ranking": ("GET", "/reports/exams/{exam}/ranking?age=under35&rank=staff", ADMINS),
    "reports.exam_ranking_xlsx": ("GET", "/reports/exams/{exam}/ranking.xlsx", ADMINS),
    "reports.exam_units": ("GET", "/reports/exams/{exam}/units?sort=pass_rate", ADMINS),
    "reports.exam_units_xlsx": ("GET", "/reports/exams/{exam}/units.xlsx", ADMINS),
    "reports.year_units": ("GET", "/reports/years/2026/units", ADMINS),
    "reports.year_units_xlsx": ("GET", "/reports/years/2026/units.xlsx", ADMINS),
    "reports.exam_statistics": ("GET", "/reports/exams/{exam}/statistics", ADMINS),
    "reports.exam_report_pdf": ("GET", "/reports/exams/{exam}/report.pdf", ADMINS),
    "reports.exam_items": ("GET", "/reports/exams/{exam}/items", DISTRICT),
    "reports.exam_items_xlsx": ("GET", "/reports/exams/{exam}/items.xlsx", DISTRICT),
    "reports.exam_items_refresh": ("POST", "/reports/exams/{exam}/items/refresh", DISTRICT),
    "reports.exam_slips": ("POST", "/reports/exams/{exam}/slips", ADMINS),
    # The candidate's slip and history: admins of their unit; their owner (none of the test's users) too.
    "reports.slip": ("GET", "/reports/attempts/{attempt}/slip.pdf", ADMINS),
    "reports.person_history": ("GET", "/reports/people/{username}/history", ADMINS),
    # Only someone with a cadre profile has a history of their own (the test's unit admin and cadre).
    "reports.my_history": ("GET", "/reports/my/history", {"unit_admin", "cadre"}),
    "reports.qualifications": ("GET", "/reports/qualifications", ADMINS),
    "reports.qualifications_xlsx": ("GET", "/reports/qualifications.xlsx?cycle=2026", ADMINS),
    # The exam publishes its list: admins, and candidates whose result is shown (none of the test's users).
    "reports.published_list": ("GET", "/reports/exams/{exam}/list", ADMINS),
}
NOT_THERE = 404  # what someone signed in but not allowed gets where a page would reveal that a thing exists


def test_every_report_route_is_in_the_matrix(app):
    assert {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("reports.")} == set(ROUTES)


def _sat(unit):
    exam = exam_of(k=2, pass_mark=1, code="Q1", qualification_part="political_theory", qualification_cycle="2026")
    exam.publish_ranking = True
    cadre = make_cadre(unit=unit, name="考生甲")
    attempt = sit(exam, cadre, (0, 1), start_minute=0, minutes=5)
    _db.session.commit()
    return {"exam": exam.code, "attempt": attempt.id, "username": cadre.employee_number}


@pytest.fixture(autouse=True)
def _later(monkeypatch):
    monkeypatch.setattr("reports.views.now_utc", lambda: datetime(2026, 12, 5, 6, 0, tzinfo=UTC))


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(client, auth, db, role):
    unit = make_unit("青山镇")
    ids = _sat(unit)
    if role != ANON:
        auth.login_as(role, unit=unit) if role == "unit_admin" else auth.login_as(role)
    wrong = []
    for route in sorted(ROUTES, key=lambda r: (ROUTES[r][0] == "POST", r)):
        method, template, allowed = ROUTES[route]
        url = template.format(**ids)
        response = client.get(url) if method == "GET" else client.post_form(url)
        status, location = response.status_code, response.headers.get("Location", "")
        if role in allowed:
            ok = status == 200 or status == 302 and "/login" not in location
        elif role == ANON:
            ok = status == 302 and "/login" in location
        elif route in ("reports.slip", "reports.published_list", "reports.my_history", "reports.person_history"):
            ok = status == NOT_THERE
        else:
            ok = status == 403
        if not ok:
            wrong.append((route, status))
    assert wrong == []


def test_a_unit_admin_elsewhere_reaches_none_of_these_candidates(client, auth, db):
    ids = _sat(make_unit("青山镇"))
    auth.login_as("unit_admin", unit=make_unit("柳河镇"))
    assert client.get(ROUTES["reports.slip"][1].format(**ids)).status_code == 404
    assert client.get(ROUTES["reports.person_history"][1].format(**ids)).status_code == 404
    assert "考生甲" not in client.get(ROUTES["reports.exam_ranking"][1].format(**ids)).get_data(as_text=True)
    assert "考生甲" not in client.get("/reports/qualifications?cycle=2026").get_data(as_text=True)
