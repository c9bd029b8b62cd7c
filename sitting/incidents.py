"""Incidents (违纪, or a technical failure) recorded by a room's proctor, and the district's decisions on them. A
decision that voids reaches the attempts through exam.adjustments (void and restore), and from there the result,
the ranking and the archive (attempt_finalized). Plain functions that take `now`, flush and never commit."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import case, func, select

from accounts.models import User
from core import audit
from core.errors import DomainError
from core.extensions import db
from core.policy import can, may_proctor
from exam import adjustments, checks
from exam.attempts import register_start_check
from exam.models import Attempt, Exam
from sitting.models import Decision, Incident, IncidentKind, Room, Seat, Session
from sitting.services import is_candidate

#: Decisions that void scores.
VOIDING = frozenset({Decision.PART_VOIDED, Decision.EXAM_VOIDED})
#: How far ahead of the server's clock an incident's time may be (a proctor's watch runs a little fast).
CLOCK_SLACK = timedelta(minutes=5)


def _text(value: str, limit: int, field: str, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise DomainError(
            _("Describe what happened."), code="description_required", problems=((field, _("Required.")),)
        )
    if len(value) > limit:
        raise DomainError(
            _("The text is too long (%(n)d characters at most).", n=limit),
            code="text_too_long",
            problems=((field, _("Too long.")),),
        )
    return value


def record_incident(
    exam: Exam,
    user: User,
    kind: str,
    at: datetime,
    description: str,
    evidence: str,
    *,
    session: Session,
    room: Room,
    actor,
    now: datetime,
) -> Incident:
    """Record an incident concerning a candidate seated in the room of the session. Only a proctor of that room
    (or the district) records one; the time may not lie in the future, nor before the session's check-in opened."""
    if actor is not None and not may_proctor(actor, session.id, room.id):
        raise DomainError(_("You do not proctor this room."), code="not_your_room", status=403)
    if session.exam_id != exam.id or room.id not in {link.room_id for link in session.rooms}:
        raise DomainError(_("That room is not used by the session."), code="room_not_in_session")
    if kind not in set(IncidentKind):
        raise DomainError(_("Choose the kind of incident."), code="bad_kind", problems=(("kind", _("Not valid.")),))
    seat = db.session.scalar(select(Seat).where(Seat.exam_id == exam.id, Seat.user_id == user.id))
    if seat is None or seat.session_id != session.id or seat.room_id != room.id:
        raise DomainError(
            _("%(name)s is not seated in this room.", name=user.name),
            code="not_in_room",
            problems=(("candidate", _("Not seated in this room.")),),
        )
    if at > now + CLOCK_SLACK or at < session.checkin_opens_at:
        raise DomainError(
            _("The time must lie between the opening of the check-in and now."),
            code="bad_incident_time",
            problems=(("at", _("Not a time of this session.")),),
        )
    incident = Incident(
        exam_id=exam.id,
        session_id=session.id,
        room_id=room.id,
        user_id=user.id,
        kind=kind,
        at=at,
        description=_text(description, 2000, "description", required=True),
        evidence=_text(evidence, 2000, "evidence"),
        recorded_by_id=getattr(actor, "id", None),
        recorded_at=now,
    )
    db.session.add(incident)
    db.session.flush()
    audit.record(
        "incident.recorded",
        actor=actor,
        target=f"exam:{exam.code}",
        at=now,
        detail={"incident": incident.id, "user": user.username, "kind": kind, "session": session.id, "room": room.id},
    )
    return incident


# ---------------------------------------------------------------- reading


def of_exam(exam: Exam) -> list[Incident]:
    """The exam's incidents, undecided first, then by time."""
    return list(
        db.session.scalars(
            select(Incident)
            .where(Incident.exam_id == exam.id)
            .order_by(Incident.decision.is_not(None), Incident.at, Incident.id)
        )
    )


def of_room(session: Session, room: Room) -> list[Incident]:
    return list(
        db.session.scalars(
            select(Incident)
            .where(Incident.session_id == session.id, Incident.room_id == room.id)
            .order_by(Incident.at, Incident.id)
        )
    )


@dataclass(frozen=True)
class Counts:
    total: int
    undecided: int
    voiding: int


def counts(exam: Exam) -> Counts:
    """How many incidents the exam has, how many wait for a decision, how many voided scores (one query)."""
    total, undecided, voiding = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((Incident.decision.is_(None), 1), else_=0)), 0),
            func.coalesce(func.sum(case((Incident.decision.in_(list(VOIDING)), 1), else_=0)), 0),
        ).where(Incident.exam_id == exam.id)
    ).one()
    return Counts(int(total), int(undecided), int(voiding))


def may_see(user, incident: Incident) -> bool:
    """The district (who decides), and the proctors of the incident's room."""
    if can(user, "incident.decide"):
        return True
    return incident.session_id is not None and may_proctor(user, incident.session_id, incident.room_id)


# ---------------------------------------------------------------- deciding


