"""An exam's roster frozen at its close: who could sit it, each with their unit at that moment.

Eligibility is live (exam.eligibility): a retirement, a move to another unit or a deactivation changes who may sit
an exam. For an exam that has closed that must not change its absentees nor its figures per unit, so at the close
(plus the saves' network grace, exam.attempts.grace) the roster is kept as rows: every person eligible then, and
everyone who started an attempt (a candidate removed by hand after sitting was a candidate all the same), with
their unit's id, path and name as they were. The workers' periodic sweep (exam.jobs) freezes the exams that have
closed; any reader after the close freezes it first if the sweep has not yet (`ensure`).

Before the freeze (an exam not yet closed, or a draft) the readers answer from live eligibility. Freezing is
idempotent: the first freeze stays (unless the exam's close was moved past it: then the roster is taken again at
the new close). Functions take `now`, flush and never commit.
"""

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import Select, delete, func, literal, or_, select
from sqlalchemy import insert as insert_into
from sqlalchemy.exc import IntegrityError

from accounts.models import Cadre, Unit, User
from core import audit
from core.errors import DomainError
from core.extensions import db
from exam.attempts import grace
from exam.eligibility import eligible_condition, eligible_people
from exam.models import Attempt, Exam, ExamStatus, RosterEntry, RosterFreeze


@dataclass(frozen=True)
class Entry:
    """A person of the roster, with their unit (at the freeze; live before it)."""

    user_id: int
    name: str
    username: str
    unit_id: int | None
    unit_path: str | None
    unit_name: str | None


def freeze_time(exam: Exam) -> datetime:
    """When the exam's roster is frozen: its close plus the saves' network grace."""
    return exam.closes_at + grace()


def due(exam: Exam, now: datetime) -> bool:
    """Has the exam closed (with the grace), so that its roster is to be frozen? Never for a draft."""
    return exam.status != ExamStatus.DRAFT and now >= freeze_time(exam)


def _freeze_row(exam: Exam) -> RosterFreeze | None:
    kept = db.session.get(RosterFreeze, exam.id)
    if kept is not None and kept.frozen_at < exam.closes_at:
        return None  # the close was moved past the freeze: a roster of a time before the close is none
    return kept


def is_frozen(exam: Exam) -> bool:
    return _freeze_row(exam) is not None


def freeze(exam: Exam, now: datetime, actor=None) -> RosterFreeze:
    """Keep the exam's roster as rows (idempotent: an existing freeze is returned as it is). Refused before the
    close plus grace, and for a draft. Two freezers at once (the sweep and a page) make one roster: the second
    meets the first's row and returns it. Audited as exam.roster_frozen."""
    if not due(exam, now):
        raise DomainError(_("The exam has not closed yet: its roster is not frozen before the close."),
                          code="not_closed", status=409)  # fmt: skip
    kept = db.session.get(RosterFreeze, exam.id)
    if kept is not None and kept.frozen_at >= exam.closes_at:
        return kept
    try:
        with db.session.begin_nested():
            if kept is not None:  # the close moved past the old freeze: taken again
                db.session.execute(delete(RosterEntry).where(RosterEntry.exam_id == exam.id))
                db.session.delete(kept)
                db.session.flush()
            kept = RosterFreeze(exam_id=exam.id, frozen_at=now, size=0)
            db.session.add(kept)
            db.session.flush()
    except IntegrityError:  # another freezer came first: theirs is the roster
        db.session.expire_all()
        return db.session.get(RosterFreeze, exam.id)
    sat = select(Attempt.user_id).where(Attempt.exam_id == exam.id)
    people = (
        select(literal(exam.id), User.id, Cadre.unit_id, Unit.path, Unit.name)
        .outerjoin(Cadre, Cadre.user_id == User.id)
        .outerjoin(Unit, Unit.id == Cadre.unit_id)
        .where(or_(eligible_condition(exam), User.id.in_(sat)))
    )
    db.session.execute(
        insert_into(RosterEntry).from_select(["exam_id", "user_id", "unit_id", "unit_path", "unit_name"], people)
    )
    kept.size = db.session.scalar(select(func.count()).where(RosterEntry.exam_id == exam.id)) or 0
    absent = db.session.scalar(
        select(func.count()).where(RosterEntry.exam_id == exam.id, RosterEntry.user_id.not_in(sat))
    )
    audit.record("exam.roster_frozen", actor=actor, target=f"exam:{exam.code}",
                 detail={"count": kept.size, "absent": absent}, at=now)  # fmt: skip
    db.session.flush()
    return kept


def ensure(exam: Exam, now: datetime) -> RosterFreeze | None:
    """The exam's freeze, made here if it is due and not yet made (the lazy path: the first reader after the close
    when the sweep has not come yet); None before the close."""
    kept = _freeze_row(exam)
    if kept is not None or not due(exam, now):
        return kept
    return freeze(exam, now)


def freeze_due(now: datetime) -> int:
    """Freeze every exam closed (with the grace) whose roster is not frozen, one transaction each (committed here,
    for the workers' sweep). Returns how many were frozen."""
    frozen = select(RosterFreeze.exam_id).where(RosterFreeze.frozen_at >= Exam.closes_at)
    ids = list(
        db.session.scalars(
            select(Exam.id)
            .where(Exam.status != ExamStatus.DRAFT, Exam.closes_at <= now - grace(), Exam.id.not_in(frozen))
            .order_by(Exam.closes_at)
        )
    )
    for exam_id in ids:
        freeze(db.session.get(Exam, exam_id), now)
        db.session.commit()
    return len(ids)


def _frozen_entries():
    return select(
        RosterEntry.user_id, User.name, User.username, RosterEntry.unit_id, RosterEntry.unit_path,
        RosterEntry.unit_name,
    ).join(User, User.id == RosterEntry.user_id)  # fmt: skip


def _live_entries(exam: Exam):
    return eligible_people(exam).with_only_columns(User.id, User.name, User.username, Unit.id, Unit.path, Unit.name)


def _entries(exam: Exam, now: datetime, absent_only: bool) -> list[Entry]:
    sat = select(Attempt.user_id).where(Attempt.exam_id == exam.id)
    if ensure(exam, now) is not None:
        stmt = _frozen_entries().where(RosterEntry.exam_id == exam.id)
        if absent_only:
            stmt = stmt.where(RosterEntry.user_id.not_in(sat))
        stmt = stmt.order_by(RosterEntry.unit_path.is_(None), RosterEntry.unit_path, User.username)
    else:
        stmt = _live_entries(exam)
        if absent_only:
            stmt = stmt.where(User.id.not_in(sat))
    return [Entry(*row) for row in db.session.execute(stmt)]


def entries(exam: Exam, now: datetime) -> list[Entry]:
    """The roster by unit and username: the frozen one once the exam has closed (frozen here if need be), the
    people eligible now before."""
    return _entries(exam, now, absent_only=False)


def absentees(exam: Exam, now: datetime) -> list[Entry]:
    """The roster's people who never started an attempt (缺考 once the exam has closed)."""
    return _entries(exam, now, absent_only=True)


def size(exam: Exam, now: datetime) -> int:
    """How many people the roster holds (see entries)."""
    kept = ensure(exam, now)
    if kept is not None:
        return kept.size
    return db.session.scalar(
        select(func.count()).select_from(_live_entries(exam).order_by(None).subquery())
    ) or 0  # fmt: skip


def user_ids(exam: Exam) -> Select:
    """SELECT of the user ids of a frozen roster (for joins in the reports)."""
    return select(RosterEntry.user_id.label("user_id")).where(RosterEntry.exam_id == exam.id)
