"""A room's papers: the door list and the seat plan, as PDF (read back with poppler) and .xlsx, for the district
and the room's own proctors."""

import io

from openpyxl import load_workbook

from core.extensions import db as _db
from core.policy import Role
from sitting import documents
from sitting import services as sitting
from tests import poppler
from tests.factories import make_cadre, make_open_exam, make_sitting, make_user


def room_world(n_more=6, capacity=5):
    """Seven candidates of one unit over two rooms of five seats: five in the first, two in the second."""
    exam, candidate = make_open_exam(code="DL1", qtypes=("single",))
    for _ in range(n_more):
        make_cadre(unit=candidate.cadre.unit)
    session, rooms = make_sitting(exam, rooms=2, capacity=capacity)
    _db.session.commit()
    return exam, session, rooms


def _url(exam, session, room, what):
    return f"/sitting/exams/{exam.code}/sessions/{session.id}/rooms/{room.id}/{what}"


def test_the_door_list_names_who_sits_in_the_room_with_a_signature_column(app, db, client, auth, tmp_path):
    tools = poppler.tools()
    exam, session, rooms = room_world()
    rows = documents.room_rows(session, rooms[1])
    assert [r.seat_no for r in rows] == [1, 2]
    auth.login_as("org_admin")
    response = client.get(_url(exam, session, rooms[1], "door-list.pdf"))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    path = tmp_path / "door.pdf"
    path.write_bytes(response.data)
    text = poppler.text(tools, "-layout", path)
    assert exam.title in text and session.name in text and rooms[1].name in text and rooms[1].address in text
    assert "考生签名" in text  # the candidates' signature column
    for r in rows:
        assert r.ticket_no in text and r.name in text
    for r in documents.room_rows(session, rooms[0]):  # nobody of the other room
        assert r.ticket_no not in text
    sheet = load_workbook(io.BytesIO(client.get(_url(exam, session, rooms[1], "door-list.xlsx")).data))
    listed = list(sheet[sheet.sheetnames[0]].iter_rows(min_row=2, values_only=True))
    assert [(row[0], row[1], row[2]) for row in listed] == [(r.seat_no, r.ticket_no, r.name) for r in rows]
    assert [c for (c,) in sheet[sheet.sheetnames[1]].iter_rows(min_row=2, values_only=True)] == documents.heading(
        session, rooms[1]
    )


def test_the_seat_plan_puts_every_seat_in_a_grid_and_leaves_empty_seats_bare(app, db, client, auth, tmp_path):
    tools = poppler.tools()
    exam, session, rooms = room_world(n_more=7, capacity=6)  # 8 candidates: 6 and 2 seated
    rows = documents.room_rows(session, rooms[1])
    grid = documents.plan_grid(rooms[1], rows)
    assert [len(line) for line in grid] == [5, 1]  # six seats, five a row
    assert [c if isinstance(c, int) else c.name for c in grid[0]] == [rows[0].name, rows[1].name, 3, 4, 5]
    auth.login_as("system_admin")
    path = tmp_path / "plan.pdf"
    path.write_bytes(client.get(_url(exam, session, rooms[1], "seat-plan.pdf")).data)
    words = poppler.words(tools, path)[0]
    placed = {w[0]: (w[1], w[2]) for w in words}
    first, second = placed[rows[0].ticket_no], placed[rows[1].ticket_no]
    assert abs(first[1] - second[1]) < 1 and second[0] > first[0]  # side by side, in seat order
    book = load_workbook(io.BytesIO(client.get(_url(exam, session, rooms[1], "seat-plan.xlsx")).data))
    cells = list(book[book.sheetnames[0]].iter_rows(min_row=2, values_only=True))
    assert cells[0][0] == f"1 {rows[0].name} {rows[0].ticket_no}" and cells[0][2] == "3" and cells[1][0] == "6"


def test_a_proctor_gets_the_papers_of_their_own_room_only(app, db, client, auth):
    exam, session, rooms = room_world()
    proctor = make_user(username="proc1", roles=(Role.PROCTOR,))
    sitting.assign_proctor(session, rooms[0], proctor, actor=None, now=session.starts_at)
    whole = make_user(username="proc2", roles=(Role.PROCTOR,))
    sitting.assign_proctor(session, None, whole, actor=None, now=session.starts_at)
    _db.session.commit()
    auth.login("proc1")
    assert client.get(_url(exam, session, rooms[0], "seat-plan.xlsx")).status_code == 200
    assert client.get(_url(exam, session, rooms[1], "seat-plan.xlsx")).status_code == 403
    assert client.get(_url(exam, session, rooms[0], "seat-plan.doc")).status_code == 404
    auth.logout()
    auth.login("proc2")  # the whole session: every room
    assert client.get(_url(exam, session, rooms[1], "door-list.pdf")).status_code == 200


def test_a_room_not_used_by_the_session_or_another_exams_session_is_not_found(app, db, client, auth):
    exam, session, rooms = room_world()
    other_exam, _ = make_open_exam(code="DL2", qtypes=("single",))
    other_session, other_rooms = make_sitting(other_exam, rooms=1)
    _db.session.commit()
    auth.login_as("org_admin")
    assert client.get(_url(exam, session, other_rooms[0], "door-list.pdf")).status_code == 404
    assert client.get(_url(exam, other_session, rooms[0], "door-list.pdf")).status_code == 404
