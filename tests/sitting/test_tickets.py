"""Admission tickets: the page (its text and its QR code, read back from the rendered PDF), their release and
withdrawal, the candidate's own download and home card, and the admins' batch on the job engine."""

import io
from pathlib import Path

import pytest
import segno
from PIL import Image
from sqlalchemy import select

from accounts.models import CadrePhoto
from core.audit import AuditEvent
from core.errors import DomainError
from core.extensions import db as _db
from core.models import now_utc
from core.policy import Role
from jobs import Job, JobState, StoredFile
from sitting import services as sitting
from sitting import tickets
from sitting.models import Seat
from tests import poppler
from tests.factories import make_cadre, make_open_exam, make_sitting, make_user


def photo_bytes(shade=(180, 120, 90)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (66, 88), shade).save(out, "JPEG")
    return out.getvalue()


def seated(n_more=2, rooms=2, capacity=10, place=True):
    """An open exam with its candidate and `n_more` colleagues of the same unit, seated room after room."""
    exam, candidate = make_open_exam(code="TK1", qtypes=("single",))
    others = [make_cadre(unit=candidate.cadre.unit).user for _ in range(n_more)]
    session, made = make_sitting(exam, rooms=rooms, capacity=capacity, place=place)
    _db.session.commit()
    return exam, candidate, others, session, made


def write(tmp_path: Path, data: bytes, name="t.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def ticket_of(exam, user) -> bytes:
    return tickets.ticket_pdf(sitting.seat_of(exam, user))


def qr_modules(image: Image.Image, size: int, dpi: int) -> list[list[bool]]:
    """The dark/light modules read off a page rendered at `dpi`, where draw_ticket put the QR code."""
    module = tickets.QR_W / (size + 4)
    px = dpi / 25.4
    grey = image.convert("L")
    out = []
    for r in range(size):
        y = (tickets.QR_Y + (r + 2.5) * module) * px
        out.append([grey.getpixel((int((tickets.QR_X + (c + 2.5) * module) * px), int(y))) < 128
                    for c in range(size)])  # fmt: skip
    return out


def test_a_ticket_shows_the_candidate_the_place_and_a_qr_of_the_signed_code(app, db, tmp_path):
    tools = poppler.tools()
    exam, candidate, _others, session, rooms = seated()
    _db.session.add(CadrePhoto(cadre_id=candidate.cadre.id, mimetype="image/jpeg", data=photo_bytes()))
    seat = sitting.seat_of(exam, candidate)
    pdf = write(tmp_path, tickets.ticket_pdf(seat))
    text = poppler.text(tools, "-layout", pdf)
    for expected in (candidate.name, candidate.username, seat.ticket_no, rooms[0].name, rooms[0].address,
                     candidate.cadre.unit.name, exam.title, session.name):  # fmt: skip
        assert expected in text
    assert text.count(seat.ticket_no) == 2  # large at the top, and under the QR code
    assert f"{seat.seat_no}" in text.split("座位号")[1][:40]  # the seat number, after its caption
    pages = poppler.images(tools, pdf, 300)
    assert len(pages) == 1 and pages[0].size[0] < pages[0].size[1]  # one A4 portrait page
    # The QR, read back module by module from the rendered page, is the signed code's (no decoder is installed:
    # the matrix drawn is compared with segno's for the code, which the door's scanner decodes).
    code = sitting.ticket_code(seat)
    expected = [[bool(v) for v in row] for row in tickets.qr_matrix(code)]
    assert expected == [[bool(v) for v in row] for row in segno.make_qr(code, error="m", mask=0).matrix]
    assert qr_modules(pages[0], len(expected), 300) == expected
    assert sitting.seat_by_code(exam, code).id == seat.id
    other = sitting.seat_of(exam, _others[0])
    assert qr_modules(pages[0], len(expected), 300) != [
        [bool(v) for v in row] for row in tickets.qr_matrix(sitting.ticket_code(other))
    ]


def test_the_photo_is_on_the_ticket_when_the_profile_has_one(app, db, tmp_path):
    tools = poppler.tools()
    exam, candidate, others, *_ = seated()
    _db.session.add(CadrePhoto(cadre_id=candidate.cadre.id, mimetype="image/jpeg", data=photo_bytes((200, 30, 30))))
    with_photo = poppler.images(tools, write(tmp_path, ticket_of(exam, candidate), "a.pdf"), 50)
    without = poppler.images(tools, write(tmp_path, ticket_of(exam, others[0]), "b.pdf"), 50)
    px = 50 / 25.4
    middle = (int((tickets.PHOTO_X + tickets.PHOTO_W / 2) * px), int((tickets.PHOTO_Y + 8) * px))
    r, g, b = with_photo[0].getpixel(middle)
    assert r > 150 and g < 80 and b < 80  # the red photo
    assert without[0].getpixel(middle) == (255, 255, 255)  # the empty box where a photo is glued


def test_short_instructions_are_printed_and_long_ones_left_off(app, db, tmp_path):
    tools = poppler.tools()
    exam, candidate, *_ = seated()
    seat = sitting.seat_of(exam, candidate)
    assert "请独立作答" in poppler.text(tools, "-raw", write(tmp_path, tickets.ticket_pdf(seat)))
    exam.instructions = "很长的说明。" * 100
    assert "很长的说明" not in poppler.text(tools, "-raw", write(tmp_path, tickets.ticket_pdf(seat), "b.pdf"))


def test_release_and_withdraw_are_audited_and_refused_twice(app, db):
    exam, *_ = seated()
    admin = make_user(roles=(Role.ORG_ADMIN,))
    now = now_utc()
    assert not tickets.released(exam)
    assert tickets.release_tickets(exam, admin, now) == 3
    assert tickets.released_at(exam) == now
    with pytest.raises(DomainError, match="准考证已发放") as caught:  # already released
        tickets.release_tickets(exam, admin, now)
    assert caught.value.code == "tickets_released"
    tickets.withdraw_tickets(exam, admin, now)
    assert not tickets.released(exam)
    with pytest.raises(DomainError, match="准考证尚未发放") as caught:  # not released
        tickets.withdraw_tickets(exam, admin, now)
    assert caught.value.code == "tickets_not_released"
    actions = _db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("sitting.tickets_%")))
    assert sorted(actions) == ["sitting.tickets_released", "sitting.tickets_withdrawn"]


