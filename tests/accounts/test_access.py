"""The access matrix: every accounts route, for every role, answers as the rules say (and anonymous users log in)."""

import pytest

from accounts.models import CadrePhoto
from core.policy import Role
from tests.factories import make_cadre, make_unit, make_user, make_user_with_role

ANON = "anonymous"
ROLES = [ANON, *[r.value for r in Role]]
ADMINS = {"system_admin", "org_admin", "unit_admin"}
DISTRICT = {"system_admin", "org_admin"}
LOGGED_IN = set(ROLES) - {ANON}

# endpoint -> (method, url template, roles allowed). Written out by hand, not derived from core.policy, so a
# change of the policy that widens access fails here.
ROUTES = {
    "accounts.login": ("GET", "/login", set(ROLES)),
    "accounts.set_language": ("POST", "/language", set(ROLES)),
    "accounts.logout": ("POST", "/logout", LOGGED_IN),
    "accounts.change_password": ("GET", "/account/password", LOGGED_IN),
    "accounts.tokens": ("GET", "/account/tokens", LOGGED_IN),
    "accounts.dashboard": ("GET", "/", LOGGED_IN),
    "accounts.cadres": ("GET", "/admin/cadres", ADMINS),
    "accounts.cadre_new": ("GET", "/admin/cadres/new", ADMINS),
    "accounts.cadre_edit": ("GET", "/admin/cadres/{cadre}/edit", ADMINS),
    "accounts.cadre_deactivate": ("POST", "/admin/cadres/{cadre}/deactivate", ADMINS),
    "accounts.cadre_reveal": ("POST", "/admin/cadres/{cadre}/personal", ADMINS),
    "accounts.cadres_export": ("GET", "/admin/cadres/export", ADMINS),
    "accounts.cadres_export#post": ("POST", "/admin/cadres/export", ADMINS),
    "accounts.cadre_activate": ("POST", "/admin/cadres/{cadre}/activate", ADMINS),
    "accounts.reset_password": ("POST", "/admin/users/{cadre_user}/reset-password", ADMINS),
    "accounts.cadre_import": ("GET", "/admin/cadres/import", ADMINS),
    "accounts.cadre_import_commit": ("POST", "/admin/cadres/import/commit", ADMINS),
    "accounts.cadre_import_template": ("GET", "/admin/cadres/import/template", ADMINS),
    "accounts.cadre_import_credentials": ("POST", "/admin/cadres/import/credentials", ADMINS),
    "accounts.units": ("GET", "/admin/units", ADMINS),
    "accounts.unit_form": ("GET", "/admin/units/new", DISTRICT),
    "accounts.unit_form#edit": ("GET", "/admin/units/{unit}/edit", DISTRICT),
    "accounts.users": ("GET", "/admin/users", DISTRICT),
    "accounts.user_roles": ("GET", "/admin/users/{cadre_user}", DISTRICT),
    "accounts.system_accounts": ("GET", "/admin/system-accounts", DISTRICT),
    "accounts.system_accounts#post": ("POST", "/admin/system-accounts", DISTRICT),
    "accounts.revoke_role": ("POST", "/admin/roles/{assignment}/revoke", DISTRICT),
    "accounts.audit_log": ("GET", "/admin/audit?action=role&actor=a", DISTRICT),
    "accounts.cadre_photo": ("GET", "/admin/cadres/{cadre}/photo", ADMINS),
    "accounts.own_photo": ("GET", "/account/photo", LOGGED_IN),  # their own (or a silhouette); see test_photos
    "accounts.cadre_photo_upload": ("POST", "/admin/cadres/{cadre}/photo/upload", ADMINS),
    "accounts.cadre_photo_remove": ("POST", "/admin/cadres/{cadre}/photo/remove", ADMINS),
}


def test_every_accounts_route_is_in_the_matrix(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("accounts.")}
    assert endpoints == {key.split("#")[0] for key in ROUTES}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", sorted(ROUTES))
