"""Rooms: kept per unit, listed and edited within the admin's scope, bad input answered at the field."""

from sqlalchemy import select

from core.policy import Role
from sitting.models import Room
from tests.factories import make_cadre, make_unit, make_user


def _login(auth, db, role, **kwargs):
    user = auth.login_as(role, **kwargs)
    user.locale = "en"
    db.session.commit()
    return user


def _room_data(unit, **extra):
    return {"unit_id": unit.id, "name": "第1考场", "address": "综合楼101", "capacity": 30, "computers": 28,
            "networks": "10.1.2.0/24\n10.1.3.5", "notes": "", "is_active": "y", **extra}  # fmt: skip


def test_an_org_admin_adds_and_edits_a_room(client, auth, db):
    unit = make_unit("青山镇")
    _login(auth, db, "org_admin")
    assert client.post_form("/sitting/rooms/new", _room_data(unit)).status_code == 302
    room = db.session.scalar(select(Room).where(Room.unit_id == unit.id))
    assert (room.capacity, room.computers, room.networks) == (30, 28, "10.1.2.0/24\n10.1.3.5/32")
    html = client.get("/sitting/rooms").get_data(as_text=True)
    assert "第1考场" in html and "青山镇" in html and "10.1.2.0/24" in html
    data = _room_data(unit, name="第一考场", capacity=40, is_active="")
    data.pop("is_active")
    assert client.post_form(f"/sitting/rooms/{room.id}/edit", data).status_code == 302
    db.session.expire_all()
    assert (room.name, room.capacity, room.is_active, room.unit_id) == ("第一考场", 40, False, unit.id)
    client.get("/sitting/rooms")  # shows the flash
    assert "第一考场" not in client.get("/sitting/rooms").get_data(as_text=True)  # not in use: hidden by default
    assert "第一考场" in client.get("/sitting/rooms?inactive=1").get_data(as_text=True)


def test_bad_input_gets_a_field_level_error(client, auth, db):
    unit = make_unit()
    _login(auth, db, "org_admin")
    response = client.post_form("/sitting/rooms/new", _room_data(unit, networks="10.1.2.0/33"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="networks-error"' in html and "10.1.2.0/33" in html
    response = client.post_form("/sitting/rooms/new", _room_data(unit, capacity=0))
    assert 'id="capacity-error"' in response.get_data(as_text=True)
    assert client.post_form("/sitting/rooms/new", _room_data(unit)).status_code == 302
    response = client.post_form("/sitting/rooms/new", _room_data(unit))  # the unit has that name already
    assert 'id="name-error"' in response.get_data(as_text=True)
    assert len(db.session.scalars(select(Room)).all()) == 1


def test_a_unit_admin_who_is_a_cadre_manages_their_units_rooms_only(client, auth, db):
    town = make_unit("青山镇")
    village = make_unit("青山镇农业中心", parent=town)
    other = make_unit("柳河镇")
    org = make_user(roles=(Role.ORG_ADMIN,))
    from core.models import now_utc
    from sitting import services as sitting

    foreign = sitting.create_room(other, "柳河第1考场", 20, actor=org, now=now_utc())
    below = sitting.create_room(village, "农业中心考场", 20, actor=org, now=now_utc())
    admin = _login(auth, db, "unit_admin", unit=town)  # the factory makes them a cadre of the town too
    assert admin.cadre is not None and {Role.UNIT_ADMIN, Role.CADRE} & admin.role_names
    html = client.get("/sitting/rooms").get_data(as_text=True)
    assert "农业中心考场" in html and "柳河第1考场" not in html
    assert client.get(f"/sitting/rooms/{below.id}/edit").status_code == 200
    assert client.get(f"/sitting/rooms/{foreign.id}/edit").status_code == 403
    assert client.post_form(f"/sitting/rooms/{foreign.id}/edit", _room_data(other, name="改名")).status_code == 403
    # A room for a unit outside the scope is refused at the field, and nothing is made.
    response = client.post_form("/sitting/rooms/new", _room_data(other, name="越权考场"))
    assert 'id="unit_id-error"' in response.get_data(as_text=True)
    assert db.session.scalar(select(Room).where(Room.name == "越权考场")) is None
    assert client.post_form("/sitting/rooms/new", _room_data(village, name="新考场")).status_code == 302
    # They reach the index (rooms) but not the exams' sitting pages.
    html = client.get("/sitting/").get_data(as_text=True)
    assert "Exams with sessions" not in html and "/sitting/rooms" in html


def test_a_plain_cadre_sees_no_sitting_entry(client, auth, db):
    make_cadre()
    _login(auth, db, "cadre")
    assert 'href="/sitting/"' not in client.get("/").get_data(as_text=True)
    assert client.get("/sitting/").status_code == 403
    auth.logout()
    _login(auth, db, "unit_admin")
    assert 'href="/sitting/"' in client.get("/").get_data(as_text=True)


def test_room_form_needs_csrf(client, auth, db):
    unit = make_unit()
    _login(auth, db, "org_admin")
    assert client.post("/sitting/rooms/new", data=_room_data(unit)).status_code == 400
    assert db.session.scalar(select(Room)) is None
