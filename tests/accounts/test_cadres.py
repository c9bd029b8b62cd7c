"""Cadre administration: list with filters, create, edit, deactivate, password reset; units and roles."""

from datetime import date

import pytest
from sqlalchemy import select

from accounts import queries, services
from accounts.models import Cadre, Unit, User
from core.errors import DomainError
from core.models import now_utc
from core.policy import Role
from tests.factories import PASSWORD, make_cadre, make_unit, make_user, make_user_with_role

NEW_CADRE = {
    "employee_number": "QE9001",
    "name": "孙立新",
    "gender": "male",
    "birth_date": "1993-04-12",
    "rank": "deputy_section_chief",
    "position": "副镇长",
    "education": "master",
    "political_status": "cpc_member",
    "phone": "13912345678",
    "status": "serving",
}


def test_create_cadre_shows_one_time_password_and_forces_change(client, auth, db, app):
    unit = make_unit("东湖街道")
    db.session.commit()
    auth.login_as("org_admin")
    response = client.post_form("/admin/cadres/new", {**NEW_CADRE, "unit_id": unit.id})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    import re

    password = re.search(r'<p class="secret"[^>]*><code>([^<]+)</code>', html).group(1)
    cadre = db.session.scalar(select(Cadre).join(User).where(User.username == "QE9001"))
    assert cadre.unit.name == "东湖街道" and cadre.rank == "deputy_section_chief"
    assert cadre.user.must_change_password and Role.CADRE in cadre.user.role_names
    assert password not in cadre.user.password_hash
    # A drawn password: 12 random characters, hashed with the one-time method; the chosen one with the slow one.
    assert len(password) == 12 and cadre.user.password_hash.startswith(app.config["ONE_TIME_PASSWORD_HASH_METHOD"])

    fresh = app.test_client()
    response = fresh.post_form("/login", {"username": "QE9001", "password": password})
    assert response.headers["Location"] == "/account/password"
    fresh.get("/account/password")
    response = fresh.post_form("/account/password", {"current": password, "new": "Kestrel-42-bloom",
                                                     "confirm": "Kestrel-42-bloom"})  # fmt: skip
    assert response.status_code == 302
    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.username == "QE9001"))
    assert not user.must_change_password and user.password_hash.startswith(app.config["PASSWORD_HASH_METHOD"])
    assert app.config["PASSWORD_HASH_METHOD"] != app.config["ONE_TIME_PASSWORD_HASH_METHOD"]


def test_create_cadres_is_all_or_nothing(db, app):
    unit = make_unit()
    admin = make_user_with_role("org_admin")
    make_user(username="qe9002")
    db.session.commit()
    data = [services.CadreData(**{**NEW_CADRE, "employee_number": n, "birth_date": date(1993, 4, 12)}, unit=unit)
            for n in ("QE9001", "qe9001")]  # fmt: skip
    with pytest.raises(DomainError, match="qe9001"):  # twice in one batch
        services.create_cadres(admin, data, now_utc())
    data[1].employee_number = "QE9002"  # taken by an account
    with pytest.raises(DomainError, match="qe9002"):
        services.create_cadres(admin, data, now_utc())
    db.session.rollback()
    assert db.session.scalar(select(User).where(User.username == "QE9001")) is None
    data[1].employee_number = "QE9003"
    created = services.create_cadres(admin, data, now_utc())
    db.session.commit()
    assert [c.employee_number for c, _pw in created] == ["QE9001", "QE9003"]
    assert len({pw for _c, pw in created}) == 2


def test_duplicate_employee_number_is_refused(client, auth, db):
    unit = make_unit()
    make_user(username="qe9001")  # the same number in other letter case
    db.session.commit()
    auth.login_as("org_admin")
    response = client.post_form("/admin/cadres/new", {**NEW_CADRE, "unit_id": unit.id})
    assert "QE9001" in response.get_data(as_text=True)
    assert db.session.scalar(select(Cadre).join(User).where(User.username == "QE9001")) is None