def test_release_is_refused_while_nobody_is_placed(app, db):
    exam, *_ = seated(place=False)
    with pytest.raises(DomainError, match="尚无考生编排座位") as caught:  # no candidate has a seat yet
        tickets.release_tickets(exam, make_user(roles=(Role.ORG_ADMIN,)), now_utc())
    assert caught.value.code == "nobody_placed"
    assert not tickets.released(exam)


def test_the_release_button_posts_and_comes_back(app, db, client, auth):
    exam, *_ = seated()
    auth.login_as("org_admin")
    response = client.post_form(f"/sitting/exams/{exam.code}/tickets/release", {"next": "/exams/TK1"})
    assert response.status_code == 302 and response.headers["Location"] == "/exams/TK1"
    assert tickets.released(exam)
    evil = client.post_form(f"/sitting/exams/{exam.code}/tickets/withdraw", {"next": "//evil.example/"})
    assert evil.headers["Location"] == f"/exams/{exam.code}/"  # the exam's page, not off the site
    assert not tickets.released(exam)
    assert client.post(f"/sitting/exams/{exam.code}/tickets/release").status_code == 400  # no CSRF token
    assert not tickets.released(exam)


def test_the_partials_render(app, db, client, auth):
    from flask import render_template_string

    exam, _c, _o, session, rooms = seated()
    admin = auth.login_as("org_admin")
    with app.test_request_context(f"/exams/{exam.code}"):
        from flask_login import login_user

        login_user(admin)
        page = render_template_string('{% include "sitting/_exam_tickets.html" %}', exam=exam)
        assert f"/sitting/exams/{exam.code}/tickets/release" in page and "csrf_token" in page
        assert 'data-placed="3" data-unplaced="0"' in page
        sitting.move_seat(sitting.seat_of(exam, _o[0]), None, None, None, actor=None, reason="", now=now_utc())
        page = render_template_string('{% include "sitting/_exam_tickets.html" %}', exam=exam)
        assert 'data-placed="2" data-unplaced="1"' in page
        assert "1 名考生尚未编排座位，暂无准考证" in page  # 1 candidate has no seat yet and gets no ticket
        loads = [(r, sitting.room_load(session, r)) for r in rooms]
        page = render_template_string('{% include "sitting/_session_tickets.html" %}', exam=exam, session=session,
                                      rooms=loads)  # fmt: skip
        for room in rooms:
            base = f"/sitting/exams/{exam.code}/sessions/{session.id}/rooms/{room.id}"
            for link in ("/tickets", "/door-list.pdf", "/door-list.xlsx", "/seat-plan.pdf", "/seat-plan.xlsx"):
                assert base + link in page
        assert f"/sitting/exams/{exam.code}/sessions/{session.id}/tickets" in page


