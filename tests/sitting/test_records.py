"""The sitting record (考场记录): one room's PDF (attendance, absences by name, incidents and decisions, the
proctors' actions, signature lines) and the session's summary; who may download them."""

from datetime import timedelta

from core.models import now_utc
from core.policy import Role
from exam import adjustments, attempts
from sitting import incidents, records
from sitting import services as sitting
from sitting.models import Decision
from tests.archive.test_archive import _text
from tests.factories import make_cadre, make_open_exam, make_sitting, make_user


def _day(db):
    """A session of two rooms (two seats each): in the first room 甲 checked in and sitting (ten minutes more, an
    incident decided), 乙 absent; in the second, 丙 checked in and 丁 never marked."""
    exam, first = make_open_exam(code="REC1", qtypes=("single",))
    unit = first.cadre.unit
    for name in ("乙", "丙", "丁"):
        make_cadre(unit=unit, name=name)
    first.name = "甲"
    session, rooms = make_sitting(exam, rooms=2, capacity=2)
    proctor = make_user(username="proc1", name="监考张", roles=(Role.PROCTOR, Role.CADRE))
    sitting.assign_proctor(session, rooms[0], proctor, actor=None, now=now_utc())
    admin = make_user(name="考务李", roles=(Role.ORG_ADMIN,))
    seats = {s.user.name: s for s in (sitting.seat_of(exam, u.user) for u in _cadres(unit))}
    now = now_utc()
    by_room = {}
    for seat in seats.values():
        by_room.setdefault(seat.room_id, []).append(seat)
    a, b = by_room[rooms[0].id]
    c, d = by_room[rooms[1].id]
    a.checked_in_at = c.checked_in_at = now
    b.absent_at = now
    attempt = attempts.start_attempt(exam, a.user, now)
    adjustments.extend(attempt, 10, proctor, "电脑死机重启", now)
    incident = incidents.record_incident(exam, a.user, "materials", now, "桌面发现复习资料", "资料一份已收存",
                                         session=session, room=rooms[0], actor=proctor, now=now)  # fmt: skip
    incidents.decide(incident, Decision.WARNING, "初犯，予以警告", actor=admin, now=now + timedelta(minutes=1))
    db.session.commit()
    return exam, session, rooms, {"a": a.user, "b": b.user, "c": c.user, "d": d.user}


def _cadres(unit):
    from sqlalchemy import select

    from accounts.models import Cadre
    from core.extensions import db

    return db.session.scalars(select(Cadre).where(Cadre.unit_id == unit.id)).all()


def test_a_rooms_record_says_attendance_incidents_actions_and_has_signature_lines(app, db):
    exam, session, rooms, people = _day(db)
    record = records.room_record(session, rooms[0])
    assert (record.placed, record.checked_in, len(record.absent), record.not_checked_in) == (2, 1, 1, 0)
    assert record.proctors == ["监考张"]
    text = _text(records.room_record_pdf(session, rooms[0], now_utc()))
    assert "考场记录" in text and exam.title in text and rooms[0].name in text and "监考张" in text
    assert "应考2人，签到1人，缺考1人" in text and people["b"].name in text
    assert "携带资料" in text and "桌面发现复习资料" in text and "警告" in text and "初犯，予以警告" in text
    assert "延长时间10分钟" in text and "电脑死机重启" in text
    assert "监考员签名" in text and "日期" in text
    other = records.room_record(session, rooms[1])
    assert (other.placed, other.checked_in, other.not_checked_in, other.incidents, other.actions) == (2, 1, 1, [], [])


def test_the_sessions_summary_counts_every_room(app, db):
    exam, session, rooms, people = _day(db)
    text = _text(records.session_record_pdf(session, now_utc()))
    assert "考场记录汇总" in text and rooms[0].name in text and rooms[1].name in text
    assert "合计" in text and "缺考名单" in text and people["b"].name in text
    assert "桌面发现复习资料" in text and "电脑死机重启" in text and "考务负责人签名" in text


def test_the_records_are_downloaded_by_the_rooms_proctor_and_the_district(app, db, client, auth):
    exam, session, rooms, _people = _day(db)
    auth.login("proc1")
    mine = client.get(f"/sitting/sessions/{session.id}/rooms/{rooms[0].id}/record.pdf")
    assert mine.status_code == 200 and mine.mimetype == "application/pdf"
    assert client.get(f"/sitting/sessions/{session.id}/rooms/{rooms[1].id}/record.pdf").status_code == 403
    assert client.get(f"/sitting/sessions/{session.id}/record.pdf").status_code == 403
    auth.logout()
    auth.login_as("org_admin")
    summary = client.get(f"/sitting/sessions/{session.id}/record.pdf")
    assert summary.status_code == 200 and "考场记录汇总" in _text(summary.data)
    assert client.get(f"/sitting/sessions/{session.id}/rooms/999999/record.pdf").status_code == 404
