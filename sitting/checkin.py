"""Check-in at the door (签到): a proctor checks a placed candidate in inside their session's check-in window; the
start check the exam engine asks (checked in, inside the session, from the room's network); the absences (缺考)
recorded once at the end of the check-in window, by a periodic job or the district's button."""

from datetime import datetime

from flask import has_request_context, request
from flask_babel import gettext as _
from sqlalchemy import select, update

from core import audit
from core.errors import DomainError
from core.extensions import db
from core.i18n import localtime
from exam.attempts import register_start_check
from exam.models import Attempt, Exam
from jobs import periodic
from sitting.models import Seat, Session, SittingSettings
from sitting.services import address_in, parse_networks, seat_of

RECORD_ABSENCES = "sitting.record-absences"


def _hm(value: datetime) -> str:
    return localtime(value, "HH:mm")


def _where(seat: Seat) -> str:
    """The room (and its address) a seat is in, for a sentence."""
    if seat.room is None:
        return ""
    return f"{seat.room.name}（{seat.room.address}）" if seat.room.address else seat.room.name


# ---------------------------------------------------------------- at the door


def check_in(seat: Seat, actor, now: datetime) -> Seat:
    """Check a placed candidate in, inside their session's check-in window, once (a second scan is refused with
    the time of the first, also when two proctors scan at the same moment). A proctor cannot check themselves in."""
    if seat.session is None or seat.room_id is None:
        raise DomainError(
            _("This candidate has no room in a session yet: ask the district to place them."),
            code="not_placed",
            status=409,
        )
    if actor is not None and actor.id == seat.user_id:
        raise DomainError(
            _("You cannot check yourself in: another proctor must do it."), code="self_checkin", status=403
        )
    if seat.checked_in_at is not None:
        raise DomainError(
            _("Already checked in at %(time)s.", time=_hm(seat.checked_in_at)), code="already_checked_in", status=409
        )
    session = seat.session
    if now < session.checkin_opens_at:
        raise DomainError(
            _("Check-in opens at %(time)s.", time=_hm(session.checkin_opens_at)), code="checkin_not_open", status=409
        )
    if now > session.checkin_closes_at:
        raise DomainError(
            _(
                "Check-in closed at %(time)s: a late arrival is for the district to decide and record.",
                time=_hm(session.checkin_closes_at),
            ),
            code="checkin_closed",
            status=409,
        )
    done = db.session.execute(
        update(Seat)
        .where(Seat.id == seat.id, Seat.checked_in_at.is_(None))
        .values(checked_in_at=now, checked_in_by_id=getattr(actor, "id", None), absent_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(seat)
    if done.rowcount != 1:  # another proctor was quicker
        raise DomainError(
            _("Already checked in at %(time)s.", time=_hm(seat.checked_in_at)), code="already_checked_in", status=409
        )
    audit.record(
        "sitting.checked_in",
        actor=actor,
        target=f"exam:{seat.exam.code}",
        at=now,
        detail={"user": seat.user_id, "ticket": seat.ticket_no, "session": seat.session_id, "room": seat.room_id},
    )
    return seat


def undo_check_in(seat: Seat, actor, reason: str, now: datetime) -> Seat:
    """Take back a check-in made by mistake (with a reason), while the candidate has not started."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Give a reason."), code="reason_required", problems=(("reason", _("Required.")),))
    if seat.checked_in_at is None:
        raise DomainError(_("This candidate is not checked in."), code="not_checked_in", status=409)
    started = db.session.scalar(
        select(Attempt.id).where(Attempt.exam_id == seat.exam_id, Attempt.user_id == seat.user_id).limit(1)
    )
    if started is not None:
        raise DomainError(
            _("This candidate has started the exam already: the check-in stays."), code="already_started", status=409
        )
    old = seat.checked_in_at
    seat.checked_in_at = None
    seat.checked_in_by_id = None
    db.session.flush()
    audit.record(
        "sitting.checkin_undone",
        actor=actor,
        target=f"exam:{seat.exam.code}",
        at=now,
        detail={
            "user": seat.user_id,
            "ticket": seat.ticket_no,
            "checked_in_at": old.isoformat(),
            "reason": reason[:500],
        },
    )
    return seat


# ---------------------------------------------------------------- the start check


@register_start_check
def may_start(exam: Exam, user, now: datetime) -> None:
    """The sitting's rule for a new attempt (asked by exam.attempts): when the exam requires check-in, a placed
    seat, a check-in and `now` inside the candidate's session; when it restricts the network and the room has
    ranges, a request from one of them (outside a request, e.g. a command, the network is not asked)."""
    settings = db.session.get(SittingSettings, exam.id)
    if settings is None or not (settings.requires_checkin or settings.restrict_network):
        return
    seat = seat_of(exam, user)
    if settings.requires_checkin:
        if seat is None or seat.session is None or seat.room is None:
            raise DomainError(
                _("You have no seat in a session of this exam yet: ask the exam's organisers."),
                code="no_seat",
                status=409,
            )
        session = seat.session
        if now > session.ends_at:
            raise DomainError(
                _("Your session (%(name)s) ended at %(time)s.", name=session.name, time=localtime(session.ends_at)),
                code="session_over",
                status=409,
            )
        if seat.checked_in_at is None:
            if seat.absent_at is not None:
                raise DomainError(
                    _(
                        "You were recorded absent when the check-in closed at %(time)s: ask the exam's organisers.",
                        time=_hm(session.checkin_closes_at),
                    ),
                    code="absent",
                    status=409,
                )
            raise DomainError(
                _(
                    "You have not been checked in yet: go to the door of room %(room)s with your admission ticket.",
                    room=_where(seat),
                ),
                code="not_checked_in",
                status=409,
            )
        if now < session.starts_at:
            raise DomainError(
                _("Your session starts at %(time)s: you can start then.", time=localtime(session.starts_at)),
                code="session_not_started",
                status=409,
            )
    if settings.restrict_network and has_request_context():
        if seat is None or seat.session is None or seat.room is None:  # fail closed: no room, no network to start from
            raise DomainError(
                _(
                    "This exam is started only from the computers of its rooms, and you have no room yet: ask the "
                    "exam's organisers."
                ),
                code="no_room",
                status=403,
            )
        networks = parse_networks(seat.room.networks)
        if networks and not address_in(request.remote_addr, networks):
            raise DomainError(
                _(
                    "You are not on the network of room %(room)s: start the exam from a computer in that room.",
                    room=seat.room.name,
                ),
                code="wrong_network",
                status=403,
            )


# ---------------------------------------------------------------- absences


def record_absences(session: Session, now: datetime, actor=None) -> int:
    """Mark absent (缺考) every placed candidate of the session who was neither checked in nor started, once, after
    the check-in window; returns how many. A second call (the job and the button at the same moment) records
    nothing: the session's conditional update lets one through."""
    if now < session.checkin_closes_at:
        raise DomainError(
            _(
                "The check-in is open until %(time)s: absences are recorded after it closes.",
                time=_hm(session.checkin_closes_at),
            ),
            code="checkin_still_open",
            status=409,
        )
    claimed = db.session.execute(
        update(Session)
        .where(Session.id == session.id, Session.absences_recorded_at.is_(None))
        .values(absences_recorded_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        db.session.refresh(session)
        raise DomainError(
            _("The absences of this session were recorded at %(time)s.", time=localtime(session.absences_recorded_at)),
            code="absences_recorded",
            status=409,
        )
    started = select(Attempt.user_id).where(Attempt.exam_id == session.exam_id)
    marked = db.session.execute(
        update(Seat)
        .where(
            Seat.session_id == session.id,
            Seat.room_id.is_not(None),
            Seat.checked_in_at.is_(None),
            Seat.absent_at.is_(None),
            Seat.user_id.not_in(started),
        )
        .values(absent_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(session)
    audit.record(
        "sitting.absences_recorded",
        actor=actor,
        target=f"exam:{session.exam.code}",
        at=now,
        detail={"session": session.id, "absent": marked},
    )
    return marked


def sessions_due(now: datetime) -> list[Session]:
    """Sessions of exams that require check-in whose check-in window has closed and whose absences are not yet
    recorded. (Where no check-in is asked, nobody is checked in: the district records absences by hand if it
    wants them.)"""
    return list(
        db.session.scalars(
            select(Session)
            .join(SittingSettings, SittingSettings.exam_id == Session.exam_id)
            .where(
                SittingSettings.requires_checkin.is_(True),
                Session.checkin_closes_at <= now,
                Session.absences_recorded_at.is_(None),
            )
            .order_by(Session.checkin_closes_at)
        )
    )


@periodic(RECORD_ABSENCES, every=60)
def _record_due_absences(now: datetime) -> None:
    """Every minute, by one worker of the installation (the sweep commits)."""
    for session in sessions_due(now):
        try:
            with db.session.begin_nested():
                record_absences(session, now)
        except DomainError:
            pass  # recorded by the district's button in the meantime


# ---------------------------------------------------------------- reads for the door


def find_seats(
    session: Session, *, code: str = "", ticket: str = "", name: str = "", room_ids: list[int] | None = None
) -> list[Seat]:
    """The seats a lookup at the door names: a scanned ticket code (refused as forged or another exam's by
    services.seat_by_code), a typed ticket number (of the exam), or part of a name (within the session and, given
    `room_ids`, those rooms: a room's proctor searches their rooms only). What a code or a number names may sit
    elsewhere: the views show such a seat to a room's proctor without the person (checkin_views._card)."""
    from accounts.models import User
    from sitting.services import TICKET_CODE_PREFIX, TICKET_NO_RE, seat_by_code

    code, ticket, name = (code or "").strip(), (ticket or "").strip(), (name or "").strip()
    if ticket.startswith(TICKET_CODE_PREFIX + "."):  # a scanner that types what it reads
        code, ticket = ticket, ""
    if code:
        return [seat_by_code(session.exam, code)]
    if ticket:
        found = TICKET_NO_RE.fullmatch(ticket)
        seat = (
            db.session.scalar(select(Seat).where(Seat.exam_id == session.exam_id, Seat.ticket_no == ticket))
            if found is not None
            else None
        )
        if seat is None:
            raise DomainError(
                _("No candidate of this exam holds ticket number %(ticket)s.", ticket=ticket),
                code="no_such_ticket",
                status=404,
            )
        return [seat]
    if name:
        pattern = "%" + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = select(Seat).join(User, User.id == Seat.user_id)
        stmt = stmt.where(Seat.session_id == session.id, User.name.ilike(pattern, escape="\\"))
        if room_ids is not None:
            stmt = stmt.where(Seat.room_id.in_(room_ids))
        found = list(db.session.scalars(stmt.order_by(Seat.room_id, Seat.seat_no, User.name).limit(20)))
        if not found:
            raise DomainError(
                _("Nobody in this session has a name containing “%(name)s”.", name=name)
                if room_ids is None
                else _("Nobody in the rooms you proctor has a name containing “%(name)s”.", name=name),
                code="no_such_name",
                status=404,
            )
        return found
    raise DomainError(_("Scan a ticket, or type a ticket number or a name."), code="empty_lookup")


def roster(session: Session, room_id: int) -> list[dict]:
    """The room's candidates in seat order with their state at the door (one statement)."""
    from accounts.models import Cadre, Unit, User

    started = (
        select(Attempt.id)
        .where(Attempt.exam_id == session.exam_id, Attempt.user_id == Seat.user_id)
        .exists()
        .label("started")
    )
    rows = db.session.execute(
        select(
            Seat.id,
            Seat.seat_no,
            Seat.ticket_no,
            Seat.checked_in_at,
            Seat.absent_at,
            User.name,
            User.username,
            Unit.name.label("unit"),
            started,
        )  # fmt: skip
        .join(User, User.id == Seat.user_id)
        .outerjoin(Cadre, Cadre.user_id == User.id)
        .outerjoin(Unit, Unit.id == Cadre.unit_id)
        .where(Seat.session_id == session.id, Seat.room_id == room_id)
        .order_by(Seat.seat_no.nulls_last(), User.name)
    ).all()
    return [dict(row._mapping, state=state_of(row.checked_in_at, row.absent_at)) for row in rows]


def state_of(checked_in_at, absent_at) -> str:
    if checked_in_at is not None:
        return "checked_in"
    if absent_at is not None:
        return "absent"
    return "waiting"


def sessions_to_check_in(user, now: datetime) -> list[Session]:
    """The sessions whose check-in a proctor runs today or soon (assigned to them; for the district, every one):
    those whose check-in closes from twelve hours ago to a day ahead."""
    from datetime import timedelta

    from core.policy import can, has_district_scope
    from sitting.models import ProctorAssignment

    if not can(user, "sitting.proctor"):
        return []
    stmt = select(Session).where(
        Session.checkin_closes_at >= now - timedelta(hours=12), Session.checkin_opens_at <= now + timedelta(days=1)
    )
    if not has_district_scope(user):
        stmt = stmt.where(
            Session.id.in_(select(ProctorAssignment.session_id).where(ProctorAssignment.user_id == user.id))
        )
    return list(db.session.scalars(stmt.order_by(Session.checkin_opens_at).limit(20)))