# ---------------------------------------------------------------- the candidate


def test_my_ticket_only_after_release_and_only_my_own(app, db, client, auth, tmp_path):
    tools = poppler.tools()
    exam, candidate, others, *_ = seated()
    url = f"/sitting/exams/{exam.code}/my-ticket.pdf"
    auth.login(candidate.username)
    assert client.get(url).status_code == 404  # not released
    tickets.release_tickets(exam, None, now_utc())
    _db.session.commit()
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = poppler.text(tools, "-raw", write(tmp_path, response.data))
    mine, theirs = sitting.seat_of(exam, candidate), sitting.seat_of(exam, others[0])
    assert mine.ticket_no in text and theirs.ticket_no not in text and others[0].name not in text
    assert client.get("/sitting/exams/NOPE/my-ticket.pdf").status_code == 404
    # Someone without a seat in the exam, and a candidate taken out of their seat, get none.
    auth.logout()
    auth.login_as("cadre")
    assert client.get(url).status_code == 404
    sitting.move_seat(theirs, None, None, None, actor=None, reason="", now=now_utc())
    _db.session.commit()
    auth.logout()
    auth.login(others[0].username)
    assert client.get(url).status_code == 404


def test_a_proctor_who_is_a_candidate_gets_only_their_own_ticket(app, db, client, auth, tmp_path):
    tools = poppler.tools()
    exam, candidate, _others, session, rooms = seated()
    proctor = make_cadre(unit=candidate.cadre.unit, roles=(Role.PROCTOR, Role.CADRE)).user
    sitting.ensure_seats(exam, now_utc())
    seat = sitting.seat_of(exam, proctor)
    sitting.move_seat(seat, session, rooms[1], 9, actor=None, reason="", now=now_utc())
    with pytest.raises(DomainError):  # a candidate is not assigned to proctor their exam
        sitting.assign_proctor(session, rooms[0], proctor, actor=None, now=now_utc())
    from sitting.models import ProctorAssignment

    _db.session.add(ProctorAssignment(session_id=session.id, room_id=rooms[0].id, user_id=proctor.id))  # by hand
    tickets.release_tickets(exam, None, now_utc())
    _db.session.commit()
    auth.login(proctor.username)
    data = client.get(f"/sitting/exams/{exam.code}/my-ticket.pdf").data
    text = poppler.text(tools, "-raw", write(tmp_path, data))
    assert seat.ticket_no in text and sitting.seat_of(exam, candidate).ticket_no not in text
    # Not even the door list of the room they were put in by hand (conflict of interest); nor the batch of tickets.
    base = f"/sitting/exams/{exam.code}/sessions/{session.id}/rooms"
    assert client.get(f"{base}/{rooms[0].id}/door-list.pdf").status_code == 403
    assert client.get(f"{base}/{rooms[1].id}/door-list.pdf").status_code == 403
    assert client.post_form(f"{base}/{rooms[0].id}/tickets").status_code == 403


def test_the_home_card_shows_the_place_and_the_link_once_released(app, db, client, auth):
    exam, candidate, *_ = seated()
    seat = sitting.seat_of(exam, candidate)
    auth.login(candidate.username)
    page = client.get("/").get_data(as_text=True)
    assert 'id="my-tickets"' in page and seat.ticket_no in page and seat.room.name in page
    assert "准考证尚未发放" in page and "my-ticket.pdf" not in page  # tickets not released yet
    tickets.release_tickets(exam, None, now_utc())
    _db.session.commit()
    page = client.get("/").get_data(as_text=True)
    assert f"/sitting/exams/{exam.code}/my-ticket.pdf" in page and "准考证尚未发放" not in page
    auth.logout()
    auth.login_as("cadre")  # no seat anywhere: no card
    assert 'id="my-tickets"' not in client.get("/").get_data(as_text=True)


def test_the_home_card_leaves_out_ended_sessions_and_unplaced_seats(app, db):
    from datetime import timedelta

    from sitting.home import my_seats

    exam, candidate, others, session, _rooms = seated()
    assert [row.seat.user_id for row in my_seats(candidate, now_utc())] == [candidate.id]
    assert my_seats(candidate, session.ends_at + timedelta(minutes=1)) == []
    seat = sitting.seat_of(exam, others[0])
    sitting.move_seat(seat, None, None, None, actor=None, reason="", now=now_utc())
    assert my_seats(others[0], now_utc()) == []


# ---------------------------------------------------------------- the batch


