"""Seats placed automatically (by unit, by name, shuffled so that colleagues sit apart), capacity and the unplaced,
and seats moved by hand through the page (seat taken, room full, room not in the session)."""

from sqlalchemy import func, select

from core.audit import AuditEvent
from core.models import now_utc
from core.policy import Role
from sitting import assignment
from sitting import services as sitting
from sitting.models import Seat
from tests.factories import make_cadre, make_open_exam, make_sitting, make_unit, make_user


def _exam_with(units_sizes, *, rooms=2, capacity=10, code="AS1", names=None):
    """An open exam whose candidates are: the factory's one, plus `units_sizes` cadres in new sub-units of its
    unit (so every one is eligible); a session with `rooms` rooms of `capacity`, nobody placed yet."""
    exam, first = make_open_exam(code=code)
    root = first.cadre.unit
    units = [make_unit(parent=root) for _ in units_sizes]
    names = iter(names or [])
    for unit, size in zip(units, units_sizes, strict=True):
        for _ in range(size):
            name = next(names, None)
            make_cadre(unit=unit, **({"name": name} if name else {}))
    session, made = make_sitting(exam, rooms=rooms, capacity=capacity, place=False)
    admin = make_user(roles=(Role.ORG_ADMIN,))
    return exam, session, made, admin


def _plan(exam):
    """[(room_id, seat_no, unit_id)] of the placed seats, room by room, seat by seat."""
    rows = []
    for seat in select_seats(exam):
        rows.append((seat.room_id, seat.seat_no, seat.user.cadre.unit_id))
    return rows


def select_seats(exam):
    from core.extensions import db

    return db.session.scalars(
        select(Seat).where(Seat.exam_id == exam.id, Seat.room_id.is_not(None)).order_by(Seat.room_id, Seat.seat_no)
    ).all()


def test_capacity_is_respected_and_the_unplaced_are_counted(db):
    exam, session, rooms, admin = _exam_with([4, 4, 3], rooms=2, capacity=4)  # 12 candidates, 8 seats
    result = assignment.assign_automatically(exam, "unit", actor=admin, now=now_utc())
    assert (result.placed, result.unplaced, result.free) == (8, 4, 0)
    assert assignment.unplaced_count(exam) == 4
    loads = assignment.loads(exam)
    assert loads == {(session.id, rooms[0].id): 4, (session.id, rooms[1].id): 4}
    for room in rooms:
        assert sorted(n for r, n, _u in _plan(exam) if r == room.id) == [1, 2, 3, 4]
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "sitting.seats_assigned")).all()
    assert len(events) == 1 and events[0].detail["unplaced"] == 4 and events[0].detail["strategy"] == "unit"


def test_a_second_run_places_only_the_unplaced_in_the_free_seats(db):
    exam, session, rooms, admin = _exam_with([3, 3], rooms=1, capacity=5)  # 7 candidates, 5 seats
    assignment.assign_automatically(exam, "name", actor=admin, now=now_utc())
    before = {s.user_id: (s.room_id, s.seat_no) for s in select_seats(exam)}
    rooms[0].capacity = 7
    result = assignment.assign_automatically(exam, "name", actor=admin, now=now_utc())
    assert (result.placed, result.unplaced) == (2, 0)
    after = {s.user_id: (s.room_id, s.seat_no) for s in select_seats(exam)}
    assert {k: after[k] for k in before} == before  # nobody already placed moved
    assert sorted(n for _r, n in after.values()) == list(range(1, 8))


def test_by_unit_keeps_colleagues_together(db):
    exam, session, rooms, admin = _exam_with([3, 4, 2], rooms=1, capacity=20)
    assignment.assign_automatically(exam, "unit", actor=admin, now=now_utc())
    units = [u for _r, _n, u in _plan(exam)]
    changes = sum(1 for a, b in zip(units, units[1:], strict=False) if a != b)
    assert len(units) == 10 and changes == len(set(units)) - 1


def test_by_name_follows_pinyin_order(db):
    exam, session, rooms, admin = _exam_with([4], rooms=1, capacity=10, names=["张三", "安六", "王五", "李四"])
    assignment.assign_automatically(exam, "name", actor=admin, now=now_utc())
    names = [s.user.name for s in select_seats(exam) if s.user.name in {"张三", "安六", "王五", "李四"}]
    assert names == ["安六", "李四", "王五", "张三"]


