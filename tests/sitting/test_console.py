"""The proctor's console: every candidate's state and alerts in a fixed number of statements, the JSON twin (no
answer nor key in it), the session's and the district's sums, and the proctor's landing page."""

from datetime import timedelta

from sqlalchemy import event

from accounts.models import Unit
from core.extensions import db
from core.models import now_utc
from core.policy import Role
from exam import answers, attempts, timeline
from sitting import console
from sitting import services as sitting
from tests.factories import make_cadre, make_open_exam, make_sitting, make_user

SECRET_ANSWER = "绝密作答内容"


def _world(extra=5, rooms=2):
    """An open exam with 1 + `extra` candidates seated in the first room, a proctor of that room (also a cadre)."""
    exam, first = make_open_exam(code="CON1", qtypes=("single", "essay"))
    unit = db.session.get(Unit, exam.eligibility["unit_ids"][0])
    others = [make_cadre(unit=unit).user for _ in range(extra)]
    session, made = make_sitting(exam, rooms=rooms, capacity=10)
    proctor = make_user(username="proctor1", roles=(Role.PROCTOR, Role.CADRE))
    sitting.assign_proctor(session, made[0], proctor, actor=None, now=now_utc())
    db.session.commit()
    return exam, session, made, [first, *others], proctor


def _count_statements(fn):
    seen = []

    def count(*args, **kwargs):
        seen.append(args[2])

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        result = fn()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return result, seen


def _states(exam, session, room, now=None):
    return {c.username: c for c in console.candidates(exam, now or now_utc(), session_id=session.id,
                                                      room_ids=[room.id])}  # fmt: skip


def test_every_state_and_the_progress(app, db):
    exam, session, rooms, people, _proctor = _world(extra=5)
    now = now_utc()
    running, submitted, absent, checked, paused, waiting = people
    attempt = attempts.start_attempt(exam, running, now)
    essay = next(i for i in attempt.paper.items if i.section.qtype == "essay")
    answers.save_answer(attempt.id, essay.position, SECRET_ANSWER, 1, now + timedelta(seconds=5))
    timeline.record_event(attempt, "paste", now + timedelta(seconds=6))
    done = attempts.start_attempt(exam, submitted, now)
    attempts.submit(done, now + timedelta(seconds=1))
    held = attempts.start_attempt(exam, paused, now)
    held.paused_at = now
    sitting.seat_of(exam, absent).absent_at = now
    sitting.seat_of(exam, checked).checked_in_at = now
    db.session.commit()

    found = _states(exam, session, rooms[0], now + timedelta(seconds=10))
    assert found[running.username].state == "in_progress"
    assert (found[running.username].answered, found[running.username].total) == (1, 2)
    assert found[running.username].pastes == 1
    assert found[running.username].online and found[running.username].silent_seconds == 4
    assert found[submitted.username].state == "submitted"
    assert found[absent.username].state == "absent"
    assert found[checked.username].state == "checked_in"
    assert found[waiting.username].state == "not_checked_in"
    assert found[paused.username].paused and found[paused.username].state == "in_progress"
    assert console.summary(list(found.values()))["states"]["in_progress"] == 2
    # Seat order, and only this room's candidates.
    assert [c.seat_no for c in found.values()] == sorted(c.seat_no for c in found.values())
    assert not _states(exam, session, rooms[1])


def test_alerts_silent_focus_and_pastes(app, db):
    exam, session, rooms, people, _proctor = _world(extra=2)
    now = now_utc()
    exam.focus_loss_limit = 3
    quiet, switching, pasting = (attempts.start_attempt(exam, user, now) for user in people)
    switching.focus_losses = 2
    for i in range(console.PASTE_ALERT):
        timeline.record_event(pasting, "paste", now + timedelta(minutes=2, seconds=i))
    answers.save_answer(switching.id, 1, 0, 1, now + timedelta(minutes=2))
    db.session.commit()
    found = _states(exam, session, rooms[0], now + timedelta(minutes=3, seconds=30))
    assert found[quiet.user.username].alerts == ["silent"]
    assert found[quiet.user.username].silent_seconds == 210 and not found[quiet.user.username].online
    assert found[switching.user.username].alerts == ["focus"]
    assert found[pasting.user.username].alerts == ["pastes"]
    # A paused clock raises no silence alert: the candidate was told to wait.
    quiet.paused_at = now
    db.session.commit()
    assert _states(exam, session, rooms[0], now + timedelta(minutes=10))[quiet.user.username].alerts == []


def test_the_threshold_follows_the_settings(app, db):
    exam, session, rooms, people, _proctor = _world(extra=0)
    now = now_utc()
    attempts.start_attempt(exam, people[0], now)
    sitting.settings_of(exam).silent_alert_minutes = 10
    db.session.commit()
    assert _states(exam, session, rooms[0], now + timedelta(minutes=9))[people[0].username].alerts == []
    assert _states(exam, session, rooms[0], now + timedelta(minutes=10))[people[0].username].alerts == ["silent"]
    app.config["CONSOLE_SILENT_SECONDS"] = 5
    assert _states(exam, session, rooms[0], now + timedelta(seconds=6))[people[0].username].alerts == ["silent"]


