"""The sitting's security review: a candidate of an exam neither runs, proctors nor decides anything of it (conflicts
of interest); a unit admin does not change a room's networks; an unplaced candidate does not start where the network
is restricted; a room's proctor reads no decision of the district and nothing of a candidate of another room; odd
ticket codes and numbers get the plain refusals, never a 500."""

import json
import re

import pytest
from sqlalchemy import select

from accounts.models import Unit
from core.errors import DomainError
from core.extensions import db as _db
from core.models import now_utc
from core.policy import Role
from exam import attempts
from exam.models import Attempt
from sitting import checkin, incidents, records, tickets
from sitting import services as sitting
from sitting.models import Decision, Incident, ProctorAssignment
from tests import poppler
from tests.factories import make_cadre, make_open_exam, make_sitting, make_unit, make_user


def _world(code="SEC1"):
    """An open exam with a session of two rooms (one seat each): the candidate in the first, the neighbour in the
    second; a proctor of the first room (also a cadre, of another unit) and an incident of the candidate's."""
    exam, candidate = make_open_exam(code=code, qtypes=("single",))
    unit = _db.session.get(Unit, exam.eligibility["unit_ids"][0])
    neighbour = make_cadre(unit=unit, name="邻座王").user
    session, rooms = make_sitting(exam, rooms=2, capacity=1)
    if sitting.seat_of(exam, candidate).room_id != rooms[0].id:  # seats go by ticket number
        candidate, neighbour = neighbour, candidate
    here = make_user(username="sechere", roles=(Role.PROCTOR, Role.CADRE))
    sitting.assign_proctor(session, rooms[0], here, actor=None, now=now_utc())
    incident = incidents.record_incident(exam, candidate, "talking", now_utc(), "交头接耳", "",
                                         session=session, room=rooms[0], actor=here, now=now_utc())  # fmt: skip
    _db.session.commit()
    return exam, unit, session, rooms, candidate, neighbour, incident


def _post_action(client, attempt_id, action, **data):
    response = client.post_form(f"/sitting/attempts/{attempt_id}/{action}", data)
    return response.status_code


# ---------------------------------------------------------------- A. conflicts of interest


def test_an_org_admin_who_is_a_candidate_neither_runs_nor_decides(app, db, client, auth):
    exam, unit, session, rooms, candidate, _neighbour, incident = _world()
    org = auth.login_as("org_admin")
    sitting_page = f"/sitting/exams/{exam.code}/"
    assert client.get(sitting_page).status_code == 200  # not a candidate yet: they run the sitting
    make_cadre(unit=unit, user=org)  # now also a candidate of the exam
    db.session.commit()
    assert org.id in sitting.eligible_user_ids(exam)
    place = f"/sitting/exams/{exam.code}/sessions/{session.id}"
    for url in (
        sitting_page,
        f"/sitting/exams/{exam.code}/seats",
        f"/sitting/exams/{exam.code}/sessions/{session.id}/proctors",
        f"/sitting/exams/{exam.code}/console",
        f"/sitting/exams/{exam.code}/incidents",
        f"/sitting/incidents/{incident.id}",
        f"/sitting/sessions/{session.id}/console",
        f"/sitting/sessions/{session.id}/rooms/{rooms[0].id}/console.json",
        f"/sitting/sessions/{session.id}/checkin",
        f"/sitting/sessions/{session.id}/rooms/{rooms[0].id}/incidents/new",
        f"/sitting/sessions/{session.id}/rooms/{rooms[0].id}/record.pdf",
        f"/sitting/sessions/{session.id}/record.pdf",
        f"{place}/rooms/{rooms[0].id}/door-list.pdf",
        f"{place}/rooms/{rooms[0].id}/seat-plan.xlsx",
    ):
        assert client.get(url).status_code == 403, url
    for url in (f"/sitting/exams/{exam.code}/tickets/release", f"{place}/tickets",
                f"/sitting/sessions/{session.id}/checkin/lookup"):  # fmt: skip
        assert client.post_form(url, {"ticket": "1"}).status_code == 403, url
    prefix = f"i{incident.id}-"
    decided = client.post_form(f"/sitting/incidents/{incident.id}/decide", {prefix + "decision": "warning",
                                                                            prefix + "reason": "x"})  # fmt: skip
    assert decided.status_code == 403
    db.session.expire_all()
    assert db.session.get(Incident, incident.id).decision is None
    with pytest.raises(DomainError) as caught:
        incidents.decide(incident, Decision.WARNING, "自己裁决", actor=org, now=now_utc())
    assert caught.value.code == "conflict_of_interest" and caught.value.status == 403
    assert incident.decision is None
    # Their own ticket, though, is theirs to download.
    sitting.ensure_seats(exam, now_utc())
    own = sitting.seat_of(exam, org)
    own.session_id, own.room_id, own.seat_no = session.id, rooms[1].id, 2
    tickets.release_tickets(exam, None, now_utc())
    db.session.commit()
    assert client.get(f"/sitting/exams/{exam.code}/my-ticket.pdf").status_code == 200


