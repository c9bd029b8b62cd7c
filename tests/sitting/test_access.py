"""The access matrix of the sitting's pages: every route, every role, and the assigned proctor (a proctor of the
room, who also holds the cadre role, as people do), on one world: an open exam with a session of two rooms, its
candidate seated in the first, an attempt in progress and an incident.

Each helper of a page adds its rows to ROUTES: endpoint (a `#suffix` tells two rows of one endpoint apart) ->
(method, url template, who gets a success). Templates take {exam} (code), {session}, {room} (the first room: the
assigned proctor's), {other_room}, {seat}, {user} (the candidate), {attempt}, {incident} and {unit} (the rooms'
unit). Everyone else signed in gets 403 or 404; anonymous callers are sent to log in."""

import pytest

from core.extensions import db as _db
from core.models import now_utc
from core.policy import Role
from exam import attempts
from sitting import services as sitting
from sitting.models import Incident
from tests.factories import make_open_exam, make_sitting, make_user

ANON = "anonymous"
HERE = "proctor_here"  # a proctor assigned to the first room (and a cadre)
ROLES = [ANON, *[r.value for r in Role], HERE]
DISTRICT = {"system_admin", "org_admin"}
PROCTORS = DISTRICT | {HERE}
SIGNED_IN = set(ROLES) - {ANON}

# endpoint -> (method, url template, roles allowed); written out by hand, not derived from the policy.
ROUTES: dict[str, tuple] = {}

# The admins' pages (sitting.admin_views): rooms for every admin (of their units), the rest for the district.
ADMINS = DISTRICT | {"unit_admin"}
ROUTES.update({
    "sitting.index": ("GET", "/sitting/", ADMINS),
    "sitting.rooms": ("GET", "/sitting/rooms", ADMINS),
    "sitting.room_new": ("GET", "/sitting/rooms/new", ADMINS),
    "sitting.room_new#post": ("POST", "/sitting/rooms/new", ADMINS),
    "sitting.room_edit": ("GET", "/sitting/rooms/{room}/edit", DISTRICT),  # a unit admin's own rooms only
    "sitting.room_edit#post": ("POST", "/sitting/rooms/{room}/edit", DISTRICT),
    "sitting.exam": ("GET", "/sitting/exams/{exam}/", DISTRICT),
    "sitting.exam_settings": ("POST", "/sitting/exams/{exam}/settings", DISTRICT),
    "sitting.assign": ("POST", "/sitting/exams/{exam}/assign", DISTRICT),
    "sitting.session_new": ("GET", "/sitting/exams/{exam}/sessions/new", DISTRICT),
    "sitting.session_edit": ("GET", "/sitting/exams/{exam}/sessions/{session}/edit", DISTRICT),
    "sitting.session_rooms": ("GET", "/sitting/exams/{exam}/sessions/{session}/rooms", DISTRICT),
    "sitting.session_rooms#post": ("POST", "/sitting/exams/{exam}/sessions/{session}/rooms", DISTRICT),
    "sitting.seats": ("GET", "/sitting/exams/{exam}/seats?show=unplaced&session={session}", DISTRICT),
    "sitting.seat_move": ("GET", "/sitting/exams/{exam}/seats/{seat}/move", DISTRICT),
    "sitting.seat_move#post": ("POST", "/sitting/exams/{exam}/seats/{seat}/move", DISTRICT),
    "sitting.proctors": ("GET", "/sitting/exams/{exam}/sessions/{session}/proctors", DISTRICT),
    "sitting.proctor_remove": ("POST", "/sitting/exams/{exam}/proctors/{assignment}/remove", DISTRICT),
})  # fmt: skip

# Admission tickets and a room's papers (sitting.ticket_views). Nobody's ticket is released in this world: the
# candidate's own download is a 404 for everyone here (tests/sitting/test_tickets.py covers it after release).
_PLACE = "/sitting/exams/{exam}/sessions/{session}"
ROUTES.update({
    "sitting.release_tickets": ("POST", "/sitting/exams/{exam}/tickets/release", DISTRICT),
    "sitting.withdraw_tickets": ("POST", "/sitting/exams/{exam}/tickets/withdraw", DISTRICT),
    "sitting.my_ticket": ("GET", "/sitting/exams/{exam}/my-ticket.pdf", set()),
    "sitting.batch_tickets": ("POST", _PLACE + "/tickets", DISTRICT),
    "sitting.batch_tickets#room": ("POST", _PLACE + "/rooms/{room}/tickets", DISTRICT),
    "sitting.door_list": ("GET", _PLACE + "/rooms/{room}/door-list.pdf", PROCTORS),
    "sitting.door_list#xlsx": ("GET", _PLACE + "/rooms/{room}/door-list.xlsx", PROCTORS),
    "sitting.door_list#other_room": ("GET", _PLACE + "/rooms/{other_room}/door-list.pdf", DISTRICT),
    "sitting.seat_plan": ("GET", _PLACE + "/rooms/{room}/seat-plan.pdf", PROCTORS),
    "sitting.seat_plan#xlsx": ("GET", _PLACE + "/rooms/{room}/seat-plan.xlsx", PROCTORS),
    "sitting.seat_plan#other_room": ("GET", _PLACE + "/rooms/{other_room}/seat-plan.xlsx", DISTRICT),
})  # fmt: skip


