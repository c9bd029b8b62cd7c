"""Who may sit an exam: the eligibility rules, people added or removed by hand, and why (not) a person may."""

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import Select, and_, func, or_, select

from accounts.models import Cadre, CadreStatus, Unit, User
from accounts.queries import profile_conditions
from core import audit
from core.errors import DomainError
from core.extensions import db
from exam.models import Attempt, AttemptStatus, Exam, ExamCandidate, ExamStatus, Paper


def _rule_conditions(exam: Exam):
    """SQL conditions over Cadre/User/Unit for the exam's eligibility rules."""
    return profile_conditions(exam.eligibility or {}, exam.age_on)


def eligible_condition(exam: Exam):
    """SQL condition over User (outer-joined to Cadre and Unit): the person may sit the exam. The rules' cadres,
    plus people added by hand (while their account is active), minus people removed by hand."""
    by_hand = select(ExamCandidate.user_id).where(ExamCandidate.exam_id == exam.id)
    added = by_hand.where(ExamCandidate.included.is_(True))
    removed = by_hand.where(ExamCandidate.included.is_(False))
    return or_(
        and_(*_rule_conditions(exam), User.id.not_in(removed)),
        and_(User.id.in_(added), User.active.is_(True)),
    )


def eligible_people(exam: Exam) -> Select:
    """The users who may sit the exam, by unit and employee number (outer-joined to Cadre and Unit: a person
    added by hand may have no cadre profile)."""
    return (
        select(User)
        .outerjoin(Cadre, Cadre.user_id == User.id)
        .outerjoin(Unit, Cadre.unit_id == Unit.id)
        .where(eligible_condition(exam))
        .order_by(Unit.path.is_(None), Unit.path, User.username)  # people without a unit last, on every database
    )


def eligible_user_ids(exam: Exam) -> set[int]:
    """Who may sit the exam (see eligible_condition)."""
    return set(db.session.scalars(eligible_people(exam).with_only_columns(User.id).order_by(None)))


def is_eligible(exam: Exam, user: User) -> bool:
    """eligible_user_ids for one person, without listing everyone: one statement (asked at every start and for
    every exam of a candidate's list), the hand-made choice first, then the rules."""
    if not user.active:
        return False
    override = select(ExamCandidate.included).where(ExamCandidate.exam_id == exam.id, ExamCandidate.user_id == user.id)
    by_rules = (
        select(User.id)
        .join(Cadre, Cadre.user_id == User.id)
        .join(Unit, Cadre.unit_id == Unit.id)
        .where(User.id == user.id, *profile_conditions(exam.eligibility or {}, exam.age_on, units_inline=True))
    )
    included, ruled = db.session.execute(select(override.scalar_subquery(), by_rules.exists())).one()
    return bool(included) if included is not None else bool(ruled)


def exams_for(user: User) -> list[tuple[Exam, int, int | None]]:
    """(exam, attempts used, id of the attempt in progress) of every published exam the person may sit or sat."""
    attempts: dict[int, list[Attempt]] = {}
    for a in db.session.scalars(select(Attempt).where(Attempt.user_id == user.id)):
        attempts.setdefault(a.exam_id, []).append(a)
    papers = set(db.session.scalars(select(Paper.exam_id).where(Paper.user_id == user.id)))
    out = []
    for exam in db.session.scalars(select(Exam).where(Exam.status != ExamStatus.DRAFT).order_by(Exam.opens_at)):
        mine = attempts.get(exam.id, [])
        if mine or exam.id in papers or is_eligible(exam, user):
            open_id = next((a.id for a in mine if a.status == AttemptStatus.IN_PROGRESS), None)
            out.append((exam, len(mine), open_id))
    return out


@dataclass
class Verdict:
    eligible: bool
    reasons: list[str]


def concerns(exam: Exam, user: User) -> bool:
    """Is the exam any of the user's business: a candidate now, or one who has sat it? To everyone else it is not
    there (404), so that an exam's existence and state are not told to those who may not sit it. A draft is
    nobody's business yet."""
    if exam.status == "draft":
        return False
    if is_eligible(exam, user):
        return True
    return (
        db.session.scalar(select(Attempt.id).where(Attempt.exam_id == exam.id, Attempt.user_id == user.id).limit(1))
        is not None
    )


