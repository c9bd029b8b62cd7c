"""The admin API's access matrix: every route, for an anonymous caller, every role signed in (and a person holding
several), each also with a personal token, and three system tokens (the district's with every scope, a town's with
every scope, and the district's with one unrelated scope). Only system tokens with the route's scope and an
account whose roles allow it succeed; people are refused whatever their roles."""

import pytest

from accounts import system
from accounts.services import create_api_token
from core.extensions import db as _db
from core.models import now_utc
from core.policy import API_SCOPES, Role
from tests.factories import make_cadre, make_open_exam, make_unit, make_user
from tests.integration.conftest import cadre_body

ANON = "anonymous"
MULTI = "org_admin_cadre_author"  # one person, several roles
DISTRICT = "district_system"
TOWN = "town_system"
NARROW = "district_exams_only"  # the district's account, with exams:read only
PEOPLE = [*[r.value for r in Role], MULTI]
SYSTEMS = {DISTRICT, TOWN}

# endpoint -> (method, url template, who gets a success); written out by hand, not derived from the code.
ROUTES = {
    "admin_api.units": ("GET", "/api/v1/admin/units", SYSTEMS),
    "admin_api.put_unit": ("PUT", "/api/v1/admin/units/QSZ-NEW", {DISTRICT}),
    "admin_api.cadres": ("GET", "/api/v1/admin/cadres", SYSTEMS),
    "admin_api.cadre": ("GET", "/api/v1/admin/cadres/{number}", SYSTEMS),
    "admin_api.put_cadre": ("PUT", "/api/v1/admin/cadres/{number}", SYSTEMS),
    "admin_api.cadre_archive": ("GET", "/api/v1/admin/cadres/{number}/archive", SYSTEMS),
    "admin_api.cadre_qualifications": ("GET", "/api/v1/admin/cadres/{number}/qualifications", SYSTEMS),
    "admin_api.exams": ("GET", "/api/v1/admin/exams", {*SYSTEMS, NARROW}),
    "admin_api.exam_results": ("GET", "/api/v1/admin/exams/{exam}/results", SYSTEMS),
}
BODIES = {"admin_api.put_unit": {"name": "新单位", "kind": "department", "parent": "QSZ"},
          "admin_api.put_cadre": cadre_body()}  # fmt: skip


def world() -> dict:
    town = make_unit("青山镇", code="QSZ", kind="town")
    cadre = make_cadre(unit=town, username="QS1")
    exam, _candidate = make_open_exam(code="AX1", qtypes=("single",))
    operator = make_user(roles=(Role.SYSTEM_ADMIN,))
    district = system.create_account(operator, "hr", "", [], now_utc())
    town_account = system.create_account(operator, "qsz-hr", "", [town], now_utc())
    tokens = {
        DISTRICT: system.mint_token(operator, district, "all", list(API_SCOPES), now_utc()),
        TOWN: system.mint_token(operator, town_account, "all", list(API_SCOPES), now_utc()),
        NARROW: system.mint_token(operator, district, "exams", ["exams:read"], now_utc()),
    }
    multi = make_user(username="multi", roles=(Role.ORG_ADMIN, Role.CADRE, Role.AUTHOR))
    make_cadre(unit=town, user=multi)
    _db.session.commit()
    return {"number": cadre.employee_number, "exam": exam.code, "tokens": tokens, "multi": multi}


@pytest.mark.parametrize("who", [ANON, *PEOPLE, *[f"{p}+token" for p in PEOPLE], DISTRICT, TOWN, NARROW])
def test_access_matrix(client, auth, db, who):
    ids = world()
    headers = {}
    person = who.removesuffix("+token")
    if who in ids["tokens"]:
        headers = {"Authorization": f"Bearer {ids['tokens'][who]}"}
    elif person != ANON:
        user = ids["multi"] if person == MULTI else None
        if user is None:
            user = auth.login_as(person)
        else:
            auth.login(user.username)
        if who.endswith("+token"):
            headers = {"Authorization": f"Bearer {create_api_token(user, 'mine', now_utc())}"}
            db.session.commit()
    csrf = {} if headers else {"X-CSRFToken": client.csrf_token()}
    wrong = []
    for endpoint, (method, template, allowed) in ROUTES.items():
        url = template.format(**ids)
        response = client.open(url, method=method, json=BODIES.get(endpoint), headers={**headers, **csrf})
        status = response.status_code
        response.close()
        if who in allowed:
            ok = status in (200, 201)
        elif who == ANON:
            ok = status == 401
        else:
            ok = status == 403
        if not ok:
            wrong.append((endpoint, status))
    assert wrong == []