def test_edit_cadre(client, auth, db):
    unit, other = make_unit(), make_unit()
    cadre = make_cadre(unit=unit)
    db.session.commit()
    auth.login_as("org_admin")
    form = {**NEW_CADRE, "employee_number": "ignored", "unit_id": other.id, "name": "改名后"}
    response = client.post_form(f"/admin/cadres/{cadre.id}/edit", form)
    assert response.status_code == 302
    db.session.expire_all()
    cadre = db.session.get(Cadre, cadre.id)
    assert cadre.name == "改名后" and cadre.unit_id == other.id
    assert cadre.employee_number != "ignored"  # the login name is not editable here


def test_deactivate_and_reactivate(client, auth, db):
    cadre = make_cadre()
    db.session.commit()
    auth.login_as("org_admin")
    client.post_form(f"/admin/cadres/{cadre.id}/deactivate", follow_redirects=True)
    db.session.expire_all()
    assert not db.session.get(Cadre, cadre.id).user.active
    html = client.get("/admin/cadres").get_data(as_text=True)
    assert cadre.user.name not in html  # deactivated accounts are hidden by default
    html = client.get("/admin/cadres?inactive=1").get_data(as_text=True)
    assert cadre.user.name in html
    client.post_form(f"/admin/cadres/{cadre.id}/activate")
    db.session.expire_all()
    assert db.session.get(Cadre, cadre.id).user.active


def test_admin_password_reset(client, auth, db, app):
    cadre = make_cadre()
    db.session.commit()
    other = app.test_client()
    other.post_form("/login", {"username": cadre.user.username, "password": PASSWORD})
    assert other.get("/").status_code == 200
    auth.login_as("org_admin")
    response = client.post_form(f"/admin/users/{cadre.user_id}/reset-password")
    assert response.status_code == 200
    db.session.expire_all()
    user = db.session.get(User, cadre.user_id)
    assert user.must_change_password and not user.check_password(PASSWORD)
    assert other.get("/").status_code == 302  # the reset ended the cadre's sessions


def test_cadre_list_filters(app, db):
    today = date(2026, 11, 28)
    town = make_unit("青山镇")
    village = make_unit("青山镇农业中心", parent=town)
    young = make_cadre(unit=village, birth_date=date(1992, 11, 29), rank="staff", name="年轻人")  # 33
    turns35 = make_cadre(unit=town, birth_date=date(1991, 11, 28), rank="section_chief", name="满三十五")
    old = make_cadre(unit=make_unit(), birth_date=date(1966, 1, 1), rank="staff", name="老同志")
    admin = make_user(roles=(Role.ORG_ADMIN,))

    def names(**kw):
        return {c.name for c in db.session.scalars(queries.cadres_query(admin, today=today, **kw))}

    assert names() == {"年轻人", "满三十五", "老同志"}
    assert names(unit=town) == {"年轻人", "满三十五"}
    assert names(age_band="under35") == {"年轻人"}
    assert names(age_band="35to44") == {"满三十五"}
    assert names(age_band="55plus") == {"老同志"}
    assert names(rank="staff") == {"年轻人", "老同志"}
    assert names(q="三十五") == {"满三十五"}
    assert names(q=turns35.employee_number) == {"满三十五"}
    assert young.age_on(today) == 33 and turns35.age_on(today) == 35 and old.age_on(today) == 60


def test_cadre_list_paginates(client, auth, db, app):
    unit = make_unit()
    for _ in range(app.config["CADRES_PER_PAGE"] + 3):
        make_cadre(unit=unit)
    db.session.commit()
    auth.login_as("org_admin")
    html = client.get("/admin/cadres").get_data(as_text=True)
    assert 'rel="next"' in html
    assert client.get("/admin/cadres?page=2").status_code == 200


def test_empty_state_is_helpful(client, auth, db):
    auth.login_as("org_admin")
    html = client.get("/admin/cadres?q=nobody-has-this-name").get_data(as_text=True)
    assert 'class="card empty"' in html


