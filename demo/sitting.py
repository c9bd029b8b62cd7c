"""The demo's sitting: this year's political-theory exam (ZZLL2026) sat in two rooms of the district's party
school, in one session of today: every candidate placed (colleagues apart), tickets released, a proctor (proctor01)
on the first room and the organisation department's admin over the whole session, a few candidates checked in at
the door, and an incident waiting for the district's decision."""

from datetime import timedelta

from sqlalchemy import select

from accounts.models import Unit, User
from core.extensions import db
from exam.models import Exam
from sitting import assignment, checkin, incidents, services, tickets
from sitting.models import IncidentKind, Seat

# (name, address, seats, working computers, network)
ROOMS = (
    ("党校第一考场", "区委党校综合楼201室", 4, 4, "10.20.1.0/24"),
    ("党校第二考场", "区委党校综合楼202室", 6, 5, "10.20.2.0/24"),
)


def load(now) -> None:
    admin = db.session.scalar(select(User).where(User.username == "zzb001"))
    proctor = db.session.scalar(select(User).where(User.username == "proctor01"))
    exam = db.session.scalar(select(Exam).where(Exam.code == "ZZLL2026"))
    unit = db.session.scalar(select(Unit).where(Unit.code == "ZZB"))
    rooms = [
        services.create_room(unit, name, seats, actor=admin, now=now, address=address, computers=computers,
                             networks=network, notes="考前30分钟开放签到，备用机位2台。")
        for name, address, seats, computers, network in ROOMS
    ]  # fmt: skip
    start = max(now - timedelta(minutes=30), exam.opens_at)
    session = services.create_session(
        exam, "第一场", start, start + timedelta(hours=3), actor=admin, now=now,
        checkin_opens_at=start - timedelta(minutes=30), checkin_closes_at=start + timedelta(hours=2),
    )  # fmt: skip
    services.set_session_rooms(session, rooms, actor=admin, now=now)
    assignment.assign_automatically(exam, "shuffle", actor=admin, now=now)
    services.assign_proctor(session, rooms[0], proctor, actor=admin, now=now)
    services.assign_proctor(session, None, admin, actor=admin, now=now)
    tickets.release_tickets(exam, admin, now)
    seats = db.session.scalars(
        select(Seat).where(Seat.exam_id == exam.id, Seat.room_id == rooms[0].id).order_by(Seat.seat_no)
    ).all()
    for seat in seats[:3]:
        checkin.check_in(seat, proctor, now)
    if seats:
        incidents.record_incident(
            exam, seats[0].user, IncidentKind.EQUIPMENT, now - timedelta(minutes=5),
            "考生所用电脑开考后黑屏，已安排到备用机位继续作答。", "监考员现场确认；备用机位B-03。",
            session=session, room=rooms[0], actor=proctor, now=now,
        )  # fmt: skip
