"""An exam's sitting page, its sessions (local times, the check-in window's defaults), the rooms of a session,
the settings and the proctors' assignments."""

from datetime import timedelta

from sqlalchemy import select

from core.audit import AuditEvent
from core.models import LOCAL_ZONE, now_utc
from core.policy import Role
from sitting import services as sitting
from sitting.models import ProctorAssignment, Session, SittingSettings
from tests.factories import make_open_exam, make_sitting, make_unit, make_user


def _login(auth, db, role="org_admin", **kwargs):
    user = auth.login_as(role, **kwargs)
    user.locale = "en"
    db.session.commit()
    return user


def _slot(exam, after_minutes=10, length=60):
    """A local date and times within the exam's window (minutes, so no seconds)."""
    start = (exam.opens_at + timedelta(minutes=after_minutes)).astimezone(LOCAL_ZONE).replace(second=0, microsecond=0)
    end = start + timedelta(minutes=length)
    return start, end


def test_a_session_is_made_from_local_times_with_the_default_check_in_window(client, auth, db):
    exam, _c = make_open_exam(code="SE1")
    _login(auth, db)
    assert client.get(f"/sitting/exams/{exam.code}/sessions/new").status_code == 200
    start, end = _slot(exam)
    # Near midnight in Beijing keep the session on one day, long enough for the default check-in (closing 15
    # minutes after the start, before the end): a minute after the opening (whose seconds the slot drops), or
    # else the first minutes of the next day.
    if start.date() != end.date():
        start, end = _slot(exam, after_minutes=1, length=20)
    if start.date() != end.date():
        start = end.replace(hour=0, minute=1)
        end = start + timedelta(minutes=20)
    data = {"name": "上午场", "day": start.date().isoformat(), "starts": start.strftime("%H:%M"),
            "ends": end.strftime("%H:%M"), "checkin_opens": "", "checkin_closes": ""}  # fmt: skip
    response = client.post_form(f"/sitting/exams/{exam.code}/sessions/new", data)
    assert response.status_code == 302 and "/rooms" in response.headers["Location"]
    session = db.session.scalar(select(Session).where(Session.exam_id == exam.id))
    assert session.name == "上午场"
    assert session.starts_at == start and session.starts_at.utcoffset() == timedelta(0)  # stored in UTC
    assert session.checkin_opens_at == start - timedelta(minutes=30)
    assert session.checkin_closes_at == start + timedelta(minutes=15)
    assert db.session.get(SittingSettings, exam.id) is not None
    html = client.get("/sitting/").get_data(as_text=True)
    assert exam.title in html and f"/sitting/exams/{exam.code}/" in html


def test_a_session_outside_the_exam_window_is_refused_at_the_field(client, auth, db):
    exam, _c = make_open_exam(code="SE2")
    _login(auth, db)
    late = exam.closes_at.astimezone(LOCAL_ZONE) + timedelta(days=1)
    data = {"name": "第二场", "day": late.date().isoformat(), "starts": "09:00", "ends": "10:00"}
    response = client.post_form(f"/sitting/exams/{exam.code}/sessions/new", data)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="starts-error"' in html and "within the exam" in html
    data.update(starts="10:00", ends="09:00")
    html = client.post_form(f"/sitting/exams/{exam.code}/sessions/new", data).get_data(as_text=True)
    assert 'id="ends-error"' in html
    assert db.session.scalar(select(Session)) is None


def test_editing_a_session(client, auth, db):
    exam, _c = make_open_exam(code="SE3")
    session, rooms = make_sitting(exam, rooms=1, capacity=5)
    db.session.commit()
    _login(auth, db)
    url = f"/sitting/exams/{exam.code}/sessions/{session.id}/edit"
    html = client.get(url).get_data(as_text=True)
    assert session.name in html
    start = session.starts_at.astimezone(LOCAL_ZONE)
    ends = session.ends_at.astimezone(LOCAL_ZONE)
    data = {"name": "改名场", "day": start.date().isoformat(), "starts": start.strftime("%H:%M"),
            "ends": ends.strftime("%H:%M"), "checkin_opens": (start - timedelta(minutes=20)).strftime("%H:%M"),
            "checkin_closes": (start + timedelta(minutes=10)).strftime("%H:%M")}  # fmt: skip
    if (start - timedelta(minutes=20)).date() != start.date() or ends.date() != start.date():
        return  # the factory's session crosses midnight in Beijing: nothing to type on one day
    assert client.post_form(url, data).status_code == 302
    db.session.expire_all()
    assert session.name == "改名场"
    assert session.checkin_opens_at == start.replace(second=0, microsecond=0) - timedelta(minutes=20)
    # Another exam's session is not reachable through this exam.
    other, _o = make_open_exam(code="SE4")
    db.session.commit()
    assert client.get(f"/sitting/exams/{other.code}/sessions/{session.id}/edit").status_code == 404