def world():
    exam, candidate = make_open_exam(code="SX1", qtypes=("single", "essay"))
    session, rooms = make_sitting(exam, rooms=2, capacity=10)
    attempt = attempts.start_attempt(exam, candidate, now_utc())
    here = make_user(username="proctorhere", roles=(Role.PROCTOR, Role.CADRE))
    assignment = sitting.assign_proctor(session, rooms[0], here, actor=None, now=now_utc())
    seat = sitting.seat_of(exam, candidate)
    incident = Incident(exam_id=exam.id, session_id=session.id, room_id=rooms[0].id, user_id=candidate.id,
                        kind="talking", at=now_utc(), description="", evidence="", recorded_at=now_utc())  # fmt: skip
    _db.session.add(incident)
    _db.session.commit()
    return {"exam": exam.code, "session": session.id, "room": rooms[0].id, "other_room": rooms[1].id,
            "seat": seat.id, "user": candidate.id, "attempt": attempt.id, "incident": incident.id,
            "unit": rooms[0].unit_id, "assignment": assignment.id}  # fmt: skip


def test_every_sitting_route_is_in_the_matrix(app):
    assert {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("sitting.")} == {
        key.split("#")[0] for key in ROUTES
    }


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(client, auth, db, role):
    ids = world()
    if role == HERE:
        auth.login("proctorhere")
    elif role != ANON:
        auth.login_as(role)
    wrong = []
    for route in sorted(ROUTES, key=lambda r: (ROUTES[r][0] == "POST", r)):
        method, template, allowed = ROUTES[route][:3]
        url = template.format(**ids)
        response = client.get(url) if method == "GET" else client.post_form(url)
        status, location = response.status_code, response.headers.get("Location", "")
        response.close()
        if role in allowed:
            ok = status in (200, 400) if method == "POST" else status == 200
            ok = ok or status == 302 and "/login" not in location
        elif role == ANON:
            ok = status == 302 and "/login" in location
        else:
            ok = status in (403, 404)
        if not ok:
            wrong.append((route, status))
    assert wrong == []


# ---------------------------------------------------------------- incidents and the sitting record (part D)
ROUTES.update({
    "sitting.incident_new": ("GET", "/sitting/sessions/{session}/rooms/{room}/incidents/new", PROCTORS),
    "sitting.incident_new#other_room": ("GET", "/sitting/sessions/{session}/rooms/{other_room}/incidents/new",
                                        DISTRICT),
    "sitting.incident_new#post": ("POST", "/sitting/sessions/{session}/rooms/{room}/incidents/new", PROCTORS),
    "sitting.exam_incidents": ("GET", "/sitting/exams/{exam}/incidents", DISTRICT),
    "sitting.incident": ("GET", "/sitting/incidents/{incident}", PROCTORS),
    "sitting.incident_decide": ("POST", "/sitting/incidents/{incident}/decide", DISTRICT),
    "sitting.room_record": ("GET", "/sitting/sessions/{session}/rooms/{room}/record.pdf", PROCTORS),
    "sitting.room_record#other_room": ("GET", "/sitting/sessions/{session}/rooms/{other_room}/record.pdf", DISTRICT),
    "sitting.session_record": ("GET", "/sitting/sessions/{session}/record.pdf", DISTRICT),
})  # fmt: skip


# Check-in at the door (sitting.checkin_views): the proctors of the room and the district; the absences button and
# its page's district view for the district only; the candidate's photo for the proctors of their room.
ROUTES.update({
    "sitting.checkin_page": ("GET", "/sitting/sessions/{session}/checkin", PROCTORS),
    "sitting.checkin_page#other_room": ("GET", "/sitting/sessions/{session}/checkin?room={other_room}", DISTRICT),
    "sitting.checkin_lookup": ("POST", "/sitting/sessions/{session}/checkin/lookup", PROCTORS),
    "sitting.checkin_confirm": ("POST", "/sitting/sessions/{session}/checkin/confirm", PROCTORS),
    "sitting.checkin_undo": ("POST", "/sitting/sessions/{session}/checkin/undo", PROCTORS),
    "sitting.record_absences": ("POST", "/sitting/sessions/{session}/absences", DISTRICT),
    "sitting.seat_photo": ("GET", "/sitting/seats/{seat}/photo", set()),  # no photo in the world: 404 for all
})  # fmt: skip


# The proctor's console (sitting/console_views.py).
PROCTOR_ROLE = {"proctor"}  # a proctor assigned nowhere: the landing page only
ROUTES.update({
    "sitting.room_console": ("GET", "/sitting/sessions/{session}/rooms/{room}/console", PROCTORS),
    "sitting.room_console#other": ("GET", "/sitting/sessions/{session}/rooms/{other_room}/console", DISTRICT),
    "sitting.room_console_json": ("GET", "/sitting/sessions/{session}/rooms/{room}/console.json", PROCTORS),
    "sitting.room_console_json#other": ("GET", "/sitting/sessions/{session}/rooms/{other_room}/console.json",
                                        DISTRICT),
    "sitting.session_console": ("GET", "/sitting/sessions/{session}/console", PROCTORS),
    "sitting.exam_console": ("GET", "/sitting/exams/{exam}/console", DISTRICT),
    "sitting.proctor_home": ("GET", "/sitting/proctor/", PROCTORS | PROCTOR_ROLE),
    **{f"sitting.console_action#{action}": ("POST", f"/sitting/attempts/{{attempt}}/{action}", PROCTORS)
       for action in ("extend", "pause", "resume", "submit", "release", "reopen")},
})  # fmt: skip
