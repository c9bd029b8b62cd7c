"""The console's actions on one attempt: by a proctor of the candidate's room (or the district), each with a reason,
audited, answered in JSON; refused elsewhere, on one's own attempt, and (a reopening) after the session's end."""

from datetime import timedelta

from sqlalchemy import select

from accounts.models import Unit
from core.audit import AuditEvent
from core.extensions import db
from core.models import now_utc
from core.policy import Role
from exam import attempts
from exam.models import Attempt, AttemptEvent
from sitting import services as sitting
from tests.factories import make_cadre, make_open_exam, make_sitting, make_user, make_user_with_role


def _world():
    exam, candidate = make_open_exam(code="ACT1", qtypes=("single", "essay"), release="after_close")
    unit = db.session.get(Unit, exam.eligibility["unit_ids"][0])
    neighbour = make_cadre(unit=unit).user
    session, rooms = make_sitting(exam, rooms=2, capacity=1)  # one seat a room: the neighbour sits in the second
    here = make_user(username="proctorhere", roles=(Role.PROCTOR, Role.CADRE))
    sitting.assign_proctor(session, rooms[0], here, actor=None, now=now_utc())
    attempt = attempts.start_attempt(exam, candidate, now_utc())
    other = attempts.start_attempt(exam, neighbour, now_utc())
    db.session.commit()
    return exam, session, rooms, attempt, other


def _post(client, attempt_id, action, **data):
    response = client.post_form(
        f"/sitting/attempts/{attempt_id}/{action}", data, headers={"Accept": "application/json"}
    )
    return response.status_code, response.get_json()


def _fresh(attempt_id) -> Attempt:
    db.session.expire_all()
    return db.session.get(Attempt, attempt_id)


def test_extend_pause_resume_release_and_submit_by_the_rooms_proctor(app, db, client, auth):
    exam, session, rooms, attempt, _other = _world()
    deadline = attempt.deadline_at
    auth.login("proctorhere")
    status, body = _post(client, attempt.id, "extend", minutes=10, reason="电脑死机")
    assert status == 200 and body["status"] == "in_progress"
    assert _fresh(attempt.id).deadline_at == deadline + timedelta(minutes=10)
    assert _post(client, attempt.id, "pause", reason="停电")[0] == 200
    assert _fresh(attempt.id).paused_at is not None
    status, body = _post(client, attempt.id, "pause", reason="再次")
    assert status == 409 and body["error"]["code"] == "already_paused"
    assert _post(client, attempt.id, "resume", reason="来电")[0] == 200
    assert _fresh(attempt.id).paused_at is None
    assert _post(client, attempt.id, "release", reason="换机")[0] == 200
    assert _fresh(attempt.id).client_id is None
    status, body = _post(client, attempt.id, "submit", reason="考生要求离场")
    assert status == 200 and body["status"] == "submitted"
    kinds = db.session.scalars(select(AttemptEvent.kind).where(AttemptEvent.attempt_id == attempt.id)).all()
    assert {"extended", "paused", "resumed", "released", "forced"} <= set(kinds)
    audited = db.session.scalars(select(AuditEvent).where(AuditEvent.target == f"attempt:{attempt.id}")).all()
    assert {e.action for e in audited} >= {"attempt.extended", "attempt.paused", "attempt.forced"}
    assert all(e.actor_id is not None and e.detail["reason"] for e in audited)


def test_a_reason_is_required_and_the_minutes_are_checked(app, db, client, auth):
    exam, session, rooms, attempt, _other = _world()
    auth.login("proctorhere")
    for action in ("extend", "pause", "resume", "submit", "release", "reopen"):
        status, body = _post(client, attempt.id, action, minutes=5, reason="  ")
        assert (status, body["error"]["code"]) == (400, "reason_required"), action
    status, body = _post(client, attempt.id, "extend", minutes=999, reason="故障")
    assert (status, body["error"]["code"]) == (400, "bad_minutes")
    assert _fresh(attempt.id).paused_at is None and _fresh(attempt.id).status == "in_progress"


def test_no_action_outside_the_proctors_rooms_nor_without_csrf(app, db, client, auth):
    exam, session, rooms, attempt, other = _world()
    auth.login("proctorhere")
    assert _post(client, other.id, "pause", reason="越权")[0] == 403
    assert _fresh(other.id).paused_at is None
    assert client.post(f"/sitting/attempts/{attempt.id}/pause", data={"reason": "无令牌"}).status_code == 400
    assert _fresh(attempt.id).paused_at is None
    assert _post(client, attempt.id, "explode", reason="未知")[0] == 404
    assert _post(client, 987654, "pause", reason="无此")[0] == 404


def test_a_district_admin_who_sits_the_exam_does_not_act_on_their_own_attempt(app, db, client, auth):
    exam, session, rooms, attempt, other = _world()
    admin = make_user_with_role("org_admin")
    admin_cadre = make_cadre(unit=db.session.get(Unit, exam.eligibility["unit_ids"][0]), user=admin)
    sitting.ensure_seats(exam, now_utc())
    seat = sitting.seat_of(exam, admin_cadre.user)
    seat.session_id, seat.room_id = session.id, rooms[0].id
    own = attempts.start_attempt(exam, admin, now_utc())
    db.session.commit()
    auth.login(admin.username)
    assert _post(client, own.id, "extend", minutes=30, reason="自己")[0] == 403
    # A candidate of the exam acts on nobody's attempt of it (conflict of interest: tests/sitting/test_security.py).
    assert _post(client, other.id, "pause", reason="区级")[0] == 403


def test_reopen_within_the_session_only(app, db, client, auth):
    exam, session, rooms, attempt, _other = _world()
    attempts.submit(attempt, now_utc())
    db.session.commit()
    auth.login("proctorhere")
    status, body = _post(client, attempt.id, "reopen", minutes=15, reason="误点交卷")
    assert status == 200 and body["status"] == "in_progress"
    reopened = _fresh(attempt.id)
    assert reopened.reopened == 1 and reopened.score is None
    attempts.submit(reopened, now_utc())
    session.ends_at = now_utc() - timedelta(minutes=1)
    session.starts_at = session.ends_at - timedelta(hours=1)
    db.session.commit()
    status, body = _post(client, attempt.id, "reopen", minutes=15, reason="再次误点")
    assert (status, body["error"]["code"]) == (409, "session_over")
    assert _fresh(attempt.id).status == "submitted"


def test_an_unplaced_candidate_is_not_a_room_proctors(app, db, client, auth):
    exam, session, rooms, attempt, _other = _world()
    seat = sitting.seat_of(exam, attempt.user)
    seat.room_id, seat.seat_no = None, None  # in the session, no room yet
    whole = make_user(username="wholesession", roles=(Role.PROCTOR,))
    sitting.assign_proctor(session, None, whole, actor=None, now=now_utc())
    db.session.commit()
    auth.login("proctorhere")
    assert _post(client, attempt.id, "pause", reason="未分考场")[0] == 403
    auth.logout()
    auth.login("wholesession")
    assert _post(client, attempt.id, "pause", reason="整场监考")[0] == 200
