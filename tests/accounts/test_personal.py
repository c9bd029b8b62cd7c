"""Personal data: ID and phone numbers encrypted at rest, masked on every page, in full only for those who keep
the profile (each such view audited), left out of the roster unless asked for with a reason; the migration that
encrypted the phone numbers already kept."""

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, text

from accounts import personal
from accounts.models import Cadre
from core.audit import AuditEvent
from core.policy import Role
from demo.lrmx_forms import id_number
from tests.factories import make_cadre, make_unit, make_user

ID = id_number(date(1990, 3, 4), 11, True)
PHONE = "13912345678"


def test_masks():
    assert personal.mask_id_number(ID) == ID[:4] + "*" * 10 + ID[-4:]
    assert personal.mask_phone(PHONE) == "139****5678"
    assert personal.mask_phone("010-1234") == "01***34"  # never the whole of a short number
    assert personal.mask_phone("12345") == "*****" and personal.mask_phone("") == ""
    assert personal.mask_id_number(None) == ""


@pytest.mark.parametrize(
    ("written", "ok"),
    [(ID, True), (ID.lower(), True), (f" {ID[:6]} {ID[6:]} ", True),
     (ID[:17] + ("0" if ID[17] != "0" else "1"), False), ("12345", False), ("330106199002300011", False)],
)  # fmt: skip
def test_id_numbers_are_checked(written, ok):
    value = personal.normal_id_number(written)
    assert (personal.id_number_problem(value) is None) == ok


@pytest.fixture
def world(db):
    town, other = make_unit("青山镇", code="QSZ"), make_unit("柳河镇", code="LHZ")
    target = make_cadre(unit=town, name="林晓岚")
    target.phone = PHONE
    personal.set_id_number(target, ID, actor=None, now=target.created_at)
    author = make_cadre(unit=town, name="作者甲", roles=(Role.AUTHOR, Role.CADRE))
    author.phone = "13800001111"
    keeper = make_user(username="ua_town", roles=(Role.UNIT_ADMIN, Role.CADRE), unit=town)
    make_cadre(unit=other, user=keeper)  # a unit admin of the town who is a cadre of another unit
    stranger = make_user(username="ua_other", roles=(Role.UNIT_ADMIN,), unit=other)
    make_cadre(unit=other, user=stranger)
    make_user(username="org1", roles=(Role.ORG_ADMIN,))
    make_user(username="grader1", roles=(Role.GRADER, Role.AUTHOR))
    db.session.commit()
    return {"target": target, "author": author, "town": town}


def test_encrypted_at_rest_read_in_clear(db, world):
    raw = db.session.execute(text("SELECT phone, id_number FROM cadres WHERE id = :id"),
                             {"id": world["target"].id}).one()  # fmt: skip
    assert PHONE not in raw.phone and ID not in raw.id_number and raw.phone.startswith("gAAAA")
    db.session.expire_all()
    cadre = db.session.get(Cadre, world["target"].id)
    assert cadre.phone == PHONE and cadre.id_number == ID and personal.find_by_id_number(ID).id == cadre.id


# who -> may see the numbers in full (reveal) on the target's profile; everyone else gets 403 (or the login).
REVEAL = {"org1": True, "ua_town": True, "ua_other": False, "grader1": False}


@pytest.mark.parametrize("who", sorted(REVEAL))
def test_pages_show_the_numbers_masked_and_reveal_audited(client, auth, db, world, who):
    target = world["target"]
    auth.login(who)
    edit = client.get(f"/admin/cadres/{target.id}/edit")
    html = edit.get_data(as_text=True)
    assert PHONE not in html and ID not in html
    if edit.status_code == 200:
        assert personal.mask_phone(PHONE) in html and personal.mask_id_number(ID) in html
    response = client.post_form(f"/admin/cadres/{target.id}/personal")
    html = response.get_data(as_text=True)
    viewed = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "cadre.personal_viewed")).all()
    if REVEAL[who]:
        assert response.status_code == 200 and PHONE in html and ID in html
        assert response.headers["Cache-Control"] == "no-store"
        assert len(viewed) == 1 and viewed[0].target == f"user:{target.user_id}"
        assert viewed[0].detail == {"fields": ["id_number", "phone"]}
        assert f'value="{PHONE}"' not in html and f'value="{ID}"' not in html  # shown, never put in the form
    else:
        assert response.status_code == 403 and PHONE not in html and viewed == []


def test_a_unit_admin_sees_an_authors_numbers_masked_only(client, auth, db, world):
    auth.login("ua_town")
    assert client.post_form(f"/admin/cadres/{world['author'].id}/personal").status_code == 403


def test_a_cadre_cannot_reveal_their_own_through_the_admin_route(client, auth, db, world):
    me = world["target"]
    from tests.factories import PASSWORD

    client.post_form("/login", {"username": me.user.username, "password": PASSWORD})
    assert client.post_form(f"/admin/cadres/{me.id}/personal").status_code == 403


