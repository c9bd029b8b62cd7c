"""SQL injection and wildcard abuse through every search box and filter of the list pages: each answers 200 (or
a 3xx/4xx refusal), never a 500; a search that matches nothing literally shows no rows ("%" and "' OR 1=1" do not
widen it); the tables are all still there afterwards; a NUL byte, which PostgreSQL cannot take, is a 400."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, inspect, select

from accounts.models import User
from core import audit
from core.policy import Role
from question_bank.models import Bank
from tests.factories import PASSWORD, make_cadre, make_unit, make_user
from tests.reports.test_access import _sat

PAYLOADS = [
    "' OR 1=1 --",
    "'; DROP TABLE users; --",
    "%' UNION SELECT password_hash FROM users --",
    "\\",
    "%",
    "_",
    "' OR '1'='1",
    "1; SELECT pg_sleep(5)",
]
#: Filters that take a choice or a number (not free text) get the first three only: enough to show they are parsed.
SHORT = PAYLOADS[:2] + ["%"]
TEXT_PARAMS = {"q", "actor", "target", "ip", "tag", "who", "code", "cycle"}
NUL = "ab\x00cd"
#: Names of rows that no payload matches literally: a page listing one of them has widened the search.
SECRET_NAMES = ("甄秘密", "贾隐藏")


@pytest.fixture(autouse=True)
def _later(monkeypatch):
    monkeypatch.setattr("reports.views.now_utc", lambda: datetime(2026, 12, 5, 6, 0, tzinfo=UTC))


@pytest.fixture
def district(client, auth, db):
    """An organisation-department admin signed in, over a unit with a sat exam (code Q1) and two more cadres whose
    names match no payload, and audit events naming them."""
    unit = make_unit("青山镇")
    ids = _sat(unit)
    hidden = [make_cadre(unit=unit, name=name) for name in SECRET_NAMES]
    for cadre in hidden:
        audit.record("cadre.updated", actor=cadre.user, target=f"秘密目标-{cadre.user_id}")
    bank = db.session.scalar(select(Bank))
    db.session.commit()
    admin = auth.login_as("org_admin")
    return {**ids, "bank": bank.code, "unit": unit.id, "admin": admin, "hidden": hidden}


def _searches(d):
    """(url, parameter, other parameters) of every search box and filter of every list page."""
    exam, bank = d["exam"], d["bank"]
    pages = {
        "/admin/cadres": ["q", "unit", "rank", "age", "inactive", "page"],
        "/admin/users": ["q", "page"],
        "/admin/audit": ["actor", "action", "target", "ip", "since", "until", "page"],
        f"/banks/{bank}/": ["q", "type", "difficulty", "category", "tag", "status", "author", "sort"],
        f"/banks/{bank}/export/check": ["q", "type", "status", "format"],
        f"/exams/{exam}/": ["who"],
        f"/exams/{exam}/paper": ["pick", "bank", "q"],
        f"/exams/{exam}/attempts": ["page", "q"],
        "/archive/overview": ["year"],
        "/archive/overview/cadres": ["year", "unit", "which", "subtree", "page"],
        "/archive/education": ["all"],
        "/archive/classes": ["year"],
        "/archive/reading/review": ["year"],
        f"/reports/exams/{exam}/ranking": ["unit", "rank", "age", "outcome", "only", "show", "page"],
        f"/reports/exams/{exam}/units": ["sort"],
        f"/reports/exams/{exam}/items": ["flagged"],
        "/reports/years/2026/units": ["sort"],
        "/reports/qualifications": ["cycle", "status", "page"],
        "/verify/": ["code"],
    }
    for url, params in pages.items():
        for param in params:
            yield url, param


def test_no_search_or_filter_gives_a_500_or_widens(client, db, district):
    users_before = db.session.scalar(select(func.count(User.id)))
    wrong, sent = [], 0
    for url, param in _searches(district):
        for payload in PAYLOADS if param in TEXT_PARAMS else SHORT:
            response = client.get(url, query_string={param: payload})
            sent += 1
            if response.status_code >= 500 or response.status_code not in (200, 302, 400, 404):
                wrong.append((url, param, payload, response.status_code))
                continue
            html = response.get_data(as_text=True)
            leaked = [name for name in SECRET_NAMES if name in html]
            if leaked and url in ("/admin/cadres", "/admin/users", "/admin/audit") and param in (
                "q", "actor", "target"
            ):  # fmt: skip
                wrong.append((url, param, payload, "widened"))
    assert wrong == [] and sent > 150
    # The tables are all there, and nothing was deleted.
    db.session.rollback()
    assert {"users", "cadres", "questions", "attempts", "audit_events"} <= set(inspect(db.engine).get_table_names())
    assert db.session.scalar(select(func.count(User.id))) == users_before


@pytest.mark.parametrize(
    ("url", "param", "shown"),
    [
        ("/admin/cadres", "q", "甄秘密"),
        ("/admin/users", "q", "甄秘密"),
        ("/admin/audit", "target", "秘密目标"),
        ("/admin/audit", "actor", "甄秘密"),
    ],
)
def test_wildcards_match_literally(client, db, district, url, param, shown):
    """The positive control: the rows are listed for a real match, and for no wildcard. (Before the fix, "%" and
    "_" in the cadre and account searches matched every row.)"""
    real = "秘密" if param in ("q", "actor") else "秘密目标"
    assert shown in client.get(url, query_string={param: real}).get_data(as_text=True)
    for wildcard in ("%", "_", "%%", "%秘%", "甄_密"):
        html = client.get(url, query_string={param: wildcard}).get_data(as_text=True)
        assert shown not in html, (url, param, wildcard)


def test_the_question_search_treats_wildcards_literally(client, db, district):
    url = f"/banks/{district['bank']}/"
    assert "题目#1" in client.get(url, query_string={"q": "题目"}).get_data(as_text=True)
    for wildcard in ("%", "_", "题%1", "' OR 1=1 --"):
        assert "题目#1" not in client.get(url, query_string={"q": wildcard}).get_data(as_text=True), wildcard


def test_an_exact_lookup_takes_no_pattern(client, db, district):
    """`who` on the exam page looks one person up by username: a pattern finds nobody."""
    hidden = district["hidden"][0]
    url = f"/exams/{district['exam']}/"
    assert hidden.name in client.get(url, query_string={"who": hidden.employee_number}).get_data(as_text=True)
    for pattern in ("%", "_" * len(hidden.employee_number), "' OR 1=1 --"):
        assert hidden.name not in client.get(url, query_string={"who": pattern}).get_data(as_text=True)


def test_a_nul_byte_is_a_400_everywhere(client, db, district, app):
    """psycopg refuses a NUL in a query parameter (a 500 before the fix, on PostgreSQL); the app refuses it first,
    on every database: in the query, in the path, in a form and in a JSON body."""
    for url, param in _searches(district):
        response = client.get(url, query_string={param: NUL})
        assert response.status_code == 400, (url, param, response.status_code)
    assert client.get(f"/archive/cadres/{NUL}").status_code == 400
    assert client.get(f"/exams/{NUL}/").status_code == 400
    response = client.post_form("/admin/units/new", {"code": "N1", "name": NUL, "kind": "town", "parent_id": "0"})
    assert response.status_code == 400
    response = client.post(
        "/api/v1/exams/Q1/attempts", json={"access_code": NUL}, headers={"X-CSRFToken": client.csrf_token()}
    )
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "400"
    from accounts.models import Unit

    assert db.session.scalar(select(Unit).where(Unit.code == "N1")) is None


def test_a_nul_byte_at_login_is_a_400_and_not_an_attempt(app, db):
    """Signed out: the login form itself (its username is written to login_attempts before any check)."""
    make_user(username="N2001", roles=(Role.CADRE,))
    db.session.commit()
    client = app.test_client()
    response = client.post_form("/login", {"username": "N2001\x00", "password": "x"})
    assert response.status_code == 400
    # The user agent is stored with the login session: a NUL there was a 500 on PostgreSQL.
    response = client.post_form("/login", {"username": "N2001", "password": PASSWORD}, headers={"User-Agent": "a\x00b"})
    assert response.status_code == 400 and client.get("/").status_code == 302
    from accounts.models import LoginAttempt

    assert db.session.scalar(select(func.count(LoginAttempt.id))) == 0
