"""The sitting's writes and rules: rooms, sessions and their rooms, seats and ticket numbers, seats moved by hand,
proctors' assignments, and the signed ticket code the QR carries. Plain functions that take `now`, flush and never
commit; every change made by a person is audited."""

import hashlib
import hmac
import ipaddress
import re
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from accounts.models import Unit, User
from core import audit
from core.errors import DomainError
from core.extensions import db
from core.policy import Role, can, register_proctoring
from exam.eligibility import eligible_user_ids, is_eligible
from exam.models import Exam
from sitting.models import ProctorAssignment, Room, Seat, Session, SessionRoom, SittingSettings

#: The check-in window's default, around a session's start: opens this long before, closes this long after.
CHECKIN_OPENS_BEFORE = timedelta(minutes=30)
CHECKIN_CLOSES_AFTER = timedelta(minutes=15)


# ---------------------------------------------------------------- rooms


def parse_networks(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """A room's networks: CIDR ranges (or single addresses) separated by commas, spaces or new lines."""
    found = []
    for part in (text or "").replace(",", " ").split():
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise DomainError(
                _("“%(value)s” is not a network range (e.g. 10.1.2.0/24).", value=part),
                code="bad_network",
                problems=(("networks", _("Not a network range: %(value)s", value=part)),),
            ) from None
    return found


def address_in(raw: str | None, networks) -> bool:
    """Is the client address `raw` (request.remote_addr) in one of `networks`? An IPv4-mapped IPv6 address
    (::ffff:10.1.2.3, what a dual-stack server reports for an IPv4 client) is its IPv4 address; an empty or invalid
    address is in none."""
    try:
        address = ipaddress.ip_address(raw or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def _room_fields(name: str, capacity, computers, networks: str) -> tuple[str, int, int, str]:
    name = (name or "").strip()
    if not name:
        raise DomainError(_("Give the room a name."), code="room_name", problems=(("name", _("Required.")),))
    for label, value in (("capacity", capacity), ("computers", computers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < (1 if label == "capacity" else 0):
            raise DomainError(
                _("The room's capacity must be a whole number of at least 1, and its computers at least 0."),
                code="room_numbers",
                problems=((label, _("Not a valid number.")),),
            )
    parsed = parse_networks(networks)
    return name, capacity, computers, "\n".join(str(n) for n in parsed)


def may_set_networks(actor) -> bool:
    """May `actor` change a room's networks (which restrict where its candidates start)? The district only;
    None: the system (a command, the demo)."""
    return actor is None or can(actor, "sitting.manage")


def _refuse_name_taken(unit_id: int, name: str, room_id: int | None = None) -> None:
    """A unit's rooms have names of their own (another room of the unit than `room_id` holding `name` refuses)."""
    stmt = select(Room.id).where(Room.unit_id == unit_id, Room.name == name)
    if room_id is not None:
        stmt = stmt.where(Room.id != room_id)
    if db.session.scalar(stmt) is not None:
        raise DomainError(_("The unit already has a room called “%(name)s”.", name=name), code="room_exists",
                          problems=(("name", _("Already used.")),))  # fmt: skip


def create_room(
    unit: Unit,
    name: str,
    capacity: int,
    *,
    actor,
    now: datetime,
    address: str = "",
    computers: int = 0,
    notes: str = "",
    networks: str = "",
) -> Room:
    if not may_set_networks(actor):  # a unit admin's room starts without ranges: the district sets them
        networks = ""
    name, capacity, computers, networks = _room_fields(name, capacity, computers, networks)
    _refuse_name_taken(unit.id, name)
    room = Room(
        unit_id=unit.id,
        name=name,
        capacity=capacity,
        computers=computers,
        address=(address or "").strip(),
        notes=notes or "",
        networks=networks,
        created_at=now,
    )
    db.session.add(room)
    db.session.flush()
    audit.record(
        "room.created",
        actor=actor,
        target=f"room:{room.id}",
        at=now,
        detail={"unit": unit.code, "name": name, "capacity": capacity},
    )
    return room


def update_room(
    room: Room,
    *,
    actor,
    now: datetime,
    name: str,
    capacity: int,
    address: str = "",
    computers: int = 0,
    notes: str = "",
    networks: str | None = None,
    is_active: bool = True,
) -> Room:
    """Change a room. Its networks (`networks`: None keeps them) change only for those who run the sitting
    (may_set_networks): a unit admin's edit keeps the stored ranges."""
    if networks is None or not may_set_networks(actor):  # the networks gate the start: the district's call
        networks = room.networks
    name, capacity, computers, networks = _room_fields(name, capacity, computers, networks)
    _refuse_name_taken(room.unit_id, name, room.id)
    new = {
        "name": name,
        "capacity": capacity,
        "computers": computers,
        "address": (address or "").strip(),
        "notes": notes or "",
        "networks": networks,
        "is_active": bool(is_active),
    }
    changes = {k: [getattr(room, k), v] for k, v in new.items() if getattr(room, k) != v}
    for key, value in new.items():
        setattr(room, key, value)
    db.session.flush()
    if changes:
        audit.record("room.updated", actor=actor, target=f"room:{room.id}", at=now, detail=changes)
    return room


# ---------------------------------------------------------------- sessions


def settings_of(exam: Exam) -> SittingSettings:
    """The exam's sitting settings (made with the defaults the first time they are asked for)."""
    found = db.session.get(SittingSettings, exam.id)
    if found is None:
        found = SittingSettings(exam_id=exam.id, requires_checkin=False, restrict_network=False, silent_alert_minutes=3)
        db.session.add(found)
        db.session.flush()
    return found


def update_settings(
    exam: Exam, *, actor, now: datetime, requires_checkin: bool, restrict_network: bool, silent_alert_minutes: int
) -> SittingSettings:
    """Change how the exam is sat (check-in required, the room's network, the console's silence alert); audited."""
    if isinstance(silent_alert_minutes, bool) or not isinstance(silent_alert_minutes, int):
        silent_alert_minutes = -1
    if not 1 <= silent_alert_minutes <= 120:
        raise DomainError(
            _("The silence alert must come after 1 to 120 minutes."),
            code="bad_alert_minutes",
            problems=(("silent_alert_minutes", _("From 1 to 120.")),),
        )
    found = settings_of(exam)
    new = {
        "requires_checkin": bool(requires_checkin),
        "restrict_network": bool(restrict_network),
        "silent_alert_minutes": silent_alert_minutes,
    }
    changes = {k: [getattr(found, k), v] for k, v in new.items() if getattr(found, k) != v}
    for key, value in new.items():
        setattr(found, key, value)
    db.session.flush()
    if changes:
        audit.record("sitting.settings_updated", actor=actor, target=f"exam:{exam.code}", at=now, detail=changes)
    return found


def _check_session_times(exam: Exam, starts_at, ends_at, opens, closes) -> None:
    problems = []
    if ends_at <= starts_at:
        problems.append(("ends_at", _("The session must end after it starts.")))
    if closes <= opens:
        problems.append(("checkin_closes_at", _("The check-in must close after it opens.")))
    if opens > starts_at + CHECKIN_CLOSES_AFTER * 4 or closes > ends_at:
        problems.append(
            (
                "checkin_closes_at",
                _("The check-in window must lie around the session's start and close before the session ends."),
            )
        )
    if starts_at < exam.opens_at or ends_at > exam.closes_at:
        problems.append(("starts_at", _("The session must lie within the exam's window.")))
    if problems:
        raise DomainError(problems[0][1], code="bad_session_times", problems=tuple(problems))


def create_session(
    exam: Exam,
    name: str,
    starts_at: datetime,
    ends_at: datetime,
    *,
    actor,
    now: datetime,
    checkin_opens_at: datetime | None = None,
    checkin_closes_at: datetime | None = None,
) -> Session:
    name = (name or "").strip()
    if not name:
        raise DomainError(_("Give the session a name."), code="session_name", problems=(("name", _("Required.")),))
    opens = checkin_opens_at or starts_at - CHECKIN_OPENS_BEFORE
    closes = checkin_closes_at or starts_at + CHECKIN_CLOSES_AFTER
    _check_session_times(exam, starts_at, ends_at, opens, closes)
    if db.session.scalar(select(Session.id).where(Session.exam_id == exam.id, Session.name == name)) is not None:
        raise DomainError(
            _("The exam already has a session called “%(name)s”.", name=name),
            code="session_exists",
            problems=(("name", _("Already used.")),),
        )
    session = Session(
        exam_id=exam.id,
        name=name,
        starts_at=starts_at,
        ends_at=ends_at,
        checkin_opens_at=opens,
        checkin_closes_at=closes,
        created_at=now,
    )
    db.session.add(session)
    db.session.flush()
    settings_of(exam)
    audit.record(
        "sitting.session_created",
        actor=actor,
        target=f"exam:{exam.code}",
        at=now,
        detail={
            "session": session.id,
            "name": name,
            "starts_at": starts_at.isoformat(),
            "ends_at": ends_at.isoformat(),
        },
    )
    return session


def update_session(
    session: Session,
    *,
    actor,
    now: datetime,
    name: str,
    starts_at: datetime,
    ends_at: datetime,
    checkin_opens_at: datetime,
    checkin_closes_at: datetime,
) -> Session:
    name = (name or "").strip()
    if not name:
        raise DomainError(_("Give the session a name."), code="session_name", problems=(("name", _("Required.")),))
    _check_session_times(session.exam, starts_at, ends_at, checkin_opens_at, checkin_closes_at)
    new = {
        "name": name,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "checkin_opens_at": checkin_opens_at,
        "checkin_closes_at": checkin_closes_at,
    }
    changes = {k: [str(getattr(session, k)), str(v)] for k, v in new.items() if getattr(session, k) != v}
    for key, value in new.items():
        setattr(session, key, value)
    db.session.flush()
    if changes:
        audit.record(
            "sitting.session_updated",
            actor=actor,
            target=f"exam:{session.exam.code}",
            at=now,
            detail={"session": session.id, **changes},
        )
    return session


def set_session_rooms(session: Session, rooms: list[Room], *, actor, now: datetime) -> None:
    """The rooms a session uses, in order. A room that still seats candidates of the session cannot be dropped."""
    wanted = {r.id for r in rooms}
    for link in list(session.rooms):
        if link.room_id not in wanted:
            seated = db.session.scalar(
                select(func.count(Seat.id)).where(Seat.session_id == session.id, Seat.room_id == link.room_id)
            )
            if seated:
                raise DomainError(
                    _(
                        "Room “%(room)s” still seats %(n)d candidates of this session: move them first.",
                        room=link.room.name,
                        n=seated,
                    ),
                    code="room_in_use",
                    status=409,
                )
            session.rooms.remove(link)
    have = {link.room_id: link for link in session.rooms}
    for position, room in enumerate(rooms):
        link = have.get(room.id)
        if link is None:
            session.rooms.append(SessionRoom(room_id=room.id, position=position))
        else:
            link.position = position
    db.session.flush()
    audit.record(
        "sitting.session_rooms",
        actor=actor,
        target=f"exam:{session.exam.code}",
        at=now,
        detail={"session": session.id, "rooms": [r.id for r in rooms]},
    )


# ---------------------------------------------------------------- seats and tickets


def ticket_number(exam: Exam, serial: int) -> str:
    """A ticket number: the exam's id and a serial within the exam, digits only (easy to type at the door)."""
    return f"{exam.id:04d}{serial:06d}"


def ensure_seats(exam: Exam, now: datetime) -> int:
    """Give every candidate of the exam a seat row with a ticket number (not yet placed); returns how many were
    added. Numbers are never reused: a candidate removed later keeps their row (and number)."""
    have = set(db.session.scalars(select(Seat.user_id).where(Seat.exam_id == exam.id)))
    missing = sorted(eligible_user_ids(exam) - have)
    if not missing:
        return 0
    serial = db.session.scalar(select(func.count(Seat.id)).where(Seat.exam_id == exam.id)) or 0
    names = dict(db.session.execute(select(User.id, User.username).where(User.id.in_(missing))).all())
    for user_id in sorted(missing, key=lambda u: names.get(u, "")):
        serial += 1
        db.session.add(Seat(exam_id=exam.id, user_id=user_id, ticket_no=ticket_number(exam, serial)))
    db.session.flush()
    return len(missing)


def seat_of(exam: Exam, user: User) -> Seat | None:
    return db.session.scalar(select(Seat).where(Seat.exam_id == exam.id, Seat.user_id == user.id))


def is_candidate(exam: Exam, user: User) -> bool:
    """Does `user` sit `exam` (a seat of it, or eligible by its rules)? A candidate neither proctors nor decides
    anything of the exam."""
    return seat_of(exam, user) is not None or is_eligible(exam, user)


def room_load(session: Session, room: Room) -> int:
    return (
        db.session.scalar(select(func.count(Seat.id)).where(Seat.session_id == session.id, Seat.room_id == room.id))
        or 0
    )


def move_seat(
    seat: Seat, session: Session | None, room: Room | None, seat_no: int | None, *, actor, reason: str, now: datetime
) -> Seat:
    """Place a candidate by hand (or take them out: all None). The room must belong to the session and have room
    left; the seat number must be free in that room and session (the database refuses a seat taken twice too)."""
    if session is not None and session.exam_id != seat.exam_id:
        raise DomainError(_("That session belongs to another exam."), code="wrong_session")
    if room is not None:
        if session is None or room.id not in {link.room_id for link in session.rooms}:
            raise DomainError(_("That room is not used by the session."), code="room_not_in_session")
        moving_in = seat.session_id != session.id or seat.room_id != room.id
        if moving_in and room_load(session, room) >= room.capacity:
            raise DomainError(
                _("Room “%(room)s” is full (%(n)d seats).", room=room.name, n=room.capacity),
                code="room_full",
                status=409,
            )
    if seat_no is not None:
        if (
            room is None
            or isinstance(seat_no, bool)
            or not isinstance(seat_no, int)
            or not 1 <= seat_no <= room.capacity
        ):
            raise DomainError(_("The seat number must be from 1 to the room's capacity."), code="bad_seat_no")
        taken = db.session.scalar(
            select(Seat.id).where(
                Seat.session_id == session.id, Seat.room_id == room.id, Seat.seat_no == seat_no, Seat.id != seat.id
            )
        )
        if taken is not None:
            raise DomainError(
                _("Seat %(n)d of room “%(room)s” is already taken.", n=seat_no, room=room.name),
                code="seat_taken",
                status=409,
            )
    old = {"session": seat.session_id, "room": seat.room_id, "seat": seat.seat_no}
    seat.session_id = session.id if session is not None else None
    seat.room_id = room.id if room is not None else None
    seat.seat_no = seat_no
    db.session.flush()
    audit.record(
        "sitting.seat_moved",
        actor=actor,
        target=f"exam:{seat.exam.code}",
        at=now,
        detail={
            "user": seat.user_id,
            "ticket": seat.ticket_no,
            "old": old,
            "new": {"session": seat.session_id, "room": seat.room_id, "seat": seat_no},
            "reason": (reason or "").strip()[:500],
        },
    )
    return seat


# ---------------------------------------------------------------- the ticket's code (the QR)

TICKET_CODE_PREFIX = "QE1"
#: A ticket code as ticket_code writes it (ASCII digits and hex only: anything else is not a code).
TICKET_CODE_RE = re.compile(r"QE1\.(\d{1,9})\.(\d{1,20})\.([0-9a-f]{16})", re.ASCII)
_TICKET_CODE_SHAPE = re.compile(r"QE1\.\d{1,9}\.\d{1,20}\.[^.]{0,64}", re.ASCII)
#: A typed ticket number.
TICKET_NO_RE = re.compile(r"\d{1,20}", re.ASCII)


def _ticket_key() -> bytes:
    return hmac.new(current_app.config["SECRET_KEY"].encode(), b"qualexam admission tickets", hashlib.sha256).digest()


def _ticket_mac(exam_id: int, ticket_no: str) -> str:
    return hmac.new(_ticket_key(), f"{exam_id}\0{ticket_no}".encode(), hashlib.sha256).hexdigest()[:16]


def ticket_code(seat: Seat) -> str:
    """What the ticket's QR carries: the exam, the ticket number and a signature nobody can make without the
    app's secret key (a forged or altered code is refused at the door)."""
    return f"{TICKET_CODE_PREFIX}.{seat.exam_id}.{seat.ticket_no}.{_ticket_mac(seat.exam_id, seat.ticket_no)}"


def seat_by_code(exam: Exam, code: str) -> Seat:
    """The seat a scanned ticket code names, for `exam`; a clear refusal for a forged code or another exam's."""
    code = (code or "").strip() if isinstance(code, str) else ""
    found = TICKET_CODE_RE.fullmatch(code)
    if found is None:
        if _TICKET_CODE_SHAPE.fullmatch(code):  # a code of ours whose signature is mangled
            raise DomainError(_("The ticket code is forged or damaged."), code="forged_ticket", status=403)
        raise DomainError(_("This is not a QualExam admission ticket code."), code="bad_ticket_code")
    exam_id, ticket_no, mac = int(found[1]), found[2], found[3]
    if not hmac.compare_digest(mac, _ticket_mac(exam_id, ticket_no)):
        raise DomainError(_("The ticket code is forged or damaged."), code="forged_ticket", status=403)
    if exam_id != exam.id:
        raise DomainError(_("This ticket is for another exam."), code="other_exam_ticket", status=409)
    seat = db.session.scalar(select(Seat).where(Seat.exam_id == exam.id, Seat.ticket_no == ticket_no))
    if seat is None:
        raise DomainError(_("No candidate holds this ticket."), code="no_such_ticket", status=404)
    return seat


# ---------------------------------------------------------------- proctors


def assign_proctor(session: Session, room: Room | None, user: User, *, actor, now: datetime) -> ProctorAssignment:
    if Role.PROCTOR not in user.role_names and not user.role_names & {Role.SYSTEM_ADMIN, Role.ORG_ADMIN}:
        raise DomainError(_("%(name)s does not hold the proctor role.", name=user.name), code="not_a_proctor")
    if room is not None and room.id not in {link.room_id for link in session.rooms}:
        raise DomainError(_("That room is not used by the session."), code="room_not_in_session")
    if is_candidate(session.exam, user):
        raise DomainError(
            _("%(name)s is a candidate of this exam and cannot proctor it.", name=user.name),
            code="proctor_is_candidate",
        )
    found = db.session.scalar(
        select(ProctorAssignment).where(
            ProctorAssignment.session_id == session.id,
            ProctorAssignment.user_id == user.id,
            ProctorAssignment.room_id.is_(None) if room is None else ProctorAssignment.room_id == room.id,
        )
    )
    if found is not None:
        return found
    found = ProctorAssignment(session_id=session.id, room_id=room.id if room else None, user_id=user.id)
    db.session.add(found)
    db.session.flush()
    audit.record(
        "sitting.proctor_assigned",
        actor=actor,
        target=f"exam:{session.exam.code}",
        at=now,
        detail={"session": session.id, "room": found.room_id, "user": user.username},
    )
    return found


def remove_proctor(assignment: ProctorAssignment, *, actor, now: datetime) -> None:
    detail = {"session": assignment.session_id, "room": assignment.room_id, "user": assignment.user.username}
    exam_code = assignment.session.exam.code
    db.session.delete(assignment)
    db.session.flush()
    audit.record("sitting.proctor_removed", actor=actor, target=f"exam:{exam_code}", at=now, detail=detail)


def proctor_places(user, session_id: int, room_id: int | None) -> bool:
    """Is the user assigned to that room of the session (a whole-session assignment covers every room); room None:
    to the session or to any of its rooms."""
    stmt = select(ProctorAssignment.id).where(
        ProctorAssignment.session_id == session_id, ProctorAssignment.user_id == user.id
    )
    if room_id is not None:
        stmt = stmt.where((ProctorAssignment.room_id == room_id) | ProctorAssignment.room_id.is_(None))
    return db.session.execute(stmt.limit(1)).first() is not None


def proctors_whole_session(user, session_id: int) -> bool:
    """Does the user proctor the session as a whole (the district, or a whole-session assignment), rather than
    some of its rooms?"""
    from core.policy import has_district_scope, may_proctor

    if not may_proctor(user, session_id):
        return False
    if has_district_scope(user):
        return True
    stmt = select(ProctorAssignment.id).where(
        ProctorAssignment.session_id == session_id,
        ProctorAssignment.user_id == user.id,
        ProctorAssignment.room_id.is_(None),
    )
    return db.session.execute(stmt.limit(1)).first() is not None


def proctored_sessions(user) -> list[Session]:
    """The sessions a proctor is assigned to (any room), latest first."""
    ids = select(ProctorAssignment.session_id).where(ProctorAssignment.user_id == user.id)
    return list(db.session.scalars(select(Session).where(Session.id.in_(ids)).order_by(Session.starts_at.desc())))


register_proctoring(proctor_places)
