"""The rankings' absent list of an exam sat in sessions: each absent person's session and room, and whether (and
when) the door recorded them absent (缺考); one statement."""

from datetime import timedelta

from sqlalchemy import event

from core.models import now_utc
from exam import attempts
from reports import ranking
from sitting import checkin
from sitting import services as sitting
from tests.factories import make_cadre, make_open_exam, make_sitting


def test_the_absent_list_shows_the_doors_record(client, auth, db):
    exam, cadre = make_open_exam()
    unit = cadre.cadre.unit
    make_cadre(unit=unit, name="缺考甲"), make_cadre(unit=unit, name="未安排乙")
    session, rooms = make_sitting(exam, capacity=2)  # cadre and away seated; unplaced beyond the seats
    attempts.start_attempt(exam, cadre, now_utc())
    closed = session.checkin_closes_at + timedelta(minutes=1)
    assert checkin.record_absences(session, closed) == 1
    db.session.commit()
    auth.login_as("org_admin")
    stmt = ranking.absent_query(exam, None, ranking.Filters()).with_only_columns(*ranking.ABSENT_COLUMNS)
    statements = []
    listen = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        rows = db.session.execute(stmt).all()
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert len(statements) == 1
    by_name = {r[0]: r for r in rows}
    assert set(by_name) == {"缺考甲", "未安排乙"}
    assert (
        by_name["缺考甲"][4] is not None
        and by_name["缺考甲"][5] == session.name
        and by_name["缺考甲"][6] == rooms[0].name
    )
    assert by_name["未安排乙"][4] is None and by_name["未安排乙"][6] is None
    html = client.get(f"/reports/exams/{exam.code}/ranking?show=absent").get_data(as_text=True)
    assert "缺考甲" in html and rooms[0].name in html and "未安排乙" in html
    assert html.count('class="status status-retired"') == 1


def test_an_exam_without_sessions_keeps_the_plain_list(client, auth, db):
    exam, cadre = make_open_exam()
    other = make_cadre(unit=cadre.cadre.unit, name="没来丙").user
    attempts.start_attempt(exam, cadre, now_utc())
    db.session.commit()
    assert sitting.seat_of(exam, other) is None
    auth.login_as("org_admin")
    html = client.get(f"/reports/exams/{exam.code}/ranking?show=absent").get_data(as_text=True)
    assert "没来丙" in html and "status-retired" not in html