def eligibility_verdict(exam: Exam, user: User) -> Verdict:
    """Whether a person may sit the exam, and why (or why not), rule by rule."""
    override = db.session.scalar(
        select(ExamCandidate).where(ExamCandidate.exam_id == exam.id, ExamCandidate.user_id == user.id)
    )
    if not user.active:
        return Verdict(False, [_("The account is deactivated.")])
    if override is not None and override.included is False:
        return Verdict(False, [_("Removed from this exam by hand.")])
    if override is not None and override.included is True:
        return Verdict(True, [_("Added to this exam by hand.")])
    cadre = user.cadre
    if cadre is None:
        return Verdict(False, [_("Has no cadre profile.")])
    rules, reasons, ok = exam.eligibility or {}, [], True
    if cadre.status != CadreStatus.SERVING:
        ok = False
        reasons.append(_("Not serving."))
    if rules.get("unit_ids"):
        paths = list(db.session.scalars(select(Unit.path).where(Unit.id.in_(rules["unit_ids"]))))
        inside = any(cadre.unit.path.startswith(p) for p in paths)
        ok &= inside
        reasons.append(
            _("Unit %(u)s is within the exam's units.", u=cadre.unit.name)
            if inside
            else _("Unit %(u)s is outside the exam's units.", u=cadre.unit.name)
        )
    if rules.get("ranks"):
        match = cadre.rank in rules["ranks"]
        ok &= match
        reasons.append(_("Rank matches.") if match else _("Rank does not match."))
    if rules.get("political_statuses"):
        match = cadre.political_status in rules["political_statuses"]
        ok &= match
        reasons.append(_("Political status matches.") if match else _("Political status does not match."))
    if rules.get("max_age") and exam.age_on:
        age = cadre.age_on(exam.age_on)
        young = age < int(rules["max_age"])
        ok &= young
        reasons.append(
            _("Age %(a)d on %(d)s is under %(n)s.", a=age, d=exam.age_on.isoformat(), n=rules["max_age"])
            if young
            else _("Age %(a)d on %(d)s is not under %(n)s.", a=age, d=exam.age_on.isoformat(), n=rules["max_age"])
        )
    return Verdict(bool(ok), reasons)


def set_candidate(
    actor, exam: Exam, user: User, now: datetime, *, included: bool | None, extra_minutes: int = 0, note: str = ""
) -> ExamCandidate:
    """Add a person by hand (included=True), remove them (False) or leave it to the rules (None), and give them
    extra time. Extra time counts for attempts started afterwards: a started attempt's deadline never moves."""
    from exam.attempts import in_progress  # attempts and papers build on eligibility: imported on use
    from exam.jobs import prepare_soon

    if exam.status == ExamStatus.RELEASED:
        raise DomainError(_("The results are released: the exam can no longer change."), code="locked")
    if not 0 <= extra_minutes <= 600:
        raise DomainError(_("Extra time is 0 to 600 minutes."), code="bad_extra_time")
    if included is False and in_progress(exam, user) is not None:
        raise DomainError(_("This person is sitting the exam now and cannot be removed."), code="in_progress")
    row = db.session.scalar(
        select(ExamCandidate).where(ExamCandidate.exam_id == exam.id, ExamCandidate.user_id == user.id)
    )
    if row is None:
        row = ExamCandidate(exam_id=exam.id, user_id=user.id)
        db.session.add(row)
    row.included, row.extra_minutes, row.note = included, extra_minutes, (note or "")[:200]
    audit.record(
        "exam.candidate",
        actor=actor,
        target=f"exam:{exam.code}",
        detail={"user": user.id, "included": included, "extra_minutes": extra_minutes},
        at=now,
    )
    db.session.flush()
    if exam.status != ExamStatus.DRAFT and included is not False and is_eligible(exam, user):
        prepare_soon(actor, exam, now, [user.id])  # a person added after publishing gets a paper ahead of their start
    return row


def candidate_overrides(exam: Exam) -> list[ExamCandidate]:
    return list(db.session.scalars(select(ExamCandidate).where(ExamCandidate.exam_id == exam.id)))


def eligible_counts_by_unit(exam: Exam) -> list[tuple[str | None, int]]:
    """(unit name, how many may sit the exam) in tree order; None for people without a cadre profile."""
    rows = db.session.execute(
        eligible_people(exam)
        .with_only_columns(Unit.name, func.count(User.id))
        .group_by(Unit.id, Unit.name, Unit.path)
        .order_by(None)
        .order_by(Unit.path.is_(None), Unit.path)
    )
    return [(name, n) for name, n in rows]
