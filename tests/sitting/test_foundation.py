"""The sitting's core services: rooms, sessions, seats and ticket numbers, seats moved by hand, ticket codes,
proctors' places."""

import pytest
from sqlalchemy import select

from core.errors import DomainError
from core.models import now_utc
from core.policy import Role, may_proctor
from sitting import services as sitting
from sitting.models import Seat
from tests.factories import make_cadre, make_open_exam, make_sitting, make_user


def test_every_candidate_gets_a_seat_and_ticket(db):
    exam, cadre = make_open_exam()
    session, rooms = make_sitting(exam, rooms=2, capacity=2)
    seat = sitting.seat_of(exam, cadre)
    assert seat.session_id == session.id and seat.room_id == rooms[0].id and seat.seat_no == 1
    assert seat.ticket_no == sitting.ticket_number(exam, 1)


def test_a_seat_taken_twice_and_a_full_room_are_refused(db):
    exam, cadre = make_open_exam()
    other = make_cadre(unit=cadre.cadre.unit).user
    session, rooms = make_sitting(exam, rooms=1, capacity=1)
    seat = sitting.seat_of(exam, other)
    assert seat.room_id is None  # beyond the seats: unplaced
    with pytest.raises(DomainError) as caught:
        sitting.move_seat(seat, session, rooms[0], 1, actor=None, reason="", now=now_utc())
    assert caught.value.code == "room_full"


def test_ticket_codes_are_signed_and_bound_to_the_exam(db):
    exam, cadre = make_open_exam()
    make_sitting(exam)
    seat = sitting.seat_of(exam, cadre)
    code = sitting.ticket_code(seat)
    assert sitting.seat_by_code(exam, code) == seat
    forged = code[:-1] + ("0" if code[-1] != "0" else "1")
    with pytest.raises(DomainError) as caught:
        sitting.seat_by_code(exam, forged)
    assert caught.value.code == "forged_ticket"
    other, _ = make_open_exam(code="T2")
    with pytest.raises(DomainError) as caught:
        sitting.seat_by_code(other, code)
    assert caught.value.code == "other_exam_ticket"


def test_proctors_act_only_where_assigned(db):
    exam, _ = make_open_exam()
    session, rooms = make_sitting(exam, rooms=2)
    proctor = make_user(roles=(Role.PROCTOR, Role.CADRE))
    assert not may_proctor(proctor, session.id, rooms[0].id)
    sitting.assign_proctor(session, rooms[0], proctor, actor=None, now=now_utc())
    assert may_proctor(proctor, session.id, rooms[0].id)
    assert may_proctor(proctor, session.id)
    assert not may_proctor(proctor, session.id, rooms[1].id)
    cadre_only = make_user(roles=(Role.CADRE,))
    assert not may_proctor(cadre_only, session.id)
    assert db.session.scalar(select(Seat.id).where(Seat.exam_id == exam.id)) is not None