def test_shuffle_seats_no_two_colleagues_side_by_side(db):
    # 1 + 5 + 4 + 3 + 3 = 16 candidates in 5 units; the largest has 5: the mix allows a plan without neighbours.
    exam, session, rooms, admin = _exam_with([5, 4, 3, 3], rooms=2, capacity=8)
    result = assignment.assign_automatically(exam, "shuffle", actor=admin, now=now_utc(), seed=7)
    assert (result.placed, result.unplaced) == (16, 0)
    plan = _plan(exam)
    neighbours = [(a, b) for a, b in zip(plan, plan[1:], strict=False) if a[0] == b[0] and b[1] == a[1] + 1]
    assert len(neighbours) == 14
    assert [(a, b) for a, b in neighbours if a[2] == b[2]] == []


def test_shuffle_is_deterministic_for_a_seed_and_differs_across_seeds(db):
    exam, session, rooms, admin = _exam_with([5, 4, 3, 3], rooms=2, capacity=8)
    plans = []
    for seed in (7, 7, 8):
        assignment.assign_automatically(exam, "shuffle", actor=admin, now=now_utc(), only_unplaced=False, seed=seed)
        plans.append({s.user_id: (s.room_id, s.seat_no) for s in select_seats(exam)})
    assert plans[0] == plans[1]
    assert plans[0] != plans[2]


def test_placing_everyone_again_keeps_the_checked_in(db):
    exam, session, rooms, admin = _exam_with([3, 3], rooms=1, capacity=10)
    assignment.assign_automatically(exam, "unit", actor=admin, now=now_utc())
    seat = select_seats(exam)[0]
    seat.checked_in_at = now_utc()
    kept = (seat.room_id, seat.seat_no)
    assignment.assign_automatically(exam, "name", actor=admin, now=now_utc(), only_unplaced=False)
    db.session.refresh(seat)
    assert (seat.room_id, seat.seat_no) == kept
    assert len(select_seats(exam)) == 7


def test_unknown_strategy_and_no_sessions_are_refused(db):
    import pytest

    from core.errors import DomainError

    exam, _c = make_open_exam(code="NS1")
    admin = make_user(roles=(Role.ORG_ADMIN,))
    with pytest.raises(DomainError) as caught:
        assignment.assign_automatically(exam, "shuffle", actor=admin, now=now_utc())
    assert caught.value.code == "no_sessions"
    with pytest.raises(DomainError) as caught:
        assignment.assign_automatically(exam, "random", actor=admin, now=now_utc())
    assert caught.value.code == "bad_strategy"


# ---------------------------------------------------------------- through the pages


def _login_en(auth, db, role="org_admin"):
    user = auth.login_as(role)
    user.locale = "en"
    db.session.commit()
    return user


def test_the_page_assigns_and_says_how_many_did_not_fit(client, auth, db):
    exam, session, rooms, admin = _exam_with([4, 4], rooms=1, capacity=5)
    db.session.commit()
    _login_en(auth, db)
    html = client.get(f"/sitting/exams/{exam.code}/").get_data(as_text=True)
    assert "9 candidates have no seat yet." in html
    response = client.post_form(f"/sitting/exams/{exam.code}/assign", {"strategy": "shuffle"}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "5 candidates placed" in html and "4 candidates did not fit and have no seat" in html
    assert "4 candidates have no seat yet." in html
    assert "5 / 5" in html and "full" in html
    html = client.get(f"/sitting/exams/{exam.code}/seats?show=unplaced").get_data(as_text=True)
    assert "4 found." in html and html.count(">unplaced<") == 4


def test_the_page_shows_a_room_over_capacity(client, auth, db):
    exam, session, rooms, admin = _exam_with([2], rooms=1, capacity=3)
    assignment.assign_automatically(exam, "unit", actor=admin, now=now_utc())
    rooms[0].capacity = 2  # the room was made smaller after the seats were given
    db.session.commit()
    _login_en(auth, db)
    html = client.get(f"/sitting/exams/{exam.code}/").get_data(as_text=True)
    assert "3 / 2" in html and "over capacity by 1" in html


def test_moving_by_hand_refuses_a_taken_seat_a_full_room_and_a_foreign_room(client, auth, db):
    exam, session, rooms, admin = _exam_with([3], rooms=2, capacity=2)  # 4 candidates, 4 seats
    assignment.assign_automatically(exam, "unit", actor=admin, now=now_utc())
    other_exam, _c = make_open_exam(code="AS2")
    other_session, other_rooms = make_sitting(other_exam, rooms=1, capacity=2)
    db.session.commit()
    seats = select_seats(exam)
    first, third = seats[0], seats[2]  # room 1 seat 1, room 2 seat 1
    _login_en(auth, db)
    url = f"/sitting/exams/{exam.code}/seats/{first.id}/move"

    taken = {"session_id": session.id, "room_id": rooms[0].id, "seat_no": 2, "reason": "视力原因"}
    response = client.post_form(url, taken)
    assert response.status_code == 409 and "Seat 2 of room" in response.get_data(as_text=True)
    assert "is already taken" in response.get_data(as_text=True)

    full = {"session_id": session.id, "room_id": rooms[1].id, "seat_no": "", "reason": "换到第二考场"}
    response = client.post_form(url, full)
    assert response.status_code == 409 and "is full (2 seats)" in response.get_data(as_text=True)

    foreign = {"session_id": session.id, "room_id": other_rooms[0].id, "seat_no": 1, "reason": "x"}
    response = client.post_form(url, foreign)
    assert response.status_code == 400 and "not used by the session" in response.get_data(as_text=True)

    no_reason = {"session_id": session.id, "room_id": rooms[0].id, "seat_no": 1, "reason": ""}
    assert client.post_form(url, no_reason).status_code == 200  # the form asks for a reason
    db.session.expire_all()
    assert (first.room_id, first.seat_no) == (rooms[0].id, 1)

    # Taking one out of the second room frees a seat there; then the move goes through, audited with the reason.
    out = {"session_id": 0, "room_id": 0, "seat_no": "", "reason": "请假"}
    assert client.post_form(f"/sitting/exams/{exam.code}/seats/{third.id}/move", out).status_code == 302
    response = client.post_form(url, full)
    assert response.status_code == 302
    db.session.expire_all()
    assert (first.room_id, first.seat_no) == (rooms[1].id, 1)  # the first free seat
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "sitting.seat_moved").order_by(AuditEvent.seq.desc())
    ).first()
    assert event.detail["reason"] == "换到第二考场"


