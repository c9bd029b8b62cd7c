"""What a unit's administrators see of practice: per unit of their scope, how many cadres practised lately, how
many answers and the share right, and the weakest knowledge points of the scope. Counts and shares only: no
person's answers, names or sessions."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import distinct, func, select

from accounts.models import Cadre, CadreStatus, Unit
from core.extensions import db
from core.policy import scope_filter
from practice.models import PracticeAnswer
from question_bank.models import Tag, question_tags

#: The recent window the page speaks of, in days.
WINDOW_DAYS = 30
#: A knowledge point is listed among the weak ones only with at least this many answers in the window.
MIN_ANSWERS = 20


@dataclass(frozen=True)
class UnitActivity:
    unit: Unit
    cadres: int
    practising: int
    answers: int
    share: float | None  # right, of the objective answers (a self-checked essay's share is null: AVG leaves it out)


@dataclass(frozen=True)
class WeakPoint:
    tag: str
    answers: int
    practising: int
    share: float


def by_unit(viewer, now: datetime) -> list[UnitActivity]:
    """Each unit of the viewer's scope that has serving cadres, in the unit tree's order."""
    since = now - timedelta(days=WINDOW_DAYS)
    in_scope = scope_filter(viewer, Unit.path)
    cadres = dict(
        db.session.execute(
            select(Cadre.unit_id, func.count())
            .join(Unit, Unit.id == Cadre.unit_id)
            .where(in_scope, Cadre.status == CadreStatus.SERVING)
            .group_by(Cadre.unit_id)
        ).all()
    )
    practice = {
        row.unit_id: row
        for row in db.session.execute(
            select(
                Cadre.unit_id,
                func.count(distinct(PracticeAnswer.user_id)).label("practising"),
                func.count().label("answers"),
                func.avg(PracticeAnswer.share).label("share"),
            )
            .join(Cadre, Cadre.user_id == PracticeAnswer.user_id)
            .join(Unit, Unit.id == Cadre.unit_id)
            .where(in_scope, PracticeAnswer.answered_at >= since)
            .group_by(Cadre.unit_id)
        )
    }
    units = db.session.scalars(select(Unit).where(Unit.id.in_(set(cadres) | set(practice))).order_by(Unit.path))
    out = []
    for unit in units:
        row = practice.get(unit.id)
        share = float(row.share) if row is not None and row.share is not None else None
        out.append(UnitActivity(unit, cadres.get(unit.id, 0), row.practising if row else 0,
                                row.answers if row else 0, share))  # fmt: skip
    return out


def weak_points(viewer, now: datetime, limit: int = 10) -> list[WeakPoint]:
    """The knowledge points the viewer's cadres got right least often lately (with MIN_ANSWERS answers or more)."""
    since = now - timedelta(days=WINDOW_DAYS)
    share = func.avg(PracticeAnswer.share)
    rows = db.session.execute(
        select(
            Tag.name,
            func.count(PracticeAnswer.share).label("answers"),
            func.count(distinct(PracticeAnswer.user_id)).label("practising"),
            share.label("share"),
        )
        .join(question_tags, question_tags.c.tag_id == Tag.id)
        .join(PracticeAnswer, PracticeAnswer.question_id == question_tags.c.question_id)
        .join(Cadre, Cadre.user_id == PracticeAnswer.user_id)
        .join(Unit, Unit.id == Cadre.unit_id)
        .where(scope_filter(viewer, Unit.path), PracticeAnswer.answered_at >= since, PracticeAnswer.share.is_not(None))
        .group_by(Tag.name)
        .having(func.count(PracticeAnswer.share) >= MIN_ANSWERS)
        .order_by(share, Tag.name)
        .limit(limit)
    ).all()
    return [WeakPoint(r.name, r.answers, r.practising, float(r.share)) for r in rows]