def test_access_matrix(client, auth, db, role, route):
    method, template, allowed = ROUTES[route]
    unit = make_unit()
    target = make_cadre(unit=unit)
    grader = make_user(roles=(Role.GRADER,))
    db.session.add(CadrePhoto(cadre_id=target.id, mimetype="image/jpeg", data=b"\xff\xd8photo"))
    db.session.commit()
    if role != ANON:
        auth.login_as(role, unit=unit) if role == "unit_admin" else auth.login_as(role)
    url = template.format(cadre=target.id, cadre_user=target.user_id, unit=unit.id, assignment=grader.roles[0].id)
    response = client.get(url) if method == "GET" else client.post_form(url, {"locale": "en"})
    if role in allowed:
        assert response.status_code in (200, 302), (role, route, response.status_code)
        if response.status_code == 302:
            assert "/login" not in response.headers["Location"] or route == "accounts.logout"
    elif role == ANON:
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    else:
        assert response.status_code == 403, (role, route, response.status_code)


def test_cadre_gets_403_on_every_admin_page(client, auth, db):
    auth.login_as("cadre")
    for _endpoint, (method, template, allowed) in ROUTES.items():
        if "cadre" in allowed:
            continue
        url = template.format(cadre=1, cadre_user=1, unit=1, assignment=1)
        response = client.get(url) if method == "GET" else client.post_form(url)
        assert response.status_code == 403, url


def test_api_style_request_gets_json_401(client):
    response = client.get("/admin/cadres", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "401"


def test_unit_admin_is_confined_to_their_subtree(client, auth, db):
    town = make_unit("青山镇")
    village = make_unit("青山镇农业中心", parent=town)
    other = make_unit("柳河镇")
    mine = make_cadre(unit=town, name="甲某")
    below = make_cadre(unit=village, name="乙某")
    foreign = make_cadre(unit=other, name="丙某")
    db.session.commit()
    auth.login_as("unit_admin", unit=town)

    html = client.get("/admin/cadres").get_data(as_text=True)
    assert "甲某" in html and "乙某" in html and "丙某" not in html
    assert client.get(f"/admin/cadres/{below.id}/edit").status_code == 200
    assert client.get(f"/admin/cadres/{foreign.id}/edit").status_code == 403
    assert client.post_form(f"/admin/cadres/{foreign.id}/deactivate").status_code == 403
    assert client.post_form(f"/admin/users/{foreign.user_id}/reset-password").status_code == 403
    assert client.post_form(f"/admin/users/{mine.user_id}/reset-password").status_code == 200
    # The unit filter cannot widen the scope either.
    html = client.get(f"/admin/cadres?unit={other.id}").get_data(as_text=True)
    assert "丙某" not in html
    units_html = client.get("/admin/units").get_data(as_text=True)
    assert "青山镇农业中心" in units_html and "柳河镇" not in units_html


def test_unit_admin_cannot_create_a_cadre_outside_scope(client, auth, db):
    from sqlalchemy import func, select

    from accounts.models import Cadre

    town, other = make_unit("青山镇"), make_unit("柳河镇")
    db.session.commit()
    auth.login_as("unit_admin", unit=town)
    before = db.session.scalar(select(func.count(Cadre.id)))
    response = client.post_form(
        "/admin/cadres/new",
        {
            "employee_number": "X9001",
            "name": "越权",
            "gender": "male",
            "birth_date": "1990-01-01",
            "unit_id": other.id,
            "rank": "staff",
            "education": "bachelor",
            "political_status": "masses",
            "status": "serving",
        },
    )
    assert response.status_code == 200  # the form is shown again: the unit is not a valid choice
    assert db.session.scalar(select(func.count(Cadre.id))) == before


def test_unit_admin_cannot_reset_an_org_admins_password(client, auth, db):
    town = make_unit("青山镇")
    org_admin = make_user_with_role("org_admin")
    make_cadre(unit=town, user=org_admin)
    db.session.commit()
    auth.login_as("unit_admin", unit=town)
    assert client.post_form(f"/admin/users/{org_admin.id}/reset-password").status_code == 403
    cadre_id = org_admin.cadre.id
    assert client.post_form(f"/admin/cadres/{cadre_id}/deactivate").status_code == 403
