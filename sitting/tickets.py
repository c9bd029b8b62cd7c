"""Admission tickets (准考证): their release to the candidates, the facts one ticket shows, and the ticket drawn as one
A4 page (the candidate's own download and the admins' batch draw the same page)."""

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

import segno
from flask_babel import gettext as _
from fpdf.enums import MethodReturnValue
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from accounts.models import Cadre, CadrePhoto, User
from core import audit
from core.errors import DomainError
from core.extensions import db
from core.i18n import localtime
from core.pdf import Pdf
from exam.models import Exam
from sitting.models import Room, Seat, Session, SessionRoom, SittingSettings
from sitting.services import settings_of, ticket_code

#: Exam instructions longer than this are left off the ticket (the exam page shows them in full).
SHORT_INSTRUCTIONS = 240
#: Seats loaded at a time by the batch.
BATCH = 200


def rules() -> list[str]:
    """The fixed rules printed on every ticket (our own words)."""
    return [
        _("Arrive at the room before the check-in closes; late candidates may not be admitted."),
        _("Bring this ticket and your identity card; both are checked at the door."),
        _("Phones, smart watches and other devices are switched off and left where the proctor says."),
        _("No notes, books or materials unless the exam allows them; do not talk to other candidates."),
        _("Follow the proctors' instructions; misconduct is recorded and may void your result."),
    ]


# ---------------------------------------------------------------- release


def released_at(exam: Exam) -> datetime | None:
    """When the exam's tickets were released (None: not released; asking makes no settings row)."""
    settings = db.session.get(SittingSettings, exam.id)
    return settings.tickets_released_at if settings is not None else None


def released(exam: Exam) -> bool:
    return released_at(exam) is not None


def release_tickets(exam: Exam, actor, now: datetime) -> int:
    """Let the candidates download their tickets (from now on); returns how many placed candidates have one."""
    settings = settings_of(exam)
    if settings.tickets_released_at is not None:
        raise DomainError(_("The tickets are already released."), code="tickets_released", status=409)
    placed = len(placed_seat_ids(exam))
    if not placed:
        raise DomainError(_("No candidate has a seat yet: place the candidates first."), code="nobody_placed")
    settings.tickets_released_at = now
    db.session.flush()
    audit.record("sitting.tickets_released", actor=actor, target=f"exam:{exam.code}", at=now,
                 detail={"placed": placed})  # fmt: skip
    return placed


def withdraw_tickets(exam: Exam, actor, now: datetime) -> None:
    """Take the tickets back: the candidates can no longer download them (those printed stay valid)."""
    settings = settings_of(exam)
    if settings.tickets_released_at is None:
        raise DomainError(_("The tickets are not released."), code="tickets_not_released", status=409)
    was = settings.tickets_released_at
    settings.tickets_released_at = None
    db.session.flush()
    audit.record("sitting.tickets_withdrawn", actor=actor, target=f"exam:{exam.code}", at=now,
                 detail={"released_at": was.isoformat()})  # fmt: skip


def _placed():
    return Seat.session_id.is_not(None) & Seat.room_id.is_not(None) & Seat.seat_no.is_not(None)


def placed_seat_ids(exam: Exam) -> list[int]:
    return list(db.session.scalars(select(Seat.id).where(Seat.exam_id == exam.id, _placed())))


def counts(exam: Exam) -> tuple[int, int]:
    """(candidates placed, so with a ticket; candidates with a ticket number but no seat yet)."""
    placed = func.count(Seat.id).filter(_placed())
    row = db.session.execute(select(placed, func.count(Seat.id)).where(Seat.exam_id == exam.id)).one()
    return row[0], row[1] - row[0]


def own_ticket_seat(exam: Exam, user) -> Seat | None:
    """The user's seat if they may download its ticket now: released, and placed (session, room and seat)."""
    if not released(exam):
        return None
    return db.session.scalar(select(Seat).where(Seat.exam_id == exam.id, Seat.user_id == user.id, _placed()))


# ---------------------------------------------------------------- what a ticket shows


@dataclass(frozen=True)
class Ticket:
    exam_title: str
    instructions: str
    name: str
    employee_no: str
    unit: str
    ticket_no: str
    code: str
    session: str
    when: str
    checkin: str
    room: str
    address: str
    seat_no: int
    photo: bytes | None


def _when(session: Session) -> str:
    return f"{localtime(session.starts_at)} – {localtime(session.ends_at, 'HH:mm')}"


