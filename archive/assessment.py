"""Study plans and the annual learning assessment (年度学习考核).

The summary is gathered from the archive (hours by kind against the plan and the year's minimum, exams taken and
passed, reading notes passed); the unit writes an appraisal (写实性书面鉴定) and a grade; the cadre acknowledges it
(反馈). Plans and assessments are versioned: a new version keeps the old one, and the newest counts.
"""

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select

from accounts.models import Cadre
from archive import figures, records
from archive.models import (
    AnnualAssessment,
    ArchiveEntry,
    AssessmentGrade,
    EntryStatus,
    ExamResultRecord,
    HourKind,
    ReadingBook,
    ReadingExam,
    ReadingNote,
    ReviewStatus,
    StudyPlan,
)
from core import audit
from core.errors import DomainError
from core.extensions import db
from core.models import now_utc
from core.policy import can, is_archive_owner

HOUR_KINDS = tuple(HourKind)


# ---------------------------------------------------------------- plans


def latest_plan(user_id: int, year: int) -> StudyPlan | None:
    return db.session.scalar(
        select(StudyPlan).where(StudyPlan.user_id == user_id, StudyPlan.year == year)
        .order_by(StudyPlan.version.desc()).limit(1)
    )  # fmt: skip


def save_plan(actor, cadre: Cadre, year: int, goals: str, planned: dict, reason: str, now: datetime) -> StudyPlan:
    """A new version of the cadre's plan for the year. Written by the cadre it is a proposal the unit agrees to;
    written by the unit it is agreed at once. A version after the first needs a reason."""
    owner, manager = is_archive_owner(actor, cadre), can(actor, "archive.manage", cadre)
    if not (owner or manager):
        raise DomainError(_("You may not change this plan."), code="forbidden", status=403)
    records.check_open(year)
    goals = (goals or "").strip()
    problems = []
    if not 0 < len(goals) <= 5000:
        problems.append(("goals", _("Write the goals (at most %(n)d characters).", n=5000)))
    hours = {}
    for kind in HOUR_KINDS:
        value = planned.get(kind) or 0
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= records.MAX_HOURS:
            problems.append((kind, _("Hours: 0 to %(n)d.", n=records.MAX_HOURS)))
        else:
            hours[str(kind)] = float(value)
    if problems:
        raise DomainError(" ".join(m for _f, m in problems), code="bad_plan", problems=problems)
    previous = latest_plan(cadre.user_id, year)
    reason = records._reason(reason, required=previous is not None)
    agreed = manager and not owner
    plan = StudyPlan(user_id=cadre.user_id, year=year, version=(previous.version + 1) if previous else 1,
                     goals=goals, planned_hours=hours, author_id=actor.id, created_at=now, reason=reason,
                     agreed_by_id=actor.id if agreed else None, agreed_at=now if agreed else None)  # fmt: skip
    db.session.add(plan)
    db.session.flush()
    return plan


def agree_plan(actor, plan: StudyPlan, cadre: Cadre, now: datetime) -> StudyPlan:
    if not can(actor, "archive.manage", cadre) or is_archive_owner(actor, cadre):
        raise DomainError(_("You may not agree to this plan."), code="forbidden", status=403)
    records.check_open(plan.year)
    if plan.agreed_at is not None:
        raise DomainError(_("This plan is agreed already."), code="agreed")
    if latest_plan(plan.user_id, plan.year).id != plan.id:
        raise DomainError(_("A newer version of this plan exists."), code="superseded")
    plan.agreed_by_id, plan.agreed_at = actor.id, now
    audit.record("archive.plan_agreed", actor=actor, target=f"user:{plan.user_id}", detail={"year": plan.year}, at=now)
    db.session.flush()
    return plan


# ---------------------------------------------------------------- summary


def hours_by_kind(user_id: int, year: int) -> dict[str, float]:
    rows = db.session.execute(
        select(ArchiveEntry.hour_kind, func.sum(ArchiveEntry.hours))
        .where(ArchiveEntry.user_id == user_id, ArchiveEntry.year == year, ArchiveEntry.deleted_at.is_(None),
               ArchiveEntry.status == EntryStatus.ACCEPTED, ArchiveEntry.hour_kind.isnot(None))
        .group_by(ArchiveEntry.hour_kind)
    ).all()  # fmt: skip
    found = {kind: float(total or 0) for kind, total in rows}
    return {str(kind): found.get(kind, 0.0) for kind in HOUR_KINDS}