def test_admin_cannot_deactivate_self(app, db):
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    cadre = make_cadre(user=admin)
    with pytest.raises(DomainError) as exc:
        services.set_cadre_active(admin, cadre, False, now_utc())
    assert exc.value.code == "self_deactivate"


def test_unit_move_rewrites_subtree_paths(app, db):
    a, b = make_unit("甲"), make_unit("乙")
    child = make_unit("甲一", parent=a)
    grandchild = make_unit("甲一一", parent=child)
    services.update_unit(child, name="甲一", kind="other", parent=b, sort_order=0)
    assert child.path == f"{b.path}{child.id}/"
    assert grandchild.path == f"{b.path}{child.id}/{grandchild.id}/"
    with pytest.raises(DomainError):
        services.update_unit(b, name="乙", kind="other", parent=grandchild, sort_order=0)


def test_create_unit_through_the_page(client, auth, db):
    parent = make_unit("区委组织部")
    db.session.commit()
    auth.login_as("org_admin")
    response = client.post_form(
        "/admin/units/new",
        {"code": "NEW1", "name": "新设单位", "kind": "town", "parent_id": parent.id, "sort_order": 3},
    )
    assert response.status_code == 302
    unit = db.session.scalar(select(Unit).where(Unit.code == "NEW1"))
    assert unit.parent_id == parent.id and unit.path.startswith(parent.path)


def test_grant_and_revoke_roles(client, auth, db):
    unit = make_unit()
    user = make_user()
    db.session.commit()
    auth.login_as("org_admin")
    assert client.post_form(f"/admin/users/{user.id}", {"role": "unit_admin", "unit_id": unit.id}).status_code == 302
    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert user.unit_scope_paths == (unit.path,)
    # An organisation-department admin cannot make a system admin.
    client.post_form(f"/admin/users/{user.id}", {"role": "system_admin", "unit_id": 0})
    db.session.expire_all()
    assert Role.SYSTEM_ADMIN not in db.session.get(User, user.id).role_names
    assignment = db.session.get(User, user.id).roles[0]
    client.post_form(f"/admin/roles/{assignment.id}/revoke")
    db.session.expire_all()
    assert db.session.get(User, user.id).roles == []


def test_org_admin_cannot_change_a_peers_roles(client, auth, db):
    peer = make_user_with_role("org_admin")
    db.session.commit()
    auth.login_as("org_admin")
    assert client.post_form(f"/admin/roles/{peer.roles[0].id}/revoke").status_code == 403
    db.session.expire_all()
    assert Role.ORG_ADMIN in db.session.get(User, peer.id).role_names
    with pytest.raises(DomainError):
        services.grant_role(make_user(roles=(Role.ORG_ADMIN,)), peer, Role.GRADER)


def test_unit_admin_cannot_touch_author_or_grader_accounts(client, auth, db):
    town = make_unit("青山镇")
    author = make_cadre(unit=town, roles=(Role.AUTHOR, Role.CADRE))
    grader = make_cadre(unit=town, roles=(Role.GRADER, Role.CADRE))
    plain = make_cadre(unit=town)
    db.session.commit()
    auth.login_as("unit_admin", unit=town)
    for target in (author, grader):
        assert client.post_form(f"/admin/users/{target.user_id}/reset-password").status_code == 403
        assert client.post_form(f"/admin/cadres/{target.id}/deactivate").status_code == 403
    assert client.post_form(f"/admin/users/{plain.user_id}/reset-password").status_code == 200


def test_last_system_admin_cannot_be_removed(app, db):
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    with pytest.raises(DomainError):
        services.revoke_role(admin, admin.roles[0])


def test_audit_trail_of_admin_actions(client, auth, db):
    from core.audit import AuditEvent

    cadre = make_cadre()
    db.session.commit()
    admin = auth.login_as("org_admin")
    client.post_form(f"/admin/users/{cadre.user_id}/reset-password")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "password.reset"))
    assert event.actor_id == admin.id and event.target == f"user:{cadre.user_id}"