def voided_exam_ids(exam: Exam, decision: str | None) -> set[int]:
    """The exams whose attempts a decision on an incident of `exam` voids: none; the exam itself (the part); or
    every exam of its qualification cycle (both parts; the exam alone when it has no cycle)."""
    if decision == Decision.PART_VOIDED:
        return {exam.id}
    if decision == Decision.EXAM_VOIDED:
        if not exam.qualification_cycle:
            return {exam.id}
        return {
            exam.id,
            *db.session.scalars(select(Exam.id).where(Exam.qualification_cycle == exam.qualification_cycle)),
        }
    return set()


def _attempts(user_id: int, exam_ids: set[int]) -> list[Attempt]:
    if not exam_ids:
        return []
    return list(
        db.session.scalars(
            select(Attempt).where(Attempt.user_id == user_id, Attempt.exam_id.in_(exam_ids)).order_by(Attempt.id)
        )
    )


def _still_voided(incident: Incident) -> set[int]:
    """The exams other decided incidents of the same candidate still void."""
    others = db.session.scalars(
        select(Incident).where(
            Incident.user_id == incident.user_id, Incident.id != incident.id, Incident.decision.in_(list(VOIDING))
        )
    )
    out: set[int] = set()
    for other in others:
        out |= voided_exam_ids(other.exam, other.decision)
    return out


def decide(incident: Incident, decision: str, reason: str, *, actor, now: datetime) -> Incident:
    """Decide on an incident (a later decision replaces an earlier one). A voiding decision voids the candidate's
    attempts of the exam (the part) or of every exam of its qualification cycle; a replacing decision restores
    what it no longer voids, unless another decision still voids it. Audited with the old and the new decision."""
    if actor is not None and (actor.id == incident.user_id or is_candidate(incident.exam, actor)):
        raise DomainError(
            _("You are a candidate of this exam: another person of the district must decide on its incidents."),
            code="conflict_of_interest",
            status=403,
        )
    if decision not in set(Decision):
        raise DomainError(_("Choose a decision."), code="bad_decision", problems=(("decision", _("Not valid.")),))
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Give a reason."), code="reason_required", problems=(("reason", _("Required.")),))
    if len(reason) > 500:
        raise DomainError(
            _("The reason is too long (500 characters at most)."),
            code="reason_too_long",
            problems=(("reason", _("Too long.")),),
        )
    old = {"decision": incident.decision, "reason": incident.decision_reason or ""}
    before = voided_exam_ids(incident.exam, incident.decision)
    after = voided_exam_ids(incident.exam, decision)
    incident.decision, incident.decision_reason = decision, reason
    incident.decided_by_id, incident.decided_at = getattr(actor, "id", None), now
    db.session.flush()
    why = _("Incident %(n)d: %(reason)s", n=incident.id, reason=reason)[:500]
    voided = [a.id for a in _attempts(incident.user_id, after) if a.voided_at is None]
    for attempt in _attempts(incident.user_id, after):
        adjustments.void(attempt, actor, why, now)
    kept = _still_voided(incident) | after
    restored = []
    for attempt in _attempts(incident.user_id, before - kept):
        if attempt.voided_at is not None:
            adjustments.restore(attempt, actor, why, now)
            restored.append(attempt.id)
    audit.record(
        "incident.decided",
        actor=actor,
        target=f"exam:{incident.exam.code}",
        at=now,
        detail={
            "incident": incident.id,
            "user": incident.user_id,
            "old": old,
            "new": {"decision": decision, "reason": reason},
            "voided": voided,
            "restored": restored,
        },
    )
    return incident


def affected_attempts(incident: Incident) -> list[Attempt]:
    """The attempts the incident's decision voids (for the district's page)."""
    return _attempts(incident.user_id, voided_exam_ids(incident.exam, incident.decision))


@register_start_check
def no_start_after_voiding(exam: Exam, user, now: datetime) -> None:
    """A candidate whose score a decision voided does not start the exam again (a further attempt, or the other
    part of a qualification cycle voided as a whole): one indexed query, usually of no rows."""
    decided = db.session.scalars(
        select(Incident).where(Incident.user_id == user.id, Incident.decision.in_(list(VOIDING)))
    ).all()
    if any(exam.id in voided_exam_ids(i.exam, i.decision) for i in decided):
        raise DomainError(
            _("Your score in this exam was voided by a decision on an incident: you cannot start it."),
            code="voided_by_decision",
            status=403,
        )


# ---------------------------------------------------------------- the check report (exam.checks)


def check_rows(exam: Exam) -> list[dict]:
    """The exam's incidents as rows of the check report (复核): who, what, when, and the decision (None: waiting)."""
    rows = db.session.execute(
        select(Incident, User.name, User.username, Attempt.id)
        .join(User, User.id == Incident.user_id)
        .outerjoin(Attempt, (Attempt.exam_id == Incident.exam_id) & (Attempt.user_id == Incident.user_id))
        .where(Incident.exam_id == exam.id)
        .order_by(Incident.at, Incident.id, Attempt.number)
    )
    out: dict[int, dict] = {}
    for incident, name, username, attempt_id in rows:
        out.setdefault(incident.id, {
            "incident_id": incident.id, "user_id": incident.user_id, "name": name, "username": username,
            "attempt_id": attempt_id, "kind": incident.kind, "at": incident.at.isoformat(),
            "decision": incident.decision,
        })  # fmt: skip
    return list(out.values())


checks.register_incident_source(check_rows)