def test_the_statements_do_not_grow_with_the_candidates(app, db):
    exam, session, rooms, people, _proctor = _world(extra=8)
    now = now_utc()
    for user in people[:3]:
        attempts.start_attempt(exam, user, now)
    db.session.commit()
    where = {"session_id": session.id, "room_ids": [rooms[0].id]}
    db.session.expire_all()
    few, small_list = _count_statements(lambda: console.candidates(exam, now, **where))
    for user in people[3:]:
        attempt = attempts.start_attempt(exam, user, now)
        answers.save_answer(attempt.id, 1, 0, 1, now)
        timeline.record_event(attempt, "paste", now)
    db.session.commit()
    db.session.expire_all()
    many, large_list = _count_statements(lambda: console.candidates(exam, now, **where))
    assert len(few) == len(many) == 9
    # The exam's row and settings (expired above), then the six of the read model, each time.
    assert len(small_list) == len(large_list) <= 8, large_list


def test_the_json_twin_shows_no_answer_and_only_to_the_rooms_proctors(app, db, client, auth):
    exam, session, rooms, people, proctor = _world(extra=1)
    now = now_utc()
    attempt = attempts.start_attempt(exam, people[0], now)
    essay = next(i for i in attempt.paper.items if i.section.qtype == "essay")
    answers.save_answer(attempt.id, essay.position, SECRET_ANSWER, 1, now)
    db.session.commit()
    auth.login("proctor1")
    response = client.get(f"/sitting/sessions/{session.id}/rooms/{rooms[0].id}/console.json")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert SECRET_ANSWER not in body and "SECRET" not in body
    data = response.get_json()
    line = next(c for c in data["candidates"] if c["username"] == people[0].username)
    assert line["answered"] == 1 and line["state"] == "in_progress" and "value" not in line
    assert data["summary"]["states"]["in_progress"] == 1
    assert response.headers["Cache-Control"] == "no-store"
    page = client.get(f"/sitting/sessions/{session.id}/rooms/{rooms[0].id}/console")
    assert page.status_code == 200 and SECRET_ANSWER not in page.get_data(as_text=True)
    assert client.get(f"/sitting/sessions/{session.id}/rooms/{rooms[1].id}/console.json").status_code == 403


def test_a_room_outside_the_session_is_not_found(app, db, client, auth):
    exam, session, rooms, _people, _proctor = _world(extra=0)
    other = sitting.create_room(rooms[0].unit, "别的考场", 5, actor=None, now=now_utc())
    db.session.commit()
    auth.login_as("system_admin")
    assert client.get(f"/sitting/sessions/{session.id}/rooms/{other.id}/console").status_code == 404


def test_the_session_console_sums_only_the_proctors_rooms(app, db, client, auth):
    exam, session, rooms, people, proctor = _world(extra=2)
    # The third candidate moves to the second room: the first room's proctor does not see it.
    seat = sitting.seat_of(exam, people[2])
    sitting.move_seat(seat, session, rooms[1], 1, actor=None, reason="", now=now_utc())
    attempts.start_attempt(exam, people[0], now_utc())
    db.session.commit()
    auth.login("proctor1")
    html = client.get(f"/sitting/sessions/{session.id}/console").get_data(as_text=True)
    assert rooms[0].name in html and rooms[1].name not in html
    auth.logout()
    auth.login_as("org_admin")
    html = client.get(f"/sitting/sessions/{session.id}/console").get_data(as_text=True)
    assert rooms[0].name in html and rooms[1].name in html
    html = client.get(f"/sitting/exams/{exam.code}/console").get_data(as_text=True)
    assert session.name in html and rooms[1].name in html


def test_the_district_view_counts_every_room(app, db):
    exam, session, rooms, people, _proctor = _world(extra=3)
    sitting.move_seat(sitting.seat_of(exam, people[3]), session, rooms[1], 1, actor=None, reason="", now=now_utc())
    attempts.start_attempt(exam, people[3], now_utc())
    db.session.commit()
    per_room = console.by_room(console.candidates(exam, now_utc()))
    assert per_room[(session.id, rooms[0].id)]["total"] == 3
    assert per_room[(session.id, rooms[1].id)]["states"]["in_progress"] == 1


def test_the_proctors_landing_page_lists_their_rooms(app, db, client, auth):
    exam, session, rooms, _people, proctor = _world(extra=0)
    auth.login("proctor1")
    html = client.get("/sitting/proctor/").get_data(as_text=True)
    assert f"/sitting/sessions/{session.id}/rooms/{rooms[0].id}/console" in html
    assert f"/sitting/sessions/{session.id}/rooms/{rooms[1].id}/console" not in html
    home = client.get("/").get_data(as_text=True)
    assert 'href="/sitting/proctor/"' in home  # the nav entry
    auth.logout()
    auth.login_as("cadre")
    assert 'href="/sitting/proctor/"' not in client.get("/").get_data(as_text=True)


def test_the_partial_for_the_exams_page(app, db):
    from flask import render_template_string

    from sitting.console_views import session_rooms

    exam, session, rooms, _people, _proctor = _world(extra=2)
    with app.test_request_context("/"):
        html = render_template_string(
            '{% include "sitting/_session_console.html" %}', exam=exam, session=session, rooms=session_rooms(session)
        )
    assert f"/sitting/sessions/{session.id}/console" in html
    assert f"/sitting/sessions/{session.id}/rooms/{rooms[1].id}/console" in html
    assert "3" in html  # the first room's candidates