def test_the_incidents_candidate_and_a_seated_person_do_not_decide(app, db):
    exam, unit, session, rooms, candidate, neighbour, incident = _world()
    for person in (candidate, neighbour):
        with pytest.raises(DomainError) as caught:
            incidents.decide(incident, Decision.NO_EFFECT, "无事", actor=person, now=now_utc())
        assert caught.value.code == "conflict_of_interest"
    # A district admin with a seat of the exam (though not eligible by its rules) does not decide either.
    seated = make_user(roles=(Role.ORG_ADMIN,))
    db.session.add(type(sitting.seat_of(exam, candidate))(exam_id=exam.id, user_id=seated.id, ticket_no="77"))
    db.session.flush()
    with pytest.raises(DomainError):
        incidents.decide(incident, Decision.NO_EFFECT, "无事", actor=seated, now=now_utc())
    outsider = make_user(roles=(Role.ORG_ADMIN,))
    incidents.decide(incident, Decision.NO_EFFECT, "无事", actor=outsider, now=now_utc())
    assert incident.decision == Decision.NO_EFFECT


def test_a_proctor_who_is_a_candidate_is_not_assigned_and_does_not_act(app, db, client, auth):
    exam, unit, session, rooms, candidate, neighbour, incident = _world()
    other = attempts.start_attempt(exam, candidate, now_utc())
    both = make_cadre(unit=unit, username="secboth", roles=(Role.PROCTOR, Role.CADRE)).user
    with pytest.raises(DomainError) as caught:
        sitting.assign_proctor(session, rooms[0], both, actor=None, now=now_utc())
    assert caught.value.code == "proctor_is_candidate" and both.name in caught.value.message
    assert db.session.scalar(select(ProctorAssignment).where(ProctorAssignment.user_id == both.id)) is None
    # Through the page, the refusal stands next to the username.
    auth.login_as("org_admin")
    page = client.post_form(f"/sitting/exams/{exam.code}/sessions/{session.id}/proctors",
                            {"username": both.username, "room_id": rooms[0].id})  # fmt: skip
    assert page.status_code == 200 and 'id="username-error"' in page.get_data(as_text=True)
    assert db.session.scalar(select(ProctorAssignment).where(ProctorAssignment.user_id == both.id)) is None
    auth.logout()
    # Assigned before becoming a candidate (or by a row written directly): refused at every door all the same.
    late = make_user(username="seclate", roles=(Role.PROCTOR, Role.CADRE))
    sitting.assign_proctor(session, rooms[0], late, actor=None, now=now_utc())
    make_cadre(unit=unit, user=late)
    direct = make_cadre(unit=unit, username="secdirect", roles=(Role.PROCTOR, Role.CADRE)).user
    db.session.add(ProctorAssignment(session_id=session.id, room_id=None, user_id=direct.id))
    db.session.commit()
    for username in ("seclate", "secdirect"):
        auth.login(username)
        assert _post_action(client, other.id, "pause", reason="越权") == 403, username
        assert client.get(f"/sitting/sessions/{session.id}/rooms/{rooms[0].id}/console").status_code == 403
        assert client.get(f"/sitting/sessions/{session.id}/checkin").status_code == 403
        lookup = client.post_form(f"/sitting/sessions/{session.id}/checkin/lookup", {"name": candidate.name})
        assert lookup.status_code == 403
        assert client.get(f"/sitting/incidents/{incident.id}").status_code == 403
        auth.logout()
    db.session.expire_all()
    assert db.session.get(Attempt, other.id).paused_at is None
    # The proctor who is no candidate acts as before.
    auth.login("sechere")
    assert _post_action(client, other.id, "pause", reason="设备检查") == 200


# ---------------------------------------------------------------- B. a room's networks


