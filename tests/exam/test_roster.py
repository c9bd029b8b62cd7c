"""The roster frozen at an exam's close (exam.roster): who could sit it and their unit then, whatever changes
after; live eligibility before the close."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from accounts.models import CadreStatus
from core.audit import AuditEvent
from core.errors import DomainError
from core.models import now_utc
from core.policy import Role
from exam import eligibility, roster
from exam.attempts import grace
from exam.models import RosterEntry, RosterFreeze
from jobs import sweep
from tests.exam.test_checks import make_exam, sit
from tests.factories import make_unit, make_user


def after_close(exam, minutes: int = 1):
    return exam.closes_at + grace() + timedelta(minutes=minutes)


def test_the_roster_is_frozen_once_after_the_close_and_audited(db):
    exam, people, admin = make_exam(3)
    sit(exam, people[0], 60, admin)
    with pytest.raises(DomainError) as refused:
        roster.freeze(exam, exam.closes_at)  # the grace is not over
    assert refused.value.code == "not_closed" and not roster.is_frozen(exam)
    assert db.session.scalar(select(func.count()).select_from(RosterEntry)) == 0
    later = after_close(exam)
    kept = roster.freeze(exam, later)
    assert roster.is_frozen(exam) and (kept.size, kept.frozen_at) == (3, later)
    assert roster.freeze(exam, later + timedelta(days=1)) is kept  # idempotent
    assert db.session.scalar(select(func.count()).select_from(RosterEntry)) == 3
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "exam.roster_frozen")).all()
    assert event.target == f"exam:{exam.code}" and event.detail == {"count": 3, "absent": 2}
    unit = people[0].cadre.unit
    assert {(e.user_id, e.unit_id, e.unit_path, e.unit_name) for e in roster.entries(exam, later)} == {
        (p.id, unit.id, unit.path, unit.name) for p in people
    }


def test_a_draft_is_never_frozen(db):
    exam, _people, admin = make_exam(1)
    exam.status = "draft"
    assert not roster.due(exam, after_close(exam))
    assert roster.ensure(exam, after_close(exam)) is None


def test_changes_after_the_close_leave_the_roster_and_changes_before_count(db):
    exam, people, admin = make_exam(4)
    stays, retires, moves, moved_before = people
    sit(exam, stays, 60, admin)
    old_unit, new_unit = stays.cadre.unit, make_unit()
    moved_before.cadre.unit = new_unit  # before the close: no longer within the exam's units
    db.session.flush()
    later = after_close(exam)
    assert roster.size(exam, later) == 3  # frozen here, lazily: the first reader after the close
    retires.cadre.status = CadreStatus.RETIRED
    moves.cadre.unit = new_unit
    db.session.flush()
    assert eligibility.eligible_user_ids(exam) == {stays.id}  # live eligibility has moved on
    absent = roster.absentees(exam, later + timedelta(days=300))
    assert {e.user_id for e in absent} == {retires.id, moves.id} and {e.unit_id for e in absent} == {old_unit.id}
    assert moved_before.id not in {e.user_id for e in roster.entries(exam, later)}
    assert roster.size(exam, later) == 3


def test_before_the_close_the_roster_is_live(db):
    exam, people, admin = make_exam(2)
    now = now_utc()
    assert roster.size(exam, now) == 2 and not roster.is_frozen(exam)
    people[1].cadre.status = CadreStatus.RETIRED
    db.session.flush()
    assert [e.user_id for e in roster.entries(exam, now)] == [people[0].id]
    assert roster.absentees(exam, now)[0].user_id == people[0].id and not roster.is_frozen(exam)


def test_someone_removed_by_hand_after_sitting_stays_on_the_roster(db):
    """An admin who sat the exam (added by hand), then was taken off the candidates: they sat it."""
    exam, people, admin = make_exam(1)
    org_admin = make_user(roles=(Role.ORG_ADMIN,))
    now = now_utc()
    eligibility.set_candidate(admin, exam, org_admin, now, included=True)
    sit(exam, org_admin, 60, admin)
    eligibility.set_candidate(admin, exam, org_admin, now, included=False)
    later = after_close(exam)
    entries = {e.user_id: e for e in roster.entries(exam, later)}
    assert set(entries) == {people[0].id, org_admin.id} and entries[org_admin.id].unit_id is None
    assert [e.user_id for e in roster.absentees(exam, later)] == [people[0].id]


def test_a_close_moved_later_takes_the_roster_again(db):
    exam, people, admin = make_exam(2)
    first = after_close(exam)
    roster.freeze(exam, first)
    people[1].cadre.status = CadreStatus.RETIRED
    exam.closes_at = first + timedelta(hours=1)  # the district moved the close past the freeze
    db.session.flush()
    assert not roster.is_frozen(exam) and roster.size(exam, first) == 1  # live again until the new close
    kept = roster.freeze(exam, after_close(exam))
    assert kept.size == 1 and db.session.scalar(select(func.count()).select_from(RosterFreeze)) == 1


def test_the_workers_sweep_freezes_closed_exams(app, db, queued_jobs):
    exam, people, admin = make_exam(2)
    open_exam, _others, _ = make_exam(1, code="CHK2")
    exam.closes_at = now_utc() - grace() - timedelta(minutes=1)
    exam.opens_at = exam.closes_at - timedelta(hours=2)
    db.session.commit()
    report = sweep.run()
    assert "exam.finalize-overdue" in report["periodic"]
    db.session.expire_all()
    assert roster.is_frozen(exam) and not roster.is_frozen(open_exam)
    assert db.session.get(RosterFreeze, exam.id).size == 2
