"""Check-in at the door: the window's edges, twice, unplaced and self check-ins, the undo; the start rule (checked in,
inside the session, from the room's network); absences recorded once; the door's JSON lookups and the photo."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from accounts.models import CadrePhoto
from core.audit import AuditEvent
from core.errors import DomainError
from core.extensions import db
from core.i18n import localtime
from core.models import now_utc
from core.policy import Role
from exam import attempts
from exam.models import Attempt
from sitting import checkin
from sitting import services as sitting
from sitting.models import Seat
from tests.factories import make_cadre, make_open_exam, make_sitting, make_user


def _setting(requires_checkin=True, **kw):
    exam, cadre = make_open_exam()
    session, rooms = make_sitting(exam, requires_checkin=requires_checkin, **kw)
    db.session.commit()
    return exam, cadre, session, rooms


def _proctor(session, room, **kw):
    proctor = make_user(roles=(Role.PROCTOR, Role.CADRE), **kw)
    sitting.assign_proctor(session, room, proctor, actor=None, now=now_utc())
    db.session.commit()
    return proctor


# ---------------------------------------------------------------- the service


def test_check_in_only_inside_the_window(db):
    exam, cadre, session, _rooms = _setting()
    seat = sitting.seat_of(exam, cadre)
    proctor = _proctor(session, _rooms[0])
    with pytest.raises(DomainError) as caught:
        checkin.check_in(seat, proctor, session.checkin_opens_at - timedelta(seconds=1))
    assert caught.value.code == "checkin_not_open"
    assert f"签到于 {checkin._hm(session.checkin_opens_at)} 开始" in caught.value.message  # Check-in opens at …
    with pytest.raises(DomainError) as caught:
        checkin.check_in(seat, proctor, session.checkin_closes_at + timedelta(seconds=1))
    assert caught.value.code == "checkin_closed"
    message = caught.value.message  # closed at …: a late arrival is for the district (区委组织部) to decide
    assert f"签到已于 {checkin._hm(session.checkin_closes_at)} 截止" in message and "区委组织部" in message
    assert seat.checked_in_at is None
    checkin.check_in(seat, proctor, session.checkin_opens_at)  # the edge itself is inside
    assert seat.checked_in_at == session.checkin_opens_at and seat.checked_in_by_id == proctor.id
    checkin.undo_check_in(seat, proctor, "wrong person", session.checkin_closes_at)
    checkin.check_in(seat, proctor, session.checkin_closes_at)  # so is the closing edge
    assert seat.checked_in_at == session.checkin_closes_at
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("sitting.check%")).order_by(AuditEvent.id)
    ).all()
    assert actions == ["sitting.checked_in", "sitting.checkin_undone", "sitting.checked_in"]


def test_a_second_check_in_is_refused_with_the_time_of_the_first(db):
    exam, cadre, session, rooms = _setting()
    seat = sitting.seat_of(exam, cadre)
    proctor = _proctor(session, rooms[0])
    now = now_utc()
    checkin.check_in(seat, proctor, now)
    with pytest.raises(DomainError) as caught:
        checkin.check_in(seat, proctor, now + timedelta(minutes=1))
    assert caught.value.code == "already_checked_in"
    assert checkin._hm(now) in caught.value.message
    assert seat.checked_in_at == now


def test_an_unplaced_candidate_and_oneself_cannot_be_checked_in(db):
    exam, cadre, session, rooms = _setting(capacity=1)
    late = make_cadre(unit=cadre.cadre.unit).user
    sitting.ensure_seats(exam, now_utc())
    proctor = _proctor(session, rooms[0])
    with pytest.raises(DomainError) as caught:
        checkin.check_in(sitting.seat_of(exam, late), proctor, now_utc())
    assert caught.value.code == "not_placed"
    # A proctor who is also a candidate of the exam is checked in by someone else, never by themselves.
    with pytest.raises(DomainError) as caught:
        checkin.check_in(sitting.seat_of(exam, cadre), cadre, now_utc())
    assert caught.value.code == "self_checkin"


def test_undo_needs_a_reason_and_not_after_the_start(db):
    exam, cadre, session, rooms = _setting()
    seat = sitting.seat_of(exam, cadre)
    proctor = _proctor(session, rooms[0])
    checkin.check_in(seat, proctor, now_utc())
    with pytest.raises(DomainError) as caught:
        checkin.undo_check_in(seat, proctor, "  ", now_utc())
    assert caught.value.code == "reason_required"
    attempts.start_attempt(exam, cadre, now_utc())
    with pytest.raises(DomainError) as caught:
        checkin.undo_check_in(seat, proctor, "mistake", now_utc())
    assert caught.value.code == "already_started"
    assert seat.checked_in_at is not None


# ---------------------------------------------------------------- the start rule


def test_the_start_waits_for_the_check_in_and_the_session(db):
    exam, cadre, session, rooms = _setting()
    seat = sitting.seat_of(exam, cadre)
    now = now_utc()
    refusal = attempts.start_refusal(exam, cadre, now)
    assert "您尚未签到" in refusal and rooms[0].name in refusal  # not checked in yet: go to the door of the room
    with pytest.raises(DomainError) as caught:
        attempts.start_attempt(exam, cadre, now)
    assert caught.value.code == "not_checked_in"
    checkin.check_in(seat, _proctor(session, rooms[0]), now)
    early = attempts.start_refusal(exam, cadre, session.starts_at - timedelta(minutes=1))
    assert f"您的场次于 {localtime(session.starts_at)} 开考" in early  # your session starts at …
    late = attempts.start_refusal(exam, cadre, session.ends_at + timedelta(seconds=1))
    assert f"您的场次（{session.name}）已于 {localtime(session.ends_at)} 结束" in late  # your session ended at …
    assert attempts.start_refusal(exam, cadre, now) is None
    assert attempts.start_attempt(exam, cadre, now).user_id == cadre.id


def test_no_sitting_settings_or_no_check_in_asked_starts_as_before(db):
    exam, cadre = make_open_exam()
    assert attempts.start_refusal(exam, cadre, now_utc()) is None
    make_sitting(exam, requires_checkin=False)
    assert attempts.start_refusal(exam, cadre, now_utc()) is None


def test_an_unplaced_candidate_is_told_to_ask(db):
    exam, cadre, session, rooms = _setting(place=False)
    assert "您尚未被安排本场考试的场次和座位" in attempts.start_refusal(exam, cadre, now_utc())  # no seat yet
    with pytest.raises(DomainError) as caught:
        attempts.start_attempt(exam, cadre, now_utc())
    assert caught.value.code == "no_seat"


def test_an_admin_who_is_a_candidate_still_needs_a_check_in(db):
    exam, cadre = make_open_exam()
    admin = make_cadre(unit=cadre.cadre.unit, roles=(Role.SYSTEM_ADMIN, Role.CADRE)).user
    session, rooms = make_sitting(exam, requires_checkin=True)
    with pytest.raises(DomainError) as caught:
        attempts.start_attempt(exam, admin, now_utc())
    assert caught.value.code == "not_checked_in"
    # and cannot check themselves in, though the district may check anyone in
    with pytest.raises(DomainError):
        checkin.check_in(sitting.seat_of(exam, admin), admin, now_utc())


def test_the_start_from_another_network_is_refused(client, auth, db):
    exam, cadre, session, rooms = _setting(requires_checkin=False)
    sitting.settings_of(exam).restrict_network = True
    rooms[0].networks = "10.1.2.0/24"
    db.session.commit()
    auth.login(cadre.username)
    url = f"/my/exams/{exam.code}/start"
    outside = client.post_form(url, {"confirm": "1"}, environ_base={"REMOTE_ADDR": "192.168.9.9"})
    assert outside.status_code == 302 and "/attempts/" not in outside.headers["Location"]
    page = client.get(f"/my/exams/{exam.code}/", environ_base={"REMOTE_ADDR": "192.168.9.9"})
    assert "not on the network of room" in page.get_data(as_text=True) or "网络" in page.get_data(as_text=True)
    assert db.session.scalar(select(Attempt.id).where(Attempt.user_id == cadre.id)) is None
    inside = client.post_form(url, {"confirm": "1"}, environ_base={"REMOTE_ADDR": "10.1.2.77"})
    assert inside.status_code == 302 and "/attempts/" in inside.headers["Location"]


# ---------------------------------------------------------------- absences


def test_absences_are_recorded_once_and_not_for_those_who_started_or_checked_in(db):
    exam, cadre, session, rooms = _setting(requires_checkin=False, capacity=10)
    unit = cadre.cadre.unit
    came, away = make_cadre(unit=unit).user, make_cadre(unit=unit).user
    sitting.ensure_seats(exam, now_utc())
    for user in (came, away):
        seat = sitting.seat_of(exam, user)
        sitting.move_seat(seat, session, rooms[0], None, actor=None, reason="", now=now_utc())
    attempts.start_attempt(exam, cadre, now_utc())  # started without a check-in (none asked)
    checkin.check_in(sitting.seat_of(exam, came), _proctor(session, rooms[0]), now_utc())
    with pytest.raises(DomainError) as caught:
        checkin.record_absences(session, session.checkin_closes_at - timedelta(seconds=1))
    assert caught.value.code == "checkin_still_open"
    closed = session.checkin_closes_at + timedelta(minutes=1)
    assert checkin.record_absences(session, closed) == 1
    assert sitting.seat_of(exam, away).absent_at == closed
    assert sitting.seat_of(exam, came).absent_at is None and sitting.seat_of(exam, cadre).absent_at is None
    assert session.absences_recorded_at == closed
    with pytest.raises(DomainError) as caught:
        checkin.record_absences(session, closed + timedelta(minutes=1))
    assert caught.value.code == "absences_recorded"
    assert sitting.seat_of(exam, away).absent_at == closed


def test_the_periodic_job_records_the_closed_sessions_of_exams_that_ask_for_check_in(db):
    exam, cadre, session, rooms = _setting(requires_checkin=True)
    other, other_cadre = make_open_exam(code="T2")
    other_session, _ = make_sitting(other, requires_checkin=False)
    assert checkin.sessions_due(now_utc()) == []  # still open
    later = session.checkin_closes_at + timedelta(minutes=1)
    assert checkin.sessions_due(later) == [session]
    checkin._record_due_absences(later)
    assert sitting.seat_of(exam, cadre).absent_at == later
    assert sitting.seat_of(other, other_cadre).absent_at is None and other_session.absences_recorded_at is None
    assert checkin.sessions_due(later + timedelta(minutes=1)) == []
    # The start page then says why.
    refusal = attempts.start_refusal(exam, cadre, later)  # recorded absent when the check-in closed at …
    assert f"签到于 {checkin._hm(session.checkin_closes_at)} 截止时您被记为缺考" in refusal


# ---------------------------------------------------------------- the door's page


def _door(client, auth, db, **kw):
    exam, cadre, session, rooms = _setting(rooms=2, capacity=1, **kw)
    neighbour = make_cadre(unit=cadre.cadre.unit).user
    sitting.ensure_seats(exam, now_utc())
    seat2 = sitting.seat_of(exam, neighbour)
    sitting.move_seat(seat2, session, rooms[1], 1, actor=None, reason="", now=now_utc())
    _proctor(session, rooms[0], username="door01")
    db.session.commit()
    auth.login("door01")
    return exam, cadre, neighbour, session, rooms


def test_a_proctor_looks_up_by_ticket_number_and_checks_in(client, auth, db):
    exam, cadre, neighbour, session, rooms = _door(client, auth, db)
    seat = sitting.seat_of(exam, cadre)
    base = f"/sitting/sessions/{session.id}/checkin"
    page = client.get(base)
    assert page.status_code == 200 and seat.ticket_no in page.get_data(as_text=True)
    found = client.post_form(base + "/lookup", {"ticket": seat.ticket_no, "room": rooms[0].id}).get_json()
    (card,) = found["candidates"]
    assert card["name"] == cadre.name and card["can_confirm"] and card["state"] == "waiting" and card["seat_no"] == 1
    done = client.post_form(base + "/confirm", {"seat": seat.id, "room": rooms[0].id})
    assert done.status_code == 200
    assert done.get_json()["candidate"]["state"] == "checked_in" and done.get_json()["counts"]["checked_in"] == 1
    again = client.post_form(base + "/confirm", {"seat": seat.id, "room": rooms[0].id})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_checked_in"
    db.session.expire_all()
    assert sitting.seat_of(exam, cadre).checked_in_at is not None


def test_the_wrong_room_forged_and_other_exam_codes_are_said_plainly(client, auth, db):
    exam, cadre, neighbour, session, rooms = _door(client, auth, db)
    base = f"/sitting/sessions/{session.id}/checkin"
    seat2 = sitting.seat_of(exam, neighbour)
    code = sitting.ticket_code(seat2)
    (card,) = client.post_form(base + "/lookup", {"code": code, "room": rooms[0].id}).get_json()["candidates"]
    assert rooms[1].name in card["problem"] and not card["can_confirm"] and card["photo"] is None
    refused = client.post_form(base + "/confirm", {"seat": seat2.id, "room": rooms[0].id})
    assert refused.status_code == 403 and rooms[1].name in refused.get_json()["error"]["message"]
    forged = client.post_form(base + "/lookup", {"code": code[:-2] + "zz", "room": rooms[0].id})
    assert forged.status_code == 403 and forged.get_json()["error"]["code"] == "forged_ticket"
    other, other_cadre = make_open_exam(code="T2")
    make_sitting(other)
    other_code = sitting.ticket_code(sitting.seat_of(other, other_cadre))
    db.session.commit()
    foreign = client.post_form(base + "/lookup", {"ticket": other_code, "room": rooms[0].id})
    assert foreign.status_code == 409 and foreign.get_json()["error"]["code"] == "other_exam_ticket"
    nobody = client.post_form(base + "/lookup", {"ticket": "999", "room": rooms[0].id})
    assert nobody.status_code == 404
    # Another room of the session is not this proctor's to open.
    assert client.get(f"{base}?room={rooms[1].id}").status_code == 403


def test_name_search_within_the_session(client, auth, db):
    exam, cadre, neighbour, session, rooms = _door(client, auth, db)
    base = f"/sitting/sessions/{session.id}/checkin/lookup"
    found = client.post_form(base, {"name": cadre.name[-2:], "room": rooms[0].id}).get_json()["candidates"]
    assert cadre.name in [c["name"] for c in found]
    none = client.post_form(base, {"name": "无此人", "room": rooms[0].id})
    assert none.status_code == 404 and "无此人" in none.get_json()["error"]["message"]


def test_the_photo_is_for_the_proctors_of_the_room(client, auth, db):
    exam, cadre, neighbour, session, rooms = _door(client, auth, db)
    db.session.add(CadrePhoto(cadre_id=cadre.cadre.id, mimetype="image/png", data=b"\x89PNG fake"))
    db.session.add(CadrePhoto(cadre_id=neighbour.cadre.id, mimetype="image/png", data=b"\x89PNG other"))
    db.session.commit()
    mine, theirs = sitting.seat_of(exam, cadre), sitting.seat_of(exam, neighbour)
    got = client.get(f"/sitting/seats/{mine.id}/photo")
    assert got.status_code == 200 and got.data == b"\x89PNG fake" and got.mimetype == "image/png"
    assert client.get(f"/sitting/seats/{theirs.id}/photo").status_code == 403
    (card,) = client.post_form(
        f"/sitting/sessions/{session.id}/checkin/lookup", {"ticket": mine.ticket_no, "room": rooms[0].id}
    ).get_json()["candidates"]
    assert card["photo"] == f"/sitting/seats/{mine.id}/photo"


def test_a_proctor_who_is_a_candidate_cannot_check_themselves_in(client, auth, db):
    exam, cadre = make_open_exam()
    both = make_cadre(unit=cadre.cadre.unit, username="door02", roles=(Role.PROCTOR, Role.CADRE)).user
    session, rooms = make_sitting(exam, requires_checkin=True)
    with pytest.raises(DomainError) as caught:  # a candidate is not assigned to proctor their exam
        sitting.assign_proctor(session, rooms[0], both, actor=None, now=now_utc())
    assert caught.value.code == "proctor_is_candidate"
    from sitting.models import ProctorAssignment

    db.session.add(ProctorAssignment(session_id=session.id, room_id=rooms[0].id, user_id=both.id))  # by hand
    db.session.commit()
    auth.login("door02")
    own = sitting.seat_of(exam, both)
    base = f"/sitting/sessions/{session.id}/checkin"
    assert client.post_form(base + "/lookup", {"ticket": own.ticket_no}).status_code == 403  # conflict of interest
    assert client.post_form(base + "/confirm", {"seat": own.id}).status_code == 403
    assert client.post_form(base + "/confirm", {"seat": sitting.seat_of(exam, cadre).id}).status_code == 403
    with pytest.raises(DomainError) as caught:  # and the service refuses a self check-in all the same
        checkin.check_in(own, both, now_utc())
    assert caught.value.code == "self_checkin"
    db.session.expire_all()
    assert sitting.seat_of(exam, cadre).checked_in_at is None
    assert attempts.start_refusal(exam, both, now_utc()) is not None


def test_the_district_records_absences_with_the_button(client, auth, db):
    exam, cadre, session, rooms = _setting()
    session.checkin_closes_at = now_utc() - timedelta(minutes=1)
    session.checkin_opens_at = session.checkin_closes_at - timedelta(minutes=30)
    db.session.commit()
    auth.login_as("org_admin")
    page = client.get(f"/sitting/sessions/{session.id}/checkin").get_data(as_text=True)
    assert f"/sitting/sessions/{session.id}/absences" in page
    response = client.post_form(f"/sitting/sessions/{session.id}/absences")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Seat, sitting.seat_of(exam, cadre).id).absent_at is not None
    again = client.post_form(f"/sitting/sessions/{session.id}/absences", follow_redirects=True)
    assert again.status_code == 200


def test_the_home_page_lists_the_proctors_check_ins(client, auth, db):
    exam, cadre, neighbour, session, rooms = _door(client, auth, db)
    html = client.get("/").get_data(as_text=True)
    assert f"/sitting/sessions/{session.id}/checkin" in html
    auth.logout()
    auth.login(cadre.username)
    assert "/checkin" not in client.get("/").get_data(as_text=True)