def test_only_the_district_changes_a_rooms_networks(app, db, client, auth):
    town = make_unit("青山镇")
    org = make_user(roles=(Role.ORG_ADMIN,))
    room = sitting.create_room(town, "第1考场", 20, actor=org, now=now_utc(), networks="10.1.2.0/24")
    admin = auth.login_as("unit_admin", unit=town)
    admin.locale = "en"
    db.session.commit()
    page = client.get(f"/sitting/rooms/{room.id}/edit").get_data(as_text=True)
    textarea = re.search(r"<textarea[^>]*name=\"networks\"[^>]*>", page).group(0)
    assert "disabled" in textarea and "Only the district" in page
    data = {"unit_id": town.id, "name": "第一考场", "address": "", "capacity": 25, "computers": 20,
            "networks": "0.0.0.0/0", "notes": "", "is_active": "y"}  # fmt: skip
    assert client.post_form(f"/sitting/rooms/{room.id}/edit", data).status_code == 302
    db.session.expire_all()
    assert (room.name, room.capacity, room.networks) == ("第一考场", 25, "10.1.2.0/24")
    # The service keeps them too, and a new room of theirs has none.
    sitting.update_room(room, actor=admin, now=now_utc(), name="第一考场", capacity=25, networks="0.0.0.0/0")
    assert room.networks == "10.1.2.0/24"
    made = sitting.create_room(town, "第2考场", 20, actor=admin, now=now_utc(), networks="0.0.0.0/0")
    assert made.networks == ""
    db.session.commit()
    auth.logout()
    auth.login(org.username)
    page = client.get(f"/sitting/rooms/{room.id}/edit").get_data(as_text=True)
    assert "disabled" not in re.search(r"<textarea[^>]*name=\"networks\"[^>]*>", page).group(0)
    assert client.post_form(f"/sitting/rooms/{room.id}/edit", {**data, "networks": "10.9.0.0/16"}).status_code == 302
    db.session.expire_all()
    assert room.networks == "10.9.0.0/16"


# ---------------------------------------------------------------- C. the network check fails closed


def test_an_unplaced_candidate_does_not_start_where_the_network_is_restricted(app, db, client, auth):
    exam, candidate = make_open_exam(code="SEC2", qtypes=("single",))
    session, rooms = make_sitting(exam, place=False)
    sitting.settings_of(exam).restrict_network = True
    rooms[0].networks = "10.1.2.0/24"
    db.session.commit()
    inside = app.test_request_context(environ_base={"REMOTE_ADDR": "10.1.2.7"})
    with inside, pytest.raises(DomainError) as caught:
        checkin.may_start(exam, candidate, now_utc())
    assert caught.value.code == "no_room" and caught.value.status == 403
    auth.login(candidate.username)
    started = client.post_form(f"/my/exams/{exam.code}/start", {"confirm": "1"},
                               environ_base={"REMOTE_ADDR": "192.168.9.9"})  # fmt: skip
    assert started.status_code == 302 and "/attempts/" not in started.headers["Location"]
    assert db.session.scalar(select(Attempt.id).where(Attempt.user_id == candidate.id)) is None
    # Once placed, from the room's network, they start.
    seat = sitting.seat_of(exam, candidate)
    sitting.move_seat(seat, session, rooms[0], 1, actor=None, reason="", now=now_utc())
    db.session.commit()
    inside = client.post_form(f"/my/exams/{exam.code}/start", {"confirm": "1"},
                              environ_base={"REMOTE_ADDR": "10.1.2.7"})  # fmt: skip
    assert inside.status_code == 302 and "/attempts/" in inside.headers["Location"]


# ---------------------------------------------------------------- D. decisions in the room's record


def test_the_rooms_record_shows_decisions_and_reasons_to_the_deciders_only(app, db, client, auth, tmp_path):
    tools = poppler.tools()
    exam, unit, session, rooms, candidate, neighbour, incident = _world()
    incidents.decide(incident, Decision.PART_VOIDED, "屡教不改严肃处理", actor=make_user(roles=(Role.ORG_ADMIN,)),
                     now=now_utc())  # fmt: skip
    db.session.commit()

    def text(url, name):
        response = client.get(url)
        assert response.status_code == 200
        path = tmp_path / name
        path.write_bytes(response.data)
        return re.sub(r"\s+", "", poppler.text(tools, "-raw", path))

    room_url = f"/sitting/sessions/{session.id}/rooms/{rooms[0].id}/record.pdf"
    auth.login("sechere")
    seen = text(room_url, "proctor.pdf")
    assert "交头接耳" in seen and "已处理" in seen
    assert "屡教不改" not in seen and "成绩作废" not in seen
    auth.logout()
    auth.login_as("org_admin")
    seen = text(room_url, "district.pdf")
    assert "本科目成绩作废" in seen and "屡教不改严肃处理" in seen
    summary = text(f"/sitting/sessions/{session.id}/record.pdf", "summary.pdf")
    assert "屡教不改严肃处理" in summary
    # The service, asked without the flag's consent, says "decided" only.
    plain = records.room_record(session, rooms[0], show_decisions=False)
    assert [row[-1] for row in plain.incidents] == ["已处理"]