def test_a_move_without_the_csrf_token_is_refused(client, auth, db):
    exam, session, rooms, admin = _exam_with([1], rooms=1, capacity=5)
    assignment.assign_automatically(exam, "unit", actor=admin, now=now_utc())
    db.session.commit()
    seat = select_seats(exam)[0]
    _login_en(auth, db)
    data = {"session_id": 0, "room_id": 0, "reason": "x"}
    response = client.post(f"/sitting/exams/{exam.code}/seats/{seat.id}/move", data=data)
    assert response.status_code == 400
    assert client.post(f"/sitting/exams/{exam.code}/assign", data={"strategy": "unit"}).status_code == 400
    db.session.expire_all()
    assert seat.room_id is not None
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "sitting.seat_moved")) == 0


def test_an_org_admin_who_is_a_candidate_no_longer_runs_the_sitting(client, auth, db):
    exam, session, rooms, admin = _exam_with([2], rooms=1, capacity=10)
    org = _login_en(auth, db)
    make_cadre(unit=exam_unit(exam), user=org)  # now also a candidate of the exam
    db.session.commit()
    assert org.id in sitting.eligible_user_ids(exam)
    assert client.get(f"/sitting/exams/{exam.code}/").status_code == 403  # conflict of interest
    assert client.post_form(f"/sitting/exams/{exam.code}/assign", {"strategy": "unit"}).status_code == 403
    db.session.expire_all()
    assert sitting.seat_of(exam, org) is None or sitting.seat_of(exam, org).room_id is None


def exam_unit(exam):
    from accounts.models import Unit
    from core.extensions import db

    return db.session.get(Unit, exam.eligibility["unit_ids"][0])


def test_the_seats_page_filters_and_pages(client, auth, db, monkeypatch):
    from sitting import admin_views

    monkeypatch.setattr(admin_views, "SEATS_PER_PAGE", 3)
    exam, session, rooms, admin = _exam_with([3, 3], rooms=2, capacity=3)  # 7 candidates, 6 seats
    assignment.assign_automatically(exam, "unit", actor=admin, now=now_utc())
    db.session.commit()
    _login_en(auth, db)
    base = f"/sitting/exams/{exam.code}/seats"
    html = client.get(f"{base}?room={rooms[1].id}").get_data(as_text=True)
    assert "3 found." in html and "第2考场" in html and "第1考场</td>" not in html
    html = client.get(f"{base}?show=placed&session={session.id}").get_data(as_text=True)
    assert "6 found." in html and 'rel="next"' in html
    page2 = client.get(f"{base}?show=placed&session={session.id}&page=2").get_data(as_text=True)
    assert 'rel="prev"' in page2 and "show=placed" in page2
    ticket = select_seats(exam)[0].ticket_no
    assert "1 found." in client.get(f"{base}?q={ticket}").get_data(as_text=True)
    assert client.get(f"{base}?room=abc&session=x&page=99").status_code == 200