def summary(cadre: Cadre, year: int, now: datetime | None = None) -> dict:
    """What the archive holds for the year, as the assessment takes it. Exam results count once they are released
    to the cadre (the cadre reads the summary kept with the assessment)."""
    from exam.models import Attempt
    from exam.visibility import result_visible

    now = now or now_utc()
    hours = hours_by_kind(cadre.user_id, year)
    plan = latest_plan(cadre.user_id, year)
    year_row = records.archive_year(year)
    required = float(year_row.required_hours) if year_row else 0.0
    # The year's results, but a list's written exam counts in its list's year (once), whenever it was sat.
    written = db.session.get(ReadingExam, year)
    other_lists = select(ReadingExam.exam_id).where(ReadingExam.year != year)
    sat_in = [and_(ExamResultRecord.year == year, ExamResultRecord.exam_id.not_in(other_lists))]
    if written is not None:
        sat_in.append(ExamResultRecord.exam_id == written.exam_id)
    rows = db.session.execute(
        select(ExamResultRecord.exam_code, ExamResultRecord.exam_title, ExamResultRecord.score,
               ExamResultRecord.passed, ExamResultRecord.final, Attempt)
        .join(Attempt, Attempt.id == ExamResultRecord.attempt_id)
        .where(ExamResultRecord.user_id == cadre.user_id, or_(*sat_in))
        .order_by(ExamResultRecord.sat_on)
    ).all()  # fmt: skip
    results = [(*row[:5], row[5].id) for row in rows if result_visible(row[5], now)]
    books = db.session.scalar(
        select(func.count(ReadingBook.id)).where(ReadingBook.year == year, ReadingBook.withdrawn_at.is_(None))
    )
    passed_books = db.session.scalar(
        select(func.count(func.distinct(ReadingNote.book_id))).join(ReadingBook)
        .where(ReadingNote.user_id == cadre.user_id, ReadingBook.year == year, ReadingBook.withdrawn_at.is_(None),
               ReadingNote.status == ReviewStatus.ACCEPTED)
    )  # fmt: skip
    total = sum(hours.values())
    exams = [{"code": c, "title": t, "score": s, "passed": p, "final": f, "attempt": a} for c, t, s, p, f, a in results]
    return {
        "year": year,
        "hours": hours,
        "total_hours": total,
        "planned_hours": dict(plan.planned_hours) if plan else {},
        "planned_total": plan.total_hours if plan else 0.0,
        "plan_agreed": bool(plan and plan.agreed_at),
        "required_hours": required,
        "meets_minimum": total >= required,
        "exams": exams,
        "exams_taken": len({r[0] for r in results}),
        "exams_passed": len({r[0] for r in results if r[3] and r[4]}),
        "books": books or 0,
        "books_passed": passed_books or 0,
        "reading_exam": {"code": written.exam.code, "title": written.exam.title} if written else None,
        **_reading_exam_outcome(exams, written.exam.code if written else None),
    }


def _reading_exam_outcome(exams: list[dict], code: str | None) -> dict:
    """The written exam on the reading list as the summary tells it: sat or not, and passed (a final pass)."""
    mine = [e for e in exams if code and e["code"] == code]
    return {"reading_exam_sat": bool(mine), "reading_exam_passed": any(e["passed"] and e["final"] for e in mine)}


def visible_summary(kept: dict, now: datetime) -> dict:
    """A kept summary as its cadre may read it now: results whose release was withdrawn since (an exam's release
    policy can change after the assessment) are left out, and the counts follow."""
    from exam.models import Attempt
    from exam.visibility import result_visible

    exams = []
    for exam in kept.get("exams", []):
        attempt = db.session.get(Attempt, exam.get("attempt") or 0)
        if attempt is not None and result_visible(attempt, now):
            exams.append(exam)
    taken = {e["code"] for e in exams}
    passed = {e["code"] for e in exams if e["passed"] and e["final"]}
    written = (kept.get("reading_exam") or {}).get("code")
    return {**kept, "exams": exams, "exams_taken": len(taken), "exams_passed": len(passed)} | _reading_exam_outcome(
        exams, written
    )


# ---------------------------------------------------------------- assessment


def latest_assessment(user_id: int, year: int) -> AnnualAssessment | None:
    return db.session.scalar(
        select(AnnualAssessment).where(AnnualAssessment.user_id == user_id, AnnualAssessment.year == year)
        .order_by(AnnualAssessment.version.desc()).limit(1)
    )  # fmt: skip


def appraise(actor, cadre: Cadre, year: int, appraisal: str, grade: str, reason: str, now: datetime):
    """The unit's assessment of the year: the summary as it stands, a written appraisal and a grade. A second
    version needs a reason, and the cadre acknowledges it afresh."""
    if not can(actor, "archive.manage", cadre) or is_archive_owner(actor, cadre):
        raise DomainError(_("You may not assess this cadre."), code="forbidden", status=403)
    records.check_open(year)
    appraisal = (appraisal or "").strip()
    problems = []
    if not 20 <= len(appraisal) <= 5000:
        problems.append(("appraisal", _("Write the appraisal: 20 to 5,000 characters.")))
    if grade not in set(AssessmentGrade):
        problems.append(("grade", _("Choose a grade.")))
    if problems:
        raise DomainError(" ".join(m for _f, m in problems), code="bad_assessment", problems=problems)
    previous = latest_assessment(cadre.user_id, year)
    reason = records._reason(reason, required=previous is not None)
    row = AnnualAssessment(user_id=cadre.user_id, year=year, version=(previous.version + 1) if previous else 1,
                           summary=summary(cadre, year, now), appraisal=appraisal, grade=grade, appraiser_id=actor.id,
                           appraised_at=now, reason=reason)  # fmt: skip
    db.session.add(row)
    audit.record("archive.assessed", actor=actor, target=f"user:{cadre.user_id}",
                 detail={"year": year, "grade": grade, "version": row.version}, at=now)  # fmt: skip
    figures.refresh(cadre.user_id, year)
    return row


def acknowledge(user, cadre: Cadre, row: AnnualAssessment, feedback: str, now: datetime) -> AnnualAssessment:
    """The cadre says they have seen the newest assessment, optionally with feedback."""
    if not is_archive_owner(user, cadre) or row.user_id != cadre.user_id:
        raise DomainError(_("Only the cadre acknowledges their assessment."), code="forbidden", status=403)
    records.check_open(row.year)
    if latest_assessment(row.user_id, row.year).id != row.id:
        raise DomainError(_("A newer version of this assessment exists."), code="superseded")
    if row.acknowledged_at is not None:
        raise DomainError(_("You have acknowledged this assessment already."), code="acknowledged")
    feedback = (feedback or "").strip()
    if len(feedback) > 2000:
        raise DomainError(_("At most %(n)d characters.", n=2000), code="bad_feedback")
    row.acknowledged_at, row.feedback = now, feedback
    figures.refresh(cadre.user_id, row.year)
    return row