# ---------------------------------------------------------------- E. lookups outside the proctor's rooms


def test_a_rooms_proctor_learns_nothing_of_a_candidate_of_another_room(app, db, client, auth):
    exam, unit, session, rooms, candidate, neighbour, incident = _world()
    theirs = sitting.seat_of(exam, neighbour)
    unplaced = make_cadre(unit=unit, name="未排张").user
    sitting.ensure_seats(exam, now_utc())
    loose = sitting.seat_of(exam, unplaced)
    loose.session_id = session.id  # in the session, no room yet
    db.session.commit()
    lookup = f"/sitting/sessions/{session.id}/checkin/lookup"
    auth.login("sechere")
    for data in ({"ticket": theirs.ticket_no}, {"code": sitting.ticket_code(theirs)}, {"ticket": loose.ticket_no}):
        response = client.post_form(lookup, {**data, "room": rooms[0].id})
        (card,) = response.get_json()["candidates"]
        raw = json.dumps(response.get_json(), ensure_ascii=False)
        assert neighbour.name not in raw and neighbour.username not in raw and unit.name not in raw
        assert "未排张" not in raw and unplaced.username not in raw
        assert card["seat"] is None and not card["can_confirm"] and card["photo"] is None and card["problem"]
    # Their own candidate: the full card.
    (card,) = client.post_form(lookup, {"ticket": sitting.seat_of(exam, candidate).ticket_no}).get_json()["candidates"]
    assert card["name"] == candidate.name and card["can_confirm"]
    # The name search stays within their rooms.
    assert client.post_form(lookup, {"name": "邻座王"}).status_code == 404
    assert client.post_form(lookup, {"name": "未排张"}).status_code == 404
    auth.logout()
    # A proctor of the whole session and the district find them by name.
    whole = make_user(username="secwhole", roles=(Role.PROCTOR,))
    sitting.assign_proctor(session, None, whole, actor=None, now=now_utc())
    db.session.commit()
    auth.login("secwhole")
    found = client.post_form(lookup, {"name": "邻座王"}).get_json()["candidates"]
    assert [c["name"] for c in found] == ["邻座王"]
    auth.logout()
    auth.login_as("org_admin")
    assert [c["name"] for c in client.post_form(lookup, {"name": "未排张"}).get_json()["candidates"]] == ["未排张"]


# ---------------------------------------------------------------- F. odd codes and numbers


#: Odd input -> the refusal's code: not a code of ours at all, or one of ours whose signature is mangled.
ODD_CODES = {
    "QE1.².1.0123456789abcdef": "bad_ticket_code",
    "QE1.1.²³.0123456789abcdef": "bad_ticket_code",
    "QE1.١.1.0123456789abcdef": "bad_ticket_code",
    "QE1.1.1.é123456789abcdef": "forged_ticket",
}
#: Odd input refused plainly before the review too (kept as the door's regression guards).
PLAIN_CODES = {"QE1.1.1.0123456789ABCDEF": "forged_ticket", "QE1.1.1.": "forged_ticket", "QE1...": "bad_ticket_code"}
STATUS = {"bad_ticket_code": 400, "forged_ticket": 403}


@pytest.mark.parametrize("code", ODD_CODES)
def test_odd_ticket_codes_are_refused_plainly_by_the_service(app, db, code):
    exam, _candidate = make_open_exam(code="SEC3", qtypes=("single",))
    with pytest.raises(DomainError) as caught:
        sitting.seat_by_code(exam, code)
    assert caught.value.code == ODD_CODES[code]


def test_odd_codes_and_numbers_at_the_door_are_refused_plainly(app, db, client, auth):
    exam, unit, session, rooms, candidate, neighbour, incident = _world()
    db.session.commit()
    auth.login("sechere")
    lookup = f"/sitting/sessions/{session.id}/checkin/lookup"
    for code, expected in {**ODD_CODES, **PLAIN_CODES}.items():
        for field in ("code", "ticket"):
            response = client.post_form(lookup, {field: code, "room": rooms[0].id})
            assert response.status_code == STATUS[expected], (field, code)
            assert response.get_json()["error"]["code"] == expected
    for ticket in ("１２３", "²", "12 3", "1" * 21):
        response = client.post_form(lookup, {"ticket": ticket, "room": rooms[0].id})
        assert response.status_code == 404, ticket
        assert response.get_json()["error"]["code"] == "no_such_ticket"
    good = sitting.ticket_code(sitting.seat_of(exam, candidate))
    assert client.post_form(lookup, {"code": good}).get_json()["candidates"][0]["name"] == candidate.name
