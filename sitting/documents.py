"""A room's papers for the day: the door list (签到表: who comes, with a column to sign) and the seat plan (the seats
in a grid by number), each as PDF and .xlsx."""

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from accounts.models import Cadre, User
from core.extensions import db
from core.i18n import localtime
from core.pdf import Pdf
from core.spreadsheets import StreamedWorkbook
from sitting.models import Room, Seat, Session

#: Seats per row of the seat plan (PDF and sheet).
PLAN_COLUMNS = 5


@dataclass(frozen=True)
class Row:
    seat_no: int
    ticket_no: str
    name: str
    employee_no: str
    unit: str


def room_rows(session: Session, room: Room) -> list[Row]:
    """The candidates seated in the room for the session, by seat number."""
    seats = db.session.scalars(
        select(Seat)
        .where(Seat.session_id == session.id, Seat.room_id == room.id, Seat.seat_no.is_not(None))
        .order_by(Seat.seat_no)
        .options(selectinload(Seat.user).selectinload(User.cadre).selectinload(Cadre.unit))
    )
    return [Row(s.seat_no, s.ticket_no, s.user.name, s.user.username,
                s.user.cadre.unit.name if s.user.cadre is not None else "") for s in seats]  # fmt: skip


def heading(session: Session, room: Room) -> list[str]:
    """The lines above a room's list: exam, session and time, room and address."""
    when = f"{localtime(session.starts_at)} – {localtime(session.ends_at, 'HH:mm')}"
    return [
        session.exam.title,
        _("Session: %(name)s, %(when)s", name=session.name, when=when),
        _("Room: %(room)s, %(address)s", room=room.name, address=room.address or "—"),
    ]


def _pdf_heading(pdf: Pdf, title: str, lines: list[str]) -> None:
    pdf.set_font("cjk", size=18)
    pdf.cell(0, 11, title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=11)
    for line in lines:
        pdf.cell(0, 7, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


def door_list_pdf(session: Session, room: Room, rows: list[Row]) -> bytes:
    pdf = Pdf()
    pdf.set_title(_("Door list"))
    pdf.add_page()
    _pdf_heading(pdf, _("Door list"), heading(session, room))
    pdf.set_font("cjk", size=11)
    table = [(_("Seat"), _("Ticket number"), _("Name"), _("Unit"), _("Signature"))]
    table += [(r.seat_no, r.ticket_no, r.name, r.unit, "") for r in rows]
    pdf.data_table(table, (12, 30, 26, 62, 40), line_height=9)
    pdf.ln(4)
    pdf.cell(0, 7, _("Seated: %(n)d. Present: ____  Absent: ____  Proctors' signatures: ______________", n=len(rows)))
    return bytes(pdf.output())


def door_list_xlsx(session: Session, room: Room, rows: list[Row]) -> bytes:
    book = StreamedWorkbook()
    ws = book.sheet(_("Door list"), [_("Seat"), _("Ticket number"), _("Name"), _("Employee number"), _("Unit"),
                                     _("Signature")], [8, 16, 12, 14, 30, 20])  # fmt: skip
    for r in rows:
        ws.append([r.seat_no, r.ticket_no, r.name, r.employee_no, r.unit, ""])
    about = book.sheet(_("About"), [_("Door list")], [60])
    for line in heading(session, room):
        about.append([line])
    return book.to_bytes()


def plan_grid(room: Room, rows: list[Row]) -> list[list[Row | int]]:
    """The room's seats 1..capacity (and any seat beyond it) in rows of PLAN_COLUMNS: a Row where someone sits,
    the bare seat number where nobody does."""
    by_no = {r.seat_no: r for r in rows}
    last = max([room.capacity, *by_no])
    cells = [by_no.get(n, n) for n in range(1, last + 1)]
    return [cells[i : i + PLAN_COLUMNS] for i in range(0, len(cells), PLAN_COLUMNS)]


def seat_plan_pdf(session: Session, room: Room, rows: list[Row]) -> bytes:
    pdf = Pdf("landscape")
    pdf.set_title(_("Seat plan"))
    pdf.add_page()
    _pdf_heading(pdf, _("Seat plan"), heading(session, room))
    width, height, gap = (pdf.epw - (PLAN_COLUMNS - 1) * 3) / PLAN_COLUMNS, 22, 3
    pdf.set_font("cjk", size=9)
    pdf.cell(0, 6, _("The front of the room (the proctors' desk) is at the top."), align="C",
             new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    for line in plan_grid(room, rows):
        pdf.keep_room(height + gap)
        y = pdf.y
        for i, cell in enumerate(line):
            x = pdf.l_margin + i * (width + gap)
            pdf.set_line_width(0.3)
            pdf.rect(x, y, width, height)
            number = cell if isinstance(cell, int) else cell.seat_no
            pdf.set_xy(x + 1, y + 1)
            pdf.set_font("cjk", size=13)
            pdf.cell(width - 2, 7, str(number))
            if not isinstance(cell, int):
                pdf.set_font("cjk", size=11)
                pdf.set_xy(x + 1, y + 8)
                pdf.cell(width - 2, 6, cell.name, align="C")
                pdf.set_font("cjk", size=9)
                pdf.set_xy(x + 1, y + 14)
                pdf.cell(width - 2, 6, cell.ticket_no, align="C")
        pdf.set_xy(pdf.l_margin, y + height + gap)
    return bytes(pdf.output())


def seat_plan_xlsx(session: Session, room: Room, rows: list[Row]) -> bytes:
    """The plan as a grid of cells (seat number, name and ticket number in each), and the same as a list."""
    book = StreamedWorkbook()
    columns = [_("Seat %(n)d", n=i) for i in range(1, PLAN_COLUMNS + 1)]
    grid = book.sheet(_("Seat plan"), columns, [22] * PLAN_COLUMNS)
    for line in plan_grid(room, rows):
        grid.append([f"{c}" if isinstance(c, int) else f"{c.seat_no} {c.name} {c.ticket_no}" for c in line])
    listed = book.sheet(_("Seats"), [_("Seat"), _("Name"), _("Ticket number"), _("Unit")], [8, 12, 16, 30])
    for r in rows:
        listed.append([r.seat_no, r.name, r.ticket_no, r.unit])
    about = book.sheet(_("About"), [_("Seat plan")], [60])
    for line in heading(session, room):
        about.append([line])
    return book.to_bytes()