def _job_of(response) -> Job:
    assert response.status_code == 302 and "/jobs/" in response.headers["Location"], response.status_code
    return _db.session.get(Job, int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1]))


def test_the_batch_makes_one_page_per_ticket_of_the_room_or_session(app, db, client, auth, tmp_path):
    tools = poppler.tools()
    exam, _candidate, _others, session, rooms = seated(n_more=13, capacity=8)  # 14 candidates: 8 and 6
    auth.login_as("org_admin")
    base = f"/sitting/exams/{exam.code}/sessions/{session.id}"
    job = _job_of(client.post_form(f"{base}/rooms/{rooms[1].id}/tickets"))
    _db.session.refresh(job)
    assert job.state == JobState.DONE, job.error
    stored = _db.session.scalar(select(StoredFile).where(StoredFile.job_id == job.id))
    pdf = write(tmp_path, stored.data, "room.pdf")
    room_seats = _db.session.scalars(select(Seat).where(Seat.room_id == rooms[1].id).order_by(Seat.seat_no)).all()
    assert len(room_seats) == 6
    pages = poppler.text(tools, "-raw", pdf).split("\f")[:-1]
    assert len(pages) == 6
    assert [s.ticket_no in page for s, page in zip(room_seats, pages, strict=True)] == [True] * 6
    job = _job_of(client.post_form(f"{base}/tickets"))
    _db.session.refresh(job)
    stored = _db.session.scalar(select(StoredFile).where(StoredFile.job_id == job.id))
    assert len(poppler.text(tools, "-raw", write(tmp_path, stored.data, "all.pdf")).split("\f")[:-1]) == 14
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert f"/jobs/{job.id}/files/{stored.token}" in page
    assert client.get(f"/jobs/{job.id}/files/{stored.token}").status_code == 200


def test_the_batch_refuses_a_room_of_another_session_and_an_empty_room(app, db, client, auth):
    exam, _c, _o, session, rooms = seated(n_more=0, capacity=5)  # one candidate: the second room is empty
    auth.login_as("org_admin")
    base = f"/sitting/exams/{exam.code}/sessions/{session.id}"
    assert client.post_form(f"{base}/rooms/999999/tickets").status_code == 404
    job = _job_of(client.post_form(f"{base}/rooms/{rooms[1].id}/tickets"))
    _db.session.refresh(job)
    assert job.state == JobState.FAILED and "该处没有编排考生" in job.error  # nobody is seated there


def test_the_batch_reports_progress_ticket_by_ticket(app, db, client, auth, queued_jobs):
    from jobs import runner

    exam, _c, _o, session, rooms = seated(n_more=4, capacity=5)
    auth.login_as("org_admin")
    job = _job_of(client.post_form(f"/sitting/exams/{exam.code}/sessions/{session.id}/tickets"))
    assert _db.session.get(Job, job.id).state == JobState.QUEUED  # it waits for a worker
    again = _job_of(client.post_form(f"/sitting/exams/{exam.code}/sessions/{session.id}/tickets"))
    assert again.id == job.id  # a second click does not draw the tickets twice
    seen = []
    assert runner.execute(job.id, on_progress=lambda done, total: seen.append((done, total))) == JobState.DONE
    assert seen[0] == (0, 5) and seen[-1] == (5, 5) and [d for d, _t in seen[1:]] == [1, 2, 3, 4, 5, 5]


def test_an_admin_who_is_a_candidate_gets_their_own_ticket_and_card(app, db, client, auth, tmp_path):
    tools = poppler.tools()
    exam, candidate, _others, session, rooms = seated()
    admin = make_cadre(unit=candidate.cadre.unit, roles=(Role.ORG_ADMIN, Role.CADRE)).user
    sitting.ensure_seats(exam, now_utc())
    seat = sitting.seat_of(exam, admin)
    _db.session.commit()
    auth.login(admin.username)
    page = client.get("/").get_data(as_text=True)
    assert 'id="my-tickets"' not in page  # a ticket number, but no seat yet: no card
    sitting.move_seat(seat, session, rooms[1], 7, actor=None, reason="", now=now_utc())
    tickets.release_tickets(exam, None, now_utc())
    _db.session.commit()
    page = client.get("/").get_data(as_text=True)
    assert f'data-ticket="{seat.ticket_no}"' in page and page.count("data-ticket=") == 1
    text = poppler.text(tools, "-raw", write(tmp_path, client.get(f"/sitting/exams/{exam.code}/my-ticket.pdf").data))
    assert seat.ticket_no in text and sitting.seat_of(exam, candidate).ticket_no not in text