def ticket_of(seat: Seat, photo: bytes | None) -> Ticket:
    exam, user, session, room = seat.exam, seat.user, seat.session, seat.room
    cadre = user.cadre
    instructions = (exam.instructions or "").strip()
    return Ticket(
        exam_title=exam.title,
        instructions=instructions if len(instructions) <= SHORT_INSTRUCTIONS else "",
        name=user.name,
        employee_no=user.username,
        unit=cadre.unit.name if cadre is not None else "",
        ticket_no=seat.ticket_no,
        code=ticket_code(seat),
        session=session.name,
        when=_when(session),
        checkin=f"{localtime(session.checkin_opens_at)} – {localtime(session.checkin_closes_at, 'HH:mm')}",
        room=room.name,
        address=room.address,
        seat_no=seat.seat_no,
        photo=photo,
    )


def seats_query(exam: Exam, session: Session | None = None, room: Room | None = None):
    """The placed seats of the exam (of a session, of one room of it), room by room in the session's order, then
    by seat number."""
    stmt = (
        select(Seat)
        .join(SessionRoom, (SessionRoom.session_id == Seat.session_id) & (SessionRoom.room_id == Seat.room_id))
        .where(Seat.exam_id == exam.id, _placed())
        .order_by(Seat.session_id, SessionRoom.position, Seat.seat_no)
    )
    if session is not None:
        stmt = stmt.where(Seat.session_id == session.id)
    if room is not None:
        stmt = stmt.where(Seat.room_id == room.id)
    return stmt


def seat_ids(exam: Exam, session: Session | None = None, room: Room | None = None) -> list[int]:
    return list(db.session.scalars(seats_query(exam, session, room).with_only_columns(Seat.id)))


def tickets(seat_ids: list[int]) -> Iterator[Ticket]:
    """The tickets of these seats in this order, loaded BATCH seats (and their photos) at a time."""
    for start in range(0, len(seat_ids), BATCH):
        chunk = seat_ids[start : start + BATCH]
        seats = {s.id: s for s in db.session.scalars(
            select(Seat).where(Seat.id.in_(chunk)).options(
                selectinload(Seat.user).selectinload(User.cadre).selectinload(Cadre.unit),
                selectinload(Seat.session), selectinload(Seat.room), selectinload(Seat.exam))
        )}  # fmt: skip
        cadre_ids = [s.user.cadre.id for s in seats.values() if s.user.cadre is not None]
        photos = dict(db.session.execute(
            select(CadrePhoto.cadre_id, CadrePhoto.data).where(CadrePhoto.cadre_id.in_(cadre_ids))
        ).all())  # fmt: skip
        for seat_id in chunk:
            seat = seats[seat_id]
            cadre = seat.user.cadre
            yield ticket_of(seat, photos.get(cadre.id) if cadre is not None else None)


# ---------------------------------------------------------------- the page

LEFT, TOP, WIDTH = 15, 15, 180
PHOTO_X, PHOTO_Y, PHOTO_W, PHOTO_H = 155, 62, 33, 44
QR_X, QR_Y, QR_W = 152, 118, 39


def qr_matrix(text: str) -> tuple:
    """The QR code (never a Micro QR) of `text`, error correction M, mask 0: a fixed mask spares segno's search for
    the best of eight (most of its time) and reads as well with any scanner."""
    return segno.make_qr(text, error="m", mask=0, boost_error=False).matrix


def draw_qr(pdf: Pdf, text: str, x: float, y: float, width: float) -> None:
    """`text` as a QR code drawn in vectors (sharp at any print size, and quick: one rectangle per run of dark
    modules), with a quiet zone of two modules inside `width`."""
    matrix = qr_matrix(text)
    module = width / (len(matrix) + 4)
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(matrix):
        c, n = 0, len(row)
        while c < n:
            if row[c]:
                start = c
                while c < n and row[c]:
                    c += 1
                pdf.rect(x + (start + 2) * module, y + (r + 2) * module, (c - start) * module, module, style="F")
            else:
                c += 1


