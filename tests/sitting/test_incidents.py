"""Incidents (违纪) and the district's decisions: recording by the room's proctor, deciding (and deciding again), and
the decision reaching the result, the ranking, the archive, the qualification and its certificate."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from archive import qualifications
from archive.models import ExamResultRecord, Qualification
from core.audit import AuditEvent
from core.errors import DomainError
from core.extensions import limiter
from core.models import LOCAL_ZONE, now_utc
from core.policy import Role
from exam import answers, attempts
from exam.models import Attempt, AttemptEvent, EventKind
from reports import ranking, statistics
from sitting import incidents
from sitting import services as sitting
from sitting.models import Decision, Incident
from tests.archive.test_archive import _qualified, _text
from tests.exam.test_engine import right_answer
from tests.factories import make_cadre, make_open_exam, make_sitting, make_user


def _answered(exam, user, now, right=True):
    attempt = attempts.start_attempt(exam, user, now)
    for item in attempt.paper.items:
        value = right_answer(attempt, item.position)
        if not right:
            value = (value + 1) % len(item.option_order)
        answers.save_answer(attempt, item.position, value, item.position, now)
    attempts.submit(attempt, now + timedelta(minutes=1))
    return attempt


def _room_world(db):
    """An open single-choice exam, a session of two rooms, the candidate seated in the first and a second candidate
    in the same unit; a proctor of the first room (also a cadre) and one of the second."""
    exam, candidate = make_open_exam(code="INC1", qtypes=("single",))
    other = make_cadre(unit=candidate.cadre.unit, name="王二").user
    session, rooms = make_sitting(exam, rooms=2, capacity=1)
    here = make_user(username="proc1", roles=(Role.PROCTOR, Role.CADRE))
    there = make_user(username="proc2", roles=(Role.PROCTOR,))
    sitting.assign_proctor(session, rooms[0], here, actor=None, now=now_utc())
    sitting.assign_proctor(session, rooms[1], there, actor=None, now=now_utc())
    db.session.commit()
    first = sitting.seat_of(exam, candidate)
    if first.room_id != rooms[0].id:  # seats go by ticket number: make the candidate the first room's
        candidate, other = other, candidate
    return exam, session, rooms, candidate, other, here, there


def _district():
    return make_user(roles=(Role.ORG_ADMIN,))


def _incident(exam, user, session=None, room=None):
    incident = Incident(exam_id=exam.id, session_id=session.id if session else None,
                        room_id=room.id if room else None, user_id=user.id, kind="materials", at=now_utc(),
                        description="夹带纸条", evidence="", recorded_at=now_utc())  # fmt: skip
    from core.extensions import db

    db.session.add(incident)
    db.session.flush()
    return incident


# ---------------------------------------------------------------- recording


def test_the_rooms_proctor_records_an_incident_and_it_is_audited(app, db):
    exam, session, rooms, candidate, _other, here, _there = _room_world(db)
    now = now_utc()
    incident = incidents.record_incident(exam, candidate, "materials", now - timedelta(minutes=2), " 桌下发现手机 ",
                                         "照片两张", session=session, room=rooms[0], actor=here, now=now)  # fmt: skip
    db.session.commit()
    assert (incident.kind, incident.description, incident.recorded_by_id) == ("materials", "桌下发现手机", here.id)
    assert incident.decision is None
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "incident.recorded"))
    assert event.detail["incident"] == incident.id and event.actor_id == here.id
    assert incidents.of_room(session, rooms[0]) == [incident] and incidents.of_room(session, rooms[1]) == []
    assert incidents.counts(exam) == incidents.Counts(total=1, undecided=1, voiding=0)


def test_recording_refuses_another_rooms_proctor_a_candidate_elsewhere_and_bad_input(app, db):
    exam, session, rooms, candidate, other, here, there = _room_world(db)
    now = now_utc()

    def record(user=candidate, kind="talking", at=None, description="交头接耳", room=rooms[0], actor=here):
        return incidents.record_incident(exam, user, kind, at or now, description, "", session=session, room=room,
                                         actor=actor, now=now)  # fmt: skip

    with pytest.raises(DomainError) as exc:
        record(actor=there)
    assert exc.value.code == "not_your_room" and exc.value.status == 403
    with pytest.raises(DomainError) as exc:
        record(user=other)  # seated in the other room
    assert exc.value.code == "not_in_room"
    with pytest.raises(DomainError) as exc:
        record(kind="cheating")
    assert exc.value.code == "bad_kind"
    with pytest.raises(DomainError) as exc:
        record(at=now + timedelta(hours=1))
    assert exc.value.code == "bad_incident_time"
    with pytest.raises(DomainError) as exc:
        record(at=session.checkin_opens_at - timedelta(minutes=1))
    assert exc.value.code == "bad_incident_time"
    with pytest.raises(DomainError) as exc:
        record(description="  ")
    assert exc.value.code == "description_required"
    assert record(actor=_district()).id  # the district records anywhere
    assert record(user=other, room=rooms[1], actor=there).room_id == rooms[1].id


# ---------------------------------------------------------------- deciding


def test_a_part_voided_voids_the_candidates_attempt_and_a_later_decision_restores_it(app, db):
    exam, session, rooms, candidate, other, _here, _there = _room_world(db)
    now = now_utc()
    attempt = _answered(exam, candidate, now)
    kept = _answered(exam, other, now)
    incident = _incident(exam, candidate, session, rooms[0])
    admin = _district()
    with pytest.raises(DomainError) as exc:
        incidents.decide(incident, Decision.PART_VOIDED, "  ", actor=admin, now=now)
    assert exc.value.code == "reason_required" and incident.decision is None
    with pytest.raises(DomainError):
        incidents.decide(incident, "expelled", "理由", actor=admin, now=now)
    incidents.decide(incident, Decision.PART_VOIDED, "携带手机并查阅", actor=admin, now=now)
    db.session.commit()
    assert attempt.voided_at is not None and "携带手机并查阅" in attempt.void_reason
    assert kept.voided_at is None
    assert incidents.affected_attempts(incident) == [attempt]
    assert incidents.counts(exam).voiding == 1
    incidents.decide(incident, Decision.WARNING, "复核后认定情节轻微", actor=admin, now=now + timedelta(minutes=1))
    db.session.commit()
    assert attempt.voided_at is None and attempt.void_reason is None
    kinds = db.session.scalars(
        select(AttemptEvent.kind).where(AttemptEvent.attempt_id == attempt.id).order_by(AttemptEvent.id)
    ).all()
    assert kinds[-2:] == [EventKind.VOIDED, EventKind.RESTORED]
    audits = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "incident.decided").order_by(AuditEvent.id)
    ).all()
    assert [a.detail["old"]["decision"] for a in audits] == [None, "part_voided"]
    assert [a.detail["new"]["decision"] for a in audits] == ["part_voided", "warning"]
    assert audits[0].detail["voided"] == [attempt.id] and audits[1].detail["restored"] == [attempt.id]
    assert audits[1].actor_id == admin.id


def test_another_decision_that_still_voids_keeps_the_attempt_voided(app, db):
    exam, session, rooms, candidate, _other, _here, _there = _room_world(db)
    now = now_utc()
    attempt = _answered(exam, candidate, now)
    first, second = _incident(exam, candidate, session, rooms[0]), _incident(exam, candidate, session, rooms[0])
    admin = _district()
    incidents.decide(first, Decision.PART_VOIDED, "携带资料", actor=admin, now=now)
    incidents.decide(second, Decision.EXAM_VOIDED, "替考", actor=admin, now=now)
    incidents.decide(first, Decision.NO_EFFECT, "误报", actor=admin, now=now)
    db.session.commit()
    assert attempt.voided_at is not None  # the second decision still voids it
    incidents.decide(second, Decision.NO_EFFECT, "复核撤销", actor=admin, now=now)
    assert attempt.voided_at is None


def test_a_whole_exam_voided_voids_both_parts_of_the_cycle_and_withdraws_the_certificate(app, db, client, auth):
    cadre, qual = _qualified(db)
    assert qual is not None
    records = db.session.scalars(
        select(ExamResultRecord).where(ExamResultRecord.user_id == cadre.user_id).order_by(ExamResultRecord.id)
    ).all()
    political = records[0]
    exam = db.session.get(Attempt, political.attempt_id).exam
    incident = _incident(exam, cadre.user)
    admin = _district()
    incidents.decide(incident, Decision.EXAM_VOIDED, "替考属实", actor=admin, now=now_utc())
    db.session.commit()
    voided = db.session.scalars(select(Attempt).where(Attempt.user_id == cadre.user_id)).all()
    assert len(voided) == 2 and all(a.voided_at is not None for a in voided)  # both parts
    for record in db.session.scalars(select(ExamResultRecord).where(ExamResultRecord.user_id == cadre.user_id)):
        assert record.voided is True and record.passed is False and record.score is not None
    revoked = db.session.get(Qualification, qual.id)
    assert revoked.revoked_at is not None and "voided" in revoked.revoke_reason
    assert qualifications.active(cadre.user_id, "2026") is None
    auth.login(cadre.employee_number)
    assert client.get(f"/archive/qualifications/{qual.id}/certificate.pdf").status_code in (403, 404)
    auth.logout()
    limiter.reset()
    assert client.get(f"/verify/{qual.code}").status_code == 404
    # The decision replaced: both parts count again and a new qualification is granted.
    incidents.decide(incident, Decision.WARNING, "复核：证据不足", actor=admin, now=now_utc())
    db.session.commit()
    assert all(r.voided is False and r.passed for r in db.session.scalars(select(ExamResultRecord)))
    assert qualifications.active(cadre.user_id, "2026") is not None


def test_a_part_voided_in_a_cycle_voids_only_that_part(app, db):
    cadre, qual = _qualified(db)
    first = db.session.scalar(
        select(ExamResultRecord).where(ExamResultRecord.user_id == cadre.user_id).order_by(ExamResultRecord.id)
    )
    exam = db.session.get(Attempt, first.attempt_id).exam
    incidents.decide(_incident(exam, cadre.user), Decision.PART_VOIDED, "携带资料", actor=_district(), now=now_utc())
    db.session.commit()
    states = {r.exam_id: r.voided for r in db.session.scalars(select(ExamResultRecord))}
    assert states[exam.id] is True and list(states.values()).count(True) == 1
    assert qualifications.active(cadre.user_id, "2026") is None  # a part missing: no qualification


def test_a_whole_exam_voided_without_a_cycle_is_the_part(app, db):
    exam, session, rooms, candidate, _other, _here, _there = _room_world(db)
    assert not exam.qualification_cycle
    attempt = _answered(exam, candidate, now_utc())
    incident = _incident(exam, candidate, session, rooms[0])
    incidents.decide(incident, Decision.EXAM_VOIDED, "替考", actor=_district(), now=now_utc())
    assert attempt.voided_at is not None
    assert incidents.voided_exam_ids(exam, Decision.EXAM_VOIDED) == {exam.id}


# ---------------------------------------------------------------- where the decision reaches


def test_the_result_page_and_the_api_say_the_score_is_voided_and_why(app, db, client, auth):
    exam, session, rooms, candidate, _other, _here, _there = _room_world(db)
    attempt = _answered(exam, candidate, now_utc())
    incidents.decide(_incident(exam, candidate, session, rooms[0]), Decision.PART_VOIDED, "查阅手机资料",
                     actor=_district(), now=now_utc())  # fmt: skip
    db.session.commit()
    auth.login(candidate.username)
    api = client.get(f"/api/v1/attempts/{attempt.id}").get_json()
    assert api["result"]["voided"] is True and "查阅手机资料" in api["result"]["void_reason"]
    assert api["result"]["passed"] is False and api["result"]["score"] is not None
    html = client.get(f"/my/attempts/{attempt.id}/result").get_data(as_text=True)
    assert 'id="voided"' in html and "查阅手机资料" in html
    assert 'id="standing"' not in html  # not ranked


def test_the_result_of_an_unvoided_attempt_says_nothing_of_voiding(app, db, client, auth):
    exam, _session, _rooms, candidate, _other, _here, _there = _room_world(db)
    attempt = _answered(exam, candidate, now_utc())
    db.session.commit()
    auth.login(candidate.username)
    api = client.get(f"/api/v1/attempts/{attempt.id}").get_json()
    assert api["result"]["voided"] is False and api["result"]["void_reason"] is None
    html = client.get(f"/my/attempts/{attempt.id}/result").get_data(as_text=True)
    assert 'id="voided"' not in html and 'id="standing"' in html


def test_the_ranking_leaves_voided_attempts_out_shows_them_apart_and_its_fingerprint_changes(app, db, client, auth):
    exam, session, rooms, candidate, other, _here, _there = _room_world(db)
    now = now_utc()
    voided = _answered(exam, candidate, now)
    kept = _answered(exam, other, now, right=False)
    db.session.commit()
    before = ranking.kept_for_pages(exam, now)
    stamp = before.fingerprint
    assert before.ranked == 2
    incident = _incident(exam, candidate, session, rooms[0])
    incidents.decide(incident, Decision.PART_VOIDED, "携带资料", actor=_district(), now=now)
    db.session.commit()
    assert ranking.results_fingerprint(exam) != stamp
    after = ranking.kept_for_pages(exam, now)
    assert after.ranked == 1
    rows = db.session.execute(ranking.ranking_query(exam, None, ranking.NO_FILTERS)).all()
    assert [r.attempt_id for r in rows] == [kept.id] and rows[0].exam_rank == 1
    assert [r.attempt_id for r in db.session.execute(ranking.voided_query(exam, None))] == [voided.id]
    assert ranking.voided_count(exam, None) == 1
    assert ranking.standing(exam, candidate) is None and ranking.standing(exam, other)["rank"] == 1
    # Statistics follow the ranking (the voided score counts for nothing): one candidate, who did not pass.
    summary = statistics.summary(exam, None)
    assert (summary["n"], summary["passed"]) == (1, 0)
    auth.login_as("org_admin")
    html = client.get(f"/reports/exams/{exam.code}/ranking").get_data(as_text=True)
    assert 'id="voided-link"' in html
    page = client.get(f"/reports/exams/{exam.code}/ranking?show=voided").get_data(as_text=True)
    assert 'id="voided"' in page and candidate.name in page and "携带资料" in page
    # Restored: ranked again, the fingerprint moves again.
    incidents.decide(incident, Decision.NO_EFFECT, "误报", actor=_district(), now=now)
    db.session.commit()
    assert ranking.kept_for_pages(exam, now).ranked == 2


def test_the_score_slip_says_the_score_is_voided(app, db, client, auth):
    exam, session, rooms, candidate, _other, _here, _there = _room_world(db)
    attempt = _answered(exam, candidate, now_utc())
    incidents.decide(_incident(exam, candidate, session, rooms[0]), Decision.PART_VOIDED, "替考", actor=_district(),
                     now=now_utc())  # fmt: skip
    db.session.commit()
    auth.login(candidate.username)
    response = client.get(f"/reports/attempts/{attempt.id}/slip.pdf")
    assert response.status_code == 200
    text = _text(response.data)
    assert "成绩作废" in text and "名次" not in text


def test_a_voided_attempt_in_progress_is_archived_voided_when_it_ends(app, db):
    exam, session, rooms, candidate, _other, _here, _there = _room_world(db)
    now = now_utc()
    attempt = attempts.start_attempt(exam, candidate, now)
    incidents.decide(_incident(exam, candidate, session, rooms[0]), Decision.PART_VOIDED, "替考", actor=_district(),
                     now=now)  # fmt: skip
    assert attempt.voided_at is not None
    assert db.session.scalar(select(ExamResultRecord).where(ExamResultRecord.attempt_id == attempt.id)) is None
    for item in attempt.paper.items:
        answers.save_answer(attempt, item.position, right_answer(attempt, item.position), item.position, now)
    attempts.submit(attempt, now + timedelta(minutes=1))
    record = db.session.scalar(select(ExamResultRecord).where(ExamResultRecord.attempt_id == attempt.id))
    assert record.voided is True and record.passed is False and attempt.passed is True


# ---------------------------------------------------------------- the pages


def _form(incident_id: int, decision: str, reason: str) -> dict:
    return {f"i{incident_id}-decision": decision, f"i{incident_id}-reason": reason}


def test_a_proctor_records_from_the_rooms_page(app, db, client, auth):
    exam, session, rooms, candidate, other, here, _there = _room_world(db)
    url = f"/sitting/sessions/{session.id}/rooms/{rooms[0].id}/incidents/new"
    auth.login("proc1")
    page = client.get(url).get_data(as_text=True)
    assert candidate.name in page and other.name not in page  # only the room's candidates
    when = now_utc().astimezone(LOCAL_ZONE).strftime("%Y-%m-%dT%H:%M")
    data = {
        "candidate": candidate.id,
        "kind": "switching",
        "at": when,
        "description": "多次切出考试页面",
        "evidence": "",
    }
    response = client.post_form(url, data)
    assert response.status_code == 302 and "/sitting/incidents/" in response.headers["Location"]
    incident = db.session.scalar(select(Incident))
    assert (incident.user_id, incident.kind, incident.recorded_by_id) == (candidate.id, "switching", here.id)
    refused = client.post_form(url, {**data, "candidate": other.id})  # not a choice of this room
    assert refused.status_code == 200 and db.session.query(Incident).count() == 1
    listed = client.get(url).get_data(as_text=True)
    assert 'id="room-incidents"' in listed and candidate.name in listed
    page = client.get(f"/sitting/incidents/{incident.id}").get_data(as_text=True)
    assert "多次切出考试页面" in page and "<form" not in page.split("</header>")[-1].split("<footer")[0]


def test_the_district_decides_from_the_exams_list_and_a_proctor_does_not_see_the_effect(app, db, client, auth):
    exam, session, rooms, candidate, _other, _here, _there = _room_world(db)
    attempt = _answered(exam, candidate, now_utc())
    incident = _incident(exam, candidate, session, rooms[0])
    db.session.commit()
    auth.login_as("org_admin")
    listing = client.get(f"/sitting/exams/{exam.code}/incidents").get_data(as_text=True)
    assert f'id="incident-{incident.id}"' in listing and 'class="warn"' in listing
    url = f"/sitting/incidents/{incident.id}/decide"
    client.post_form(url, _form(incident.id, "part_voided", ""))  # no reason: refused
    db.session.expire_all()
    assert db.session.get(Incident, incident.id).decision is None
    response = client.post_form(url, _form(incident.id, "part_voided", "查实携带手机"))
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Attempt, attempt.id).voided_at is not None
    page = client.get(f"/sitting/incidents/{incident.id}").get_data(as_text=True)
    assert 'id="affected"' in page and "查实携带手机" in page
    auth.logout()
    auth.login("proc1")
    page = client.get(f"/sitting/incidents/{incident.id}").get_data(as_text=True)
    assert "查实携带手机" not in page and 'id="affected"' not in page and "<textarea" not in page


def test_the_partials_show_counts_and_links_by_role(app, db, client, auth):
    from flask import render_template
    from flask_login import login_user

    exam, session, rooms, candidate, _other, here, _there = _room_world(db)
    _incident(exam, candidate, session, rooms[0])
    db.session.commit()
    loads = [(r, sitting.room_load(session, r)) for r in rooms]
    with app.test_request_context():
        login_user(_district())
        box = render_template("sitting/_exam_incidents.html", exam=exam)
        links = render_template("sitting/_session_record.html", exam=exam, session=session, rooms=loads)
    assert 'id="undecided"' in box and f"/sitting/exams/{exam.code}/incidents" in box
    assert links.count("/record.pdf") == 3  # two rooms and the summary
    with app.test_request_context():
        login_user(here)
        assert "exam-incidents" not in render_template("sitting/_exam_incidents.html", exam=exam)
        links = render_template("sitting/_session_record.html", exam=exam, session=session, rooms=loads)
    assert f"/rooms/{rooms[0].id}/record.pdf" in links and f"/rooms/{rooms[1].id}/record.pdf" not in links
    assert f"/sessions/{session.id}/record.pdf" not in links


def test_the_other_part_of_a_cycle_voided_as_a_whole_cannot_be_started(app, db):
    from tests.exam.test_engine import T0

    cadre, _qual = _qualified(db)
    first = db.session.scalar(select(ExamResultRecord).order_by(ExamResultRecord.id))
    exam = db.session.get(Attempt, first.attempt_id).exam
    incident = _incident(exam, cadre.user)
    incidents.decide(incident, Decision.PART_VOIDED, "携带资料", actor=_district(), now=now_utc())
    other = db.session.scalar(select(ExamResultRecord).where(ExamResultRecord.exam_id != exam.id))
    other_exam = db.session.get(Attempt, other.attempt_id).exam
    assert attempts.start_refusal(other_exam, cadre.user, T0) is None  # the part only
    assert attempts.start_refusal(exam, cadre.user, T0) is not None
    incidents.decide(incident, Decision.EXAM_VOIDED, "替考", actor=_district(), now=now_utc())
    with pytest.raises(DomainError) as exc:
        incidents.no_start_after_voiding(other_exam, cadre.user, T0)
    assert exc.value.code == "voided_by_decision"