def _edit(client, cadre, **changes):
    data = {"employee_number": cadre.employee_number, "name": cadre.name, "gender": cadre.gender,
            "birth_date": cadre.birth_date.isoformat(), "unit_id": cadre.unit_id, "rank": cadre.rank,
            "position": cadre.position, "education": cadre.education, "political_status": cadre.political_status,
            "status": cadre.status, "phone": "", "id_number": ""}  # fmt: skip
    return client.post_form(f"/admin/cadres/{cadre.id}/edit", {**data, **changes})


def test_editing_keeps_replaces_or_removes_the_numbers(client, auth, db, world):
    target = world["target"]
    auth.login("org1")
    assert _edit(client, target, position="新岗位").status_code == 302
    db.session.expire_all()
    cadre = db.session.get(Cadre, target.id)
    assert cadre.phone == PHONE and cadre.id_number == ID and cadre.position == "新岗位"  # empty fields keep
    assert _edit(client, cadre, phone="13700000000").status_code == 302
    db.session.expire_all()
    assert db.session.get(Cadre, target.id).phone == "13700000000"
    assert _edit(client, cadre, remove_phone="y", remove_id_number="y").status_code == 302
    db.session.expire_all()
    cadre = db.session.get(Cadre, target.id)
    assert cadre.phone == "" and cadre.id_number is None and cadre.id_number_index is None
    # A wrong ID number saves nothing of the form.
    response = _edit(client, cadre, id_number=ID[:17] + ("1" if ID[17] != "1" else "2"), position="不该保存")
    assert response.status_code == 200
    db.session.expire_all()
    cadre = db.session.get(Cadre, target.id)
    assert cadre.id_number is None and cadre.position == "新岗位"
    # Nor one another cadre has.
    personal.set_id_number(world["author"], ID, actor=None, now=cadre.created_at)
    db.session.commit()
    assert _edit(client, cadre, id_number=ID).status_code == 200
    details = [e.detail for e in db.session.scalars(select(AuditEvent))]
    assert not any(PHONE in str(d) or ID in str(d) for d in details)  # the log keeps them masked


def _sheet(data: bytes) -> list[tuple]:
    return list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))


def test_the_roster_leaves_the_numbers_out_unless_asked_with_a_reason(client, auth, db, world):
    auth.login("ua_town")
    plain = client.get("/admin/cadres/export?q=林")
    rows = _sheet(plain.get_data())
    assert "身份证号" not in rows[0] and "手机号码" not in rows[0] and [r[1] for r in rows[1:]] == ["林晓岚"]
    refused = client.post_form("/admin/cadres/export", {"reason": "", "q": "林"})
    assert (
        refused.status_code == 302
        and refused.mimetype != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    asked = client.post_form("/admin/cadres/export", {"reason": "核对考试报名信息", "unit": str(world["town"].id)})
    rows = _sheet(asked.get_data())
    header, by_name = rows[0], {r[1]: r for r in rows[1:]}
    assert header[-2:] == ("身份证号", "手机号码")
    assert by_name["林晓岚"][-2:] == (ID, PHONE)
    assert by_name["作者甲"][-1] == "138****1111"  # a profile the unit admin does not keep: masked
    exports = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "cadre.exported")
                                 .order_by(AuditEvent.id)).all()  # fmt: skip
    assert [e.detail.get("personal") for e in exports] == [False, True]
    assert exports[1].detail["reason"] == "核对考试报名信息" and exports[1].detail["count"] == len(rows) - 1


def test_the_migration_encrypts_the_phone_numbers_kept(old_database, tmp_path):
    from flask_migrate import downgrade, upgrade

    from core.extensions import db
    from tests.conftest import ROOT, _make_app

    migrations = str(ROOT / "migrations")
    app = _make_app(old_database, tmp_path / "instance")
    with app.app_context():
        upgrade(directory=migrations, revision="f20a26a0a001")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO units (id, code, name, kind, path, sort_order, is_active) "
                              "VALUES (1, 'U', '单位', 'other', '/1/', 0, true)"))  # fmt: skip
            conn.execute(text("INSERT INTO users (id, username, name, password_hash, active, "
                              "must_change_password, created_at) "
                              "VALUES (7, 'q7', '甲', 'x', true, false, '2026-11-01 00:00:00')"))  # fmt: skip
            conn.execute(text("INSERT INTO cadres (id, user_id, unit_id, gender, birth_date, rank, position, "
                              "education, political_status, phone, status, created_at, updated_at) "
                              "VALUES (3, 7, 1, 'male', "
                              "'1990-01-01', 'staff', '', 'bachelor', 'masses', :phone, 'serving', "
                              "'2026-11-01 00:00:00', '2026-11-01 00:00:00')"), {"phone": PHONE})  # fmt: skip
        upgrade(directory=migrations)
        stored = db.session.execute(text("SELECT phone FROM cadres WHERE id = 3")).scalar()
        assert stored.startswith("gAAAA") and db.session.get(Cadre, 3).phone == PHONE
        db.session.remove()
        downgrade(directory=migrations, revision="f20a26a0a001")
        assert db.session.execute(text("SELECT phone FROM cadres WHERE id = 3")).scalar() == PHONE
        db.session.remove()
        db.engine.dispose()