def test_rooms_of_a_session_and_dropping_a_room_with_candidates(client, auth, db):
    exam, _c = make_open_exam(code="SE5")
    session, rooms = make_sitting(exam, rooms=2, capacity=5)  # the one candidate sits in the first room
    admin = make_user(roles=(Role.ORG_ADMIN,))
    spare = sitting.create_room(make_unit(), "备用考场", 10, actor=admin, now=now_utc())
    closed = sitting.create_room(make_unit(), "停用考场", 10, actor=admin, now=now_utc())
    closed.is_active = False
    db.session.commit()
    _login(auth, db)
    url = f"/sitting/exams/{exam.code}/sessions/{session.id}/rooms"
    html = client.get(url).get_data(as_text=True)
    assert "备用考场" in html and "停用考场" not in html and "1 seated" in html
    # Add the spare room, drop the second (empty) one.
    response = client.post_form(url, {"room_ids": [rooms[0].id, spare.id]})
    assert response.status_code == 302
    db.session.expire_all()
    assert [link.room_id for link in session.rooms] == [rooms[0].id, spare.id]
    # Dropping the first room, where the candidate sits, is refused with the reason.
    response = client.post_form(url, {"room_ids": [spare.id]})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "still seats 1 candidates" in html and "move them first" in html
    db.session.expire_all()
    assert [link.room_id for link in session.rooms] == [rooms[0].id, spare.id]
    # A room not in use cannot be slipped in.
    html = client.post_form(url, {"room_ids": [rooms[0].id, closed.id]}).get_data(as_text=True)
    assert "Only rooms in use can be chosen." in html
    db.session.expire_all()
    assert closed.id not in [link.room_id for link in session.rooms]


def test_the_settings_form(client, auth, db):
    exam, _c = make_open_exam(code="SE6")
    make_sitting(exam)
    db.session.commit()
    _login(auth, db)
    data = {"requires_checkin": "y", "restrict_network": "y", "silent_alert_minutes": 5}
    assert client.post_form(f"/sitting/exams/{exam.code}/settings", data).status_code == 302
    db.session.expire_all()
    found = db.session.get(SittingSettings, exam.id)
    assert (found.requires_checkin, found.restrict_network, found.silent_alert_minutes) == (True, True, 5)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "sitting.settings_updated"))
    assert event.detail["silent_alert_minutes"] == [3, 5]
    response = client.post_form(f"/sitting/exams/{exam.code}/settings", {"silent_alert_minutes": 0})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(SittingSettings, exam.id).silent_alert_minutes == 5  # refused
    assert client.post(f"/sitting/exams/{exam.code}/settings", data={"silent_alert_minutes": 9}).status_code == 400


def test_the_sitting_page_shows_sessions_rooms_and_proctors(client, auth, db):
    exam, _c = make_open_exam(code="SE7")
    session, rooms = make_sitting(exam, rooms=2, capacity=5)
    proctor = make_user(name="监考甲", roles=(Role.PROCTOR,))
    sitting.assign_proctor(session, rooms[1], proctor, actor=None, now=now_utc())
    db.session.commit()
    _login(auth, db)
    html = client.get(f"/sitting/exams/{exam.code}/").get_data(as_text=True)
    assert "第一场" in html and "第1考场" in html and "第2考场" in html
    assert "1 / 5" in html and "0 / 5" in html and "监考甲" in html and "nobody" in html
    assert "Every candidate has a seat." in html


def test_proctors_are_assigned_by_username_and_removed(client, auth, db):
    exam, _c = make_open_exam(code="SE8")
    session, rooms = make_sitting(exam, rooms=2, capacity=5)
    make_user(username="jk001", name="监考乙", roles=(Role.PROCTOR, Role.CADRE))
    make_user(username="plain01", name="普通干部", roles=(Role.CADRE,))
    other_exam, _o = make_open_exam(code="SE9")
    _other_session, other_rooms = make_sitting(other_exam, rooms=1)
    db.session.commit()
    _login(auth, db)
    url = f"/sitting/exams/{exam.code}/sessions/{session.id}/proctors"
    assert client.post_form(url, {"username": "JK001", "room_id": rooms[0].id}).status_code == 302
    assert client.post_form(url, {"username": "jk001", "room_id": 0}).status_code == 302  # the whole session
    found = db.session.scalars(select(ProctorAssignment).order_by(ProctorAssignment.id)).all()
    assert [(a.room_id, a.user.username) for a in found] == [(rooms[0].id, "jk001"), (None, "jk001")]
    html = client.post_form(url, {"username": "plain01", "room_id": 0}).get_data(as_text=True)
    assert 'id="username-error"' in html and "does not hold the proctor role" in html
    html = client.post_form(url, {"username": "nobody", "room_id": 0}).get_data(as_text=True)
    assert "No active account has this username." in html
    html = client.post_form(url, {"username": "jk001", "room_id": other_rooms[0].id}).get_data(as_text=True)
    assert 'id="room_id-error"' in html
    html = client.get(url).get_data(as_text=True)
    assert "监考乙" in html and "The whole session" in html
    remove = f"/sitting/exams/{exam.code}/proctors/{found[0].id}/remove"
    assert client.post(remove).status_code == 400  # no CSRF token
    assert client.post_form(remove).status_code == 302
    assert client.post_form(f"/sitting/exams/{other_exam.code}/proctors/{found[1].id}/remove").status_code == 404
    assert [a.room_id for a in db.session.scalars(select(ProctorAssignment))] == [None]


def test_the_exams_admin_page_links_to_its_sitting(client, auth, db):
    exam, _c = make_open_exam(code="SEA")
    db.session.commit()
    _login(auth, db, "system_admin")
    html = client.get(f"/exams/{exam.code}/").get_data(as_text=True)
    assert f'href="/sitting/exams/{exam.code}/"' in html
