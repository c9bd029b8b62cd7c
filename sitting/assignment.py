"""Placing an exam's candidates in its sessions' rooms automatically (by unit, by name, or shuffled so that
colleagues do not sit side by side), and the seats' reads the admins' pages need."""

import heapq
import random
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select

from accounts.models import Cadre, Unit, User
from accounts.services import _pinyin
from core import audit
from core.errors import DomainError
from core.extensions import db
from exam.eligibility import eligible_user_ids
from exam.models import Exam
from sitting.models import Room, Seat, Session, SessionRoom
from sitting.services import ensure_seats

STRATEGIES = ("unit", "name", "shuffle")


@dataclass
class AssignmentResult:
    strategy: str
    placed: int  #: candidates placed by this run
    unplaced: int  #: candidates still without a seat (no room left for them)
    free: int  #: seats left free after the run


def sessions_of(exam: Exam) -> list[Session]:
    """The exam's sessions, in the order they are sat."""
    return list(
        db.session.scalars(select(Session).where(Session.exam_id == exam.id).order_by(Session.starts_at, Session.id))
    )


def loads(exam: Exam) -> dict[tuple[int, int], int]:
    """How many candidates each (session, room) of the exam seats."""
    rows = db.session.execute(
        select(Seat.session_id, Seat.room_id, func.count(Seat.id))
        .where(Seat.exam_id == exam.id, Seat.room_id.is_not(None))
        .group_by(Seat.session_id, Seat.room_id)
    ).all()
    return {(s, r): n for s, r, n in rows}


def unplaced_count(exam: Exam) -> int:
    """Candidates (still eligible) with a ticket row but no room."""
    ids = eligible_user_ids(exam)
    if not ids:
        return 0
    seated = set(db.session.scalars(select(Seat.user_id).where(Seat.exam_id == exam.id, Seat.room_id.is_not(None))))
    return len(ids - seated)


def first_free_seat(session: Session, room: Room) -> int | None:
    """The lowest seat number of the room still free in the session, or None when every seat is taken."""
    taken = set(
        db.session.scalars(
            select(Seat.seat_no).where(
                Seat.session_id == session.id, Seat.room_id == room.id, Seat.seat_no.is_not(None)
            )
        )
    )
    return next((n for n in range(1, room.capacity + 1) if n not in taken), None)


def _free_slots(exam: Exam) -> list[tuple[int, int, int]]:
    """Every free (session, room, seat number), sessions in order, rooms in the session's order, seats 1..n; a
    room never gets more candidates than its capacity."""
    slots = []
    for session in sessions_of(exam):
        links = db.session.scalars(
            select(SessionRoom)
            .where(SessionRoom.session_id == session.id)
            .order_by(SessionRoom.position, SessionRoom.id)
        ).all()
        for link in links:
            room = link.room
            seated = db.session.execute(
                select(Seat.seat_no).where(Seat.session_id == session.id, Seat.room_id == room.id)
            ).all()
            taken = {n for (n,) in seated if n is not None}
            room_left = room.capacity - len(seated)
            free = [n for n in range(1, room.capacity + 1) if n not in taken][: max(0, room_left)]
            slots += [(session.id, room.id, n) for n in free]
    return slots


def _candidates(exam: Exam, only_unplaced: bool) -> list[tuple[Seat, str, str, str]]:
    """The seats to place, as (seat, unit path, name, username): eligible candidates only (a removed candidate
    keeps their ticket row but gets no seat)."""
    eligible = eligible_user_ids(exam)
    stmt = (
        select(Seat, Unit.path, User.name, User.username)
        .join(User, User.id == Seat.user_id)
        .outerjoin(Cadre, Cadre.user_id == User.id)
        .outerjoin(Unit, Unit.id == Cadre.unit_id)
        .where(Seat.exam_id == exam.id)
    )
    if only_unplaced:
        stmt = stmt.where(Seat.room_id.is_(None))
    return [
        (seat, path or "", name, username)
        for seat, path, name, username in db.session.execute(stmt)
        if seat.user_id in eligible
    ]