def _text(pdf: Pdf, text: str, width: float, height: float, size: float, align: str = "L") -> None:
    """`text` from the current position, wrapped to `width`, then on to the next line at the left margin. What
    every ticket repeats (the exam's title, the rules) is broken into lines once per document, and a line that
    fits is drawn as one cell: line breaking is most of the time fpdf2 spends on a page."""
    pdf.set_font("cjk", size=size)
    cache = pdf.__dict__.setdefault("_ticket_lines", {})
    key = (text, width, size)
    lines = cache.get(key)
    if lines is None:
        if pdf.get_string_width(text) <= width - 2 * pdf.c_margin:
            lines = [text]
        else:
            lines = pdf.multi_cell(width, height, text, dry_run=True, output=MethodReturnValue.LINES)
        if len(cache) < 256:
            cache[key] = lines
    x = pdf.x
    for line in lines:
        pdf.set_x(x)
        pdf.cell(width, height, line, align=align, new_x="LMARGIN", new_y="NEXT")


def draw_ticket(pdf: Pdf, t: Ticket) -> None:
    """One ticket on a new A4 page of `pdf`."""
    pdf.add_page()
    pdf.set_draw_color(40, 40, 40)
    pdf.set_text_color(20, 20, 20)
    pdf.set_xy(LEFT, TOP + 2)
    _text(pdf, t.exam_title, WIDTH, 7, 14, align="C")
    pdf.set_font("cjk", size=24)
    pdf.cell(WIDTH, 13, _("Admission ticket"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=11)
    pdf.set_x(LEFT)
    pdf.cell(40, 12, _("Ticket number"))
    pdf.set_font("cjk", size=22)
    pdf.cell(90, 12, t.ticket_no, new_x="LMARGIN", new_y="NEXT")
    pdf.set_line_width(0.2)
    pdf.line(LEFT, pdf.y + 1, LEFT + WIDTH, pdf.y + 1)
    pdf.set_y(pdf.y + 4)
    facts = (
        (_("Name"), t.name, 14),
        (_("Employee number"), t.employee_no, 12),
        (_("Unit"), t.unit, 12),
        (_("Session"), t.session, 12),
        (_("Time"), t.when, 12),
        (_("Check-in"), t.checkin, 12),
        (_("Room"), t.room, 14),
        (_("Address"), t.address, 12),
        (_("Seat"), str(t.seat_no), 14),
    )
    for caption, value, size in facts:
        pdf.set_x(LEFT)
        pdf.set_font("cjk", size=11)
        pdf.cell(30, 9, caption)
        _text(pdf, value or "—", 100, 9, size)
    # The photo, or the box where one is glued.
    pdf.set_line_width(0.3)
    pdf.rect(PHOTO_X, PHOTO_Y, PHOTO_W, PHOTO_H)
    if t.photo:
        pdf.image(io.BytesIO(t.photo), x=PHOTO_X, y=PHOTO_Y, w=PHOTO_W, h=PHOTO_H, keep_aspect_ratio=True)
    else:
        pdf.set_font("cjk", size=10)
        pdf.set_xy(PHOTO_X, PHOTO_Y + PHOTO_H / 2 - 4)
        pdf.cell(PHOTO_W, 8, _("Photo"), align="C")
    draw_qr(pdf, t.code, QR_X, QR_Y, QR_W)
    pdf.set_font("cjk", size=11)
    pdf.set_xy(QR_X - 5, QR_Y + QR_W)
    pdf.cell(QR_W + 10, 6, t.ticket_no, align="C")
    # The rules.
    pdf.set_xy(LEFT, max(pdf.y, 160) + 4)
    pdf.set_font("cjk", size=12)
    pdf.cell(WIDTH, 8, _("Rules for candidates"), new_x="LMARGIN", new_y="NEXT")
    lines = rules() + ([_("From the exam: %(text)s", text=t.instructions)] if t.instructions else [])
    for number, line in enumerate(lines, 1):
        pdf.set_x(LEFT)
        _text(pdf, f"{number}. {line}", WIDTH, 5.5, 10)
    pdf.set_line_width(0.6)
    pdf.rect(LEFT - 3, TOP - 3, WIDTH + 6, pdf.y - TOP + 6)


def tickets_pdf(items: Iterable[Ticket]) -> bytes:
    """The tickets, one page each, as one PDF."""
    pdf = Pdf()
    pdf.set_auto_page_break(False)
    pdf.set_title(_("Admission tickets"))
    for t in items:
        draw_ticket(pdf, t)
    if pdf.page == 0:
        pdf.add_page()
    return bytes(pdf.output())


def ticket_pdf(seat: Seat) -> bytes:
    """One candidate's ticket."""
    return tickets_pdf(tickets([seat.id]))
