"""Reports of a closed exam read its roster frozen at the close: a cadre retired or moved after the close stays in
that exam's participation, absent list and unit figures, in the unit they were in; one moved before the close
counts in their new unit. An open exam keeps live eligibility."""

from datetime import timedelta

from sqlalchemy import func, select

from accounts.models import CadreStatus
from core.models import now_utc
from core.policy import Role
from exam import roster
from exam.attempts import grace
from exam.models import RosterEntry
from reports import ranking, statistics
from tests.exam.test_checks import make_exam, sit
from tests.factories import make_unit


def close(exam) -> None:
    """Move the exam's window into the past, beyond the close's grace."""
    exam.closes_at = now_utc() - grace() - timedelta(minutes=1)
    exam.opens_at = exam.closes_at - timedelta(hours=3)


def district():
    """An exam for the cadres under `root`: unit A holds stays (sits, 70), retires and moves (both absent); unit
    B holds moved_before (moved from A before the close, sits, 80). Closed, then: retires retires, moves and stays
    move to B."""
    from core.extensions import db

    root = make_unit()
    a, b = make_unit(parent=root), make_unit(parent=root)
    exam, people, admin = make_exam(4, unit=a)
    exam.eligibility = {"unit_ids": [root.id]}
    stays, retires, moves, moved_before = people
    moved_before.cadre.unit = b
    db.session.flush()
    sit(exam, stays, 60, admin)
    sit(exam, moved_before, 70, admin)
    close(exam)
    db.session.flush()
    return exam, a, b, dict(stays=stays, retires=retires, moves=moves, moved_before=moved_before), admin


def after_the_close(people, b) -> None:
    from core.extensions import db

    people["retires"].cadre.status = CadreStatus.RETIRED
    people["moves"].cadre.unit = b
    people["stays"].cadre.unit = b
    db.session.flush()


def test_participation_units_and_absentees_stay_as_at_the_close(db):
    exam, a, b, people, admin = district()
    before = ranking.participation(exam, None)  # the first reader freezes the roster
    assert roster.is_frozen(exam)
    after_the_close(people, b)
    db.session.commit()
    by_unit = ranking.participation(exam, None)
    assert by_unit == before
    assert (by_unit[a.id]["eligible"], by_unit[a.id]["took"]) == (3, 1)
    assert (by_unit[b.id]["eligible"], by_unit[b.id]["took"]) == (1, 1)
    assert {u: (s, n) for u, s, n, _p in ranking.score_table(exam, None)} == {a.id: (70.0, 1), b.id: (80.0, 1)}
    absent = db.session.execute(
        ranking.absent_query(exam, None, ranking.NO_FILTERS).with_only_columns(*ranking.ABSENT_COLUMNS)
    ).all()
    assert {(r[1], r[2]) for r in absent} == {(people["retires"].username, a.name), (people["moves"].username, a.name)}
    rows = {r.username: r.unit_name for r in db.session.execute(ranking.ranking_query(exam, None, ranking.NO_FILTERS))}
    assert rows == {people["stays"].username: a.name, people["moved_before"].username: b.name}
    units = {r["unit_id"]: r for r in statistics.units(exam, None)}
    assert (units[a.id]["eligible"], units[a.id]["took"], units[a.id]["mean"]) == (3, 1, 70.0)
    assert ranking.counts(exam, None, ranking.Filters(unit=a))["not_started"] == 2
    staff = ranking.participation(exam, None, ranking.Filters(rank="staff"))  # read from today's profiles
    assert staff == by_unit and ranking.participation(exam, None, ranking.Filters(rank="director")) == {}
    only_b = ranking.participation(exam, None, ranking.Filters(unit=b, unit_only=True))
    assert only_b == {b.id: by_unit[b.id]}


def test_an_open_exam_keeps_live_eligibility(db):
    exam, a, b, people, admin = district()
    exam.closes_at = now_utc() + timedelta(hours=1)  # open again: live
    after_the_close(people, b)
    by_unit = ranking.participation(exam, None)
    assert not roster.is_frozen(exam)
    assert db.session.scalar(select(func.count()).select_from(RosterEntry)) == 0
    assert a.id not in by_unit and by_unit[b.id]["eligible"] == 3  # retires gone, moves and stays in B


def test_a_unit_admin_of_the_old_unit_sees_the_absentee_who_moved_after_the_close(client, auth, db):
    exam, a, b, people, admin = district()
    ranking.participation(exam, None)
    after_the_close(people, b)
    db.session.commit()
    auth.login_as(Role.UNIT_ADMIN, unit=b)  # their own cadre is in B, after the close: not on the roster
    html = client.get(f"/reports/exams/{exam.code}/ranking?show=absent").get_data(as_text=True)
    assert people["moves"].username not in html and people["retires"].username not in html
    auth.logout()
    auth.login_as(Role.UNIT_ADMIN, unit=a)
    response = client.get(f"/reports/exams/{exam.code}/ranking?show=absent")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert people["moves"].username in html and people["retires"].username in html
    stats = client.get(f"/reports/exams/{exam.code}/statistics")
    assert stats.status_code == 200


def test_the_first_page_after_the_close_freezes_the_roster(client, auth, db):
    exam, a, b, people, admin = district()
    db.session.commit()
    assert not roster.is_frozen(exam)
    auth.login_as(Role.ORG_ADMIN)
    assert client.get(f"/reports/exams/{exam.code}/statistics").status_code == 200
    db.session.expire_all()
    assert roster.is_frozen(exam) and roster.size(exam, now_utc()) == 4


def test_a_cycles_progress_keeps_who_had_a_closed_exam_to_sit(db):
    from reports import history
    from tests.factories import make_user

    exam, a, b, people, admin = district()
    exam.qualification_cycle, exam.qualification_part = "2026", "political_theory"
    viewer = make_user(roles=(Role.ORG_ADMIN,))
    ranking.participation(exam, None)
    after_the_close(people, b)
    rows = {r["user_id"]: r["status"] for r in history.progress("2026", viewer, now_utc().date())["rows"]}
    assert rows[people["retires"].id] == "not_sat" and rows[people["moves"].id] == "not_sat"