def _by_unit(rows):
    return sorted(rows, key=lambda r: (r[1] == "", r[1], r[3]))


def _by_name(rows):
    pinyin = _pinyin()
    return sorted(rows, key=lambda r: (pinyin.get_pinyin(r[2], " ").lower(), r[3]))


def _shuffled(rows, seed: int):
    """Colleagues apart: each unit's candidates are shuffled (a `random.Random(seed)`, so one seed always gives
    the same plan), then the seats are dealt one at a time from the unit with the most candidates left that is
    not the unit of the previous seat (ties broken by a seeded random rank of the units). Dealing from the largest
    unit first keeps any two neighbours (consecutive seats) from different units whenever the mix allows it: only
    when one unit has more than half of those left must two of its candidates sit together, at the end."""
    rng = random.Random(seed)
    groups: dict[str, list] = {}
    for row in sorted(rows, key=lambda r: (r[1], r[3])):
        groups.setdefault(row[1], []).append(row)
    units = sorted(groups)
    rng.shuffle(units)
    rank = {unit: i for i, unit in enumerate(units)}
    for unit in units:
        rng.shuffle(groups[unit])
    heap = [(-len(groups[u]), rank[u], u) for u in units]
    heapq.heapify(heap)
    ordered, previous = [], None
    while heap:
        count, r, unit = heapq.heappop(heap)
        if unit == previous and heap:
            other = heapq.heappop(heap)
            heapq.heappush(heap, (count, r, unit))
            count, r, unit = other
        ordered.append(groups[unit].pop())
        previous = unit
        if count + 1 < 0:
            heapq.heappush(heap, (count + 1, r, unit))
    return ordered


def assign_automatically(
    exam: Exam, strategy: str, *, actor, now: datetime, only_unplaced: bool = True, seed: int | None = None
) -> AssignmentResult:
    """Give candidates a session, room and seat: sessions filled in order, each session's rooms in order, seats
    1..n, never beyond a room's capacity. `strategy`: "unit" (colleagues together, units in the tree's order),
    "name" (by name in pinyin order) or "shuffle" (colleagues apart; see `_shuffled`; `seed` defaults to the
    exam's id, so running it again on the same candidates gives the same plan). With `only_unplaced` False,
    every candidate not yet checked in nor recorded absent is placed again. Candidates who do not fit stay
    unplaced and the result counts them. Ticket numbers are given first (services.ensure_seats); one audit
    event per run."""
    if strategy not in STRATEGIES:
        raise DomainError(_("Unknown way of assigning seats."), code="bad_strategy")
    if not sessions_of(exam):
        raise DomainError(_("The exam has no session yet: add one with its rooms first."), code="no_sessions")
    ensure_seats(exam, now)
    if not only_unplaced:
        movable = db.session.scalars(
            select(Seat).where(
                Seat.exam_id == exam.id,
                Seat.room_id.is_not(None),
                Seat.checked_in_at.is_(None),
                Seat.absent_at.is_(None),
            )
        ).all()
        for seat in movable:
            seat.session_id = seat.room_id = seat.seat_no = None
        db.session.flush()
    rows = _candidates(exam, only_unplaced=True)
    if strategy == "unit":
        rows = _by_unit(rows)
    elif strategy == "name":
        rows = _by_name(rows)
    else:
        rows = _shuffled(rows, exam.id if seed is None else seed)
    slots = _free_slots(exam)
    placed = 0
    for (seat, *_rest), (session_id, room_id, seat_no) in zip(rows, slots, strict=False):
        seat.session_id, seat.room_id, seat.seat_no = session_id, room_id, seat_no
        placed += 1
    db.session.flush()
    result = AssignmentResult(strategy, placed, len(rows) - placed, len(slots) - placed)
    audit.record(
        "sitting.seats_assigned",
        actor=actor,
        target=f"exam:{exam.code}",
        at=now,
        detail={
            "strategy": strategy,
            "everyone": not only_unplaced,
            "placed": result.placed,
            "unplaced": result.unplaced,
            "free": result.free,
        },
    )
    return result
