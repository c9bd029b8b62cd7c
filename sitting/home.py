"""The candidate's home page card: each upcoming exam where they have a seat (session, room, seat, ticket number),
with the ticket's download once the tickets are released (accounts.home's provider)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from accounts import home
from core.extensions import db
from exam.models import Exam
from sitting.models import Seat, Session, SittingSettings


@dataclass(frozen=True)
class MySeat:
    exam: Exam
    session: Session
    seat: Seat
    #: Whether the ticket can be downloaded now.
    released: bool


def my_seats(user, now: datetime) -> list[MySeat]:
    """The user's places in exams whose session has not ended yet, soonest first."""
    rows = db.session.execute(
        select(Seat, SittingSettings.tickets_released_at)
        .join(Session, Session.id == Seat.session_id)
        .outerjoin(SittingSettings, SittingSettings.exam_id == Seat.exam_id)
        .where(Seat.user_id == user.id, Seat.room_id.is_not(None), Seat.seat_no.is_not(None), Session.ends_at > now)
        .order_by(Session.starts_at)
        .options(selectinload(Seat.exam), selectinload(Seat.session), selectinload(Seat.room))
    ).all()
    return [MySeat(seat.exam, seat.session, seat, released is not None) for seat, released in rows]


def home_values(user, now: datetime) -> dict:
    return {"my_seats": my_seats(user, now)}


home.register(home_values)
