"""The system accounts page: a district admin (here also a cadre) creates an account for the personnel system,
mints a token with scopes (shown once, never again), and revokes it; a unit admin may not."""

import re

from sqlalchemy import select

from accounts.models import ApiToken, User
from core.audit import AuditEvent
from core.policy import Role
from tests.factories import make_cadre, make_unit, make_user


def _login_operator(auth, db):
    unit = make_unit("青山镇", code="QSZ", kind="town")
    user = make_user(username="zzb9", roles=(Role.ORG_ADMIN, Role.CADRE))
    make_cadre(unit=unit, user=user)
    db.session.commit()
    assert auth.login("zzb9").status_code == 302
    return unit


def test_create_mint_use_and_revoke_on_the_page(client, auth, db):
    unit = _login_operator(auth, db)
    page = client.get("/admin/system-accounts")
    assert page.status_code == 200 and "人事系统" not in page.get_data(as_text=True)
    fields = {"account-username": "qsz-hr", "account-name": "青山镇人事系统", "account-unit_id": str(unit.id),
              "account-create": "1"}  # fmt: skip
    created = client.post_form("/admin/system-accounts", fields)
    assert created.status_code == 302
    account = db.session.scalar(select(User).where(User.username == "qsz-hr"))
    assert account.system and [(r.role, r.unit_id) for r in account.roles] == [("unit_admin", unit.id)]
    minted = client.post_form("/admin/system-accounts", {"account": str(account.id), "token-name": "同步",
                                                         "token-scopes": ["cadres:read", "units:read"],
                                                         "token-mint": "1"})  # fmt: skip
    html = minted.get_data(as_text=True)
    assert minted.status_code == 200 and minted.headers["Cache-Control"] == "no-store"
    token = re.search(r"<code>(qe_[^<]+)</code>", html).group(1)
    api = client.application.test_client()
    assert api.get("/api/v1/admin/cadres", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    again = client.get("/admin/system-accounts").get_data(as_text=True)
    assert token not in again and "cadres:read" in again and "青山镇人事系统" in again
    # Disabled: the token stops; enabled again: it works again (both audited).
    assert client.post_form("/admin/system-accounts", {"deactivate": str(account.id)}).status_code == 302
    assert api.get("/api/v1/admin/cadres", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.post_form("/admin/system-accounts", {"activate": str(account.id)}).status_code == 302
    assert api.get("/api/v1/admin/cadres", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("system.%")).order_by(AuditEvent.id)
    ).all()
    assert actions == ["system.account_created", "system.account_deactivated", "system.account_activated"]
    person = db.session.scalar(select(User).where(User.username == "zzb9"))
    assert client.post_form("/admin/system-accounts", {"deactivate": str(person.id)}).status_code == 404
    assert person.active
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == account.id))
    assert client.post_form("/admin/system-accounts", {"revoke": str(row.id)}).status_code == 302
    assert api.get("/api/v1/admin/cadres", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_refusals_are_shown_and_nothing_is_made(client, auth, db):
    _login_operator(auth, db)
    no_scope = client.post_form("/admin/system-accounts", {"account": "1", "token-name": "x", "token-mint": "1"})
    assert no_scope.status_code == 200 and db.session.scalar(select(ApiToken.id)) is None
    make_user(username="taken")
    db.session.commit()
    duplicate = client.post_form(
        "/admin/system-accounts",
        {"account-username": "taken", "account-name": "x", "account-unit_id": "0", "account-create": "1"},
    )
    assert duplicate.status_code == 200 and "taken" in duplicate.get_data(as_text=True)
    person = db.session.scalar(select(User).where(User.username == "taken"))
    not_system = client.post_form(
        "/admin/system-accounts",
        {"account": str(person.id), "token-name": "x", "token-scopes": ["units:read"], "token-mint": "1"},
    )
    assert not_system.status_code == 404 and db.session.scalar(select(ApiToken.id)) is None
    for account in ({}, {"account": "99999999999"}):  # no account named: 404, never a 500
        fields = {**account, "token-name": "x", "token-scopes": ["units:read"], "token-mint": "1"}
        assert client.post_form("/admin/system-accounts", fields).status_code == 404


def test_a_unit_admin_may_not_open_the_page(client, auth, db):
    auth.login_as("unit_admin")
    assert client.get("/admin/system-accounts").status_code == 403
