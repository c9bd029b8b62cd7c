"""Profile changes and API-token revocations leave audit events with their old and new values."""

import re
from datetime import date

from sqlalchemy import select

from accounts import services
from accounts.models import ApiToken
from core.audit import AuditEvent
from core.models import now_utc
from tests.factories import PASSWORD, make_cadre, make_unit


def _events(db, action):
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def _edit_form(cadre, **changes):
    form = {
        "employee_number": cadre.employee_number,
        "name": cadre.user.name,
        "gender": cadre.gender,
        "birth_date": cadre.birth_date.isoformat(),
        "unit_id": cadre.unit_id,
        "rank": cadre.rank,
        "position": cadre.position,
        "education": cadre.education,
        "political_status": cadre.political_status,
        "phone": cadre.phone,
        "status": cadre.status,
    }
    return {**form, **changes}


def test_a_profile_edit_records_every_changed_field_with_old_and_new_values(client, auth, db):
    """Unit, rank, birth date and political status decide who may sit an exam: a change must be traceable."""
    old_unit, new_unit = make_unit("东湖街道", code="DH"), make_unit("西湖镇", code="XH")
    cadre = make_cadre(unit=old_unit, birth_date=date(1980, 3, 1), rank="staff", name="王平")
    db.session.commit()
    # The admin is a cadre too (an org admin with a profile of their own): the roles combine.
    admin = auth.login_as("org_admin")
    make_cadre(user=admin)
    db.session.commit()
    form = _edit_form(
        cadre,
        unit_id=new_unit.id,
        rank="section_chief",
        birth_date="1985-07-09",
        political_status="masses",
        name="王平安",
    )
    assert client.post_form(f"/admin/cadres/{cadre.id}/edit", form).status_code == 302
    (event,) = _events(db, "cadre.updated")
    assert event.actor_id == admin.id and event.target == f"user:{cadre.user_id}"
    assert event.detail == {
        "unit": ["DH 东湖街道", "XH 西湖镇"],
        "rank": ["staff", "section_chief"],
        "birth_date": ["1980-03-01", "1985-07-09"],
        "political_status": ["cpc_member", "masses"],
        "name": ["王平", "王平安"],
    }
    # Saving the same values again changes nothing and records nothing.
    db.session.expire_all()
    assert client.post_form(f"/admin/cadres/{cadre.id}/edit", _edit_form(cadre)).status_code == 302
    assert len(_events(db, "cadre.updated")) == 1


def test_every_profile_field_is_audited_but_never_a_password(app, db):
    admin = make_cadre(user=None, roles=("system_admin", "cadre")).user
    cadre = make_cadre()
    before = services.profile_values(cadre)
    data = services.CadreData(
        employee_number=cadre.employee_number,
        name="新名字",
        gender="male",
        birth_date=date(1970, 1, 2),
        unit=make_unit(),
        rank="section_chief",
        position="处长",
        education="doctorate",
        political_status="masses",
        phone="010-1234",
        status="retired",
    )
    services.update_cadre(admin, cadre, data, now_utc())
    (event,) = _events(db, "cadre.updated")
    assert set(event.detail) == set(before)  # every field changed, every field recorded
    assert event.detail["status"] == ["serving", "retired"] and event.detail["phone"] == ["139****0000", "01***34"]
    assert "password" not in repr(event.detail) and cadre.user.password_hash not in repr(event.detail)


def test_deactivation_and_reactivation_are_audited_with_old_and_new_values(client, auth, db):
    cadre = make_cadre()
    db.session.commit()
    admin = auth.login_as("org_admin")
    client.post_form(f"/admin/cadres/{cadre.id}/deactivate")
    client.post_form(f"/admin/cadres/{cadre.id}/activate")
    (off,) = _events(db, "cadre.deactivated")
    (on,) = _events(db, "cadre.activated")
    assert (
        off.actor_id == admin.id and off.target == f"user:{cadre.user_id}" and off.detail == {"active": [True, False]}
    )
    assert on.detail == {"active": [False, True]}


def test_revoking_a_token_is_audited_with_the_token_it_revoked(client, auth, db, app):
    user = auth.login_as("cadre")
    html = client.post_form("/account/tokens", {"name": "阅卷脚本"}).get_data(as_text=True)
    token = re.search(r"<code>(qe_[^<]+)</code>", html).group(1)
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    client.post_form("/account/tokens", {"revoke": row.id})
    client.post_form("/account/tokens", {"revoke": row.id})  # twice: one event, the first time kept
    (event,) = _events(db, "token.revoked")
    assert event.actor_id == user.id and event.target == f"user:{user.id}"
    assert event.detail == {
        "token": row.id,
        "name": "阅卷脚本",
        "created_at": row.created_at.isoformat(),
        "reason": "owner",
    }
    assert token not in repr(event.detail)
    # Another person's token, or a token id past any column, is "no such token" and records nothing.
    other = app.test_client()
    stranger = make_cadre().user
    db.session.commit()
    other.post_form("/login", {"username": stranger.username, "password": PASSWORD})
    assert other.post_form("/account/tokens", {"revoke": row.id}).status_code == 404
    for bad in (2**31, 2**63, 10**30, -1, "x"):
        assert client.post_form("/account/tokens", {"revoke": bad}).status_code == 404, bad
    assert len(_events(db, "token.revoked")) == 1
