"""Study plans and the annual learning assessment (年度学习考核).

The summary is gathered from the archive (hours by kind against the plan and the year's minimum, exams taken and
passed, reading notes passed); the unit writes an appraisal (写实性书面鉴定) and a grade; the cadre acknowledges it
(反馈). Plans and assessments are versioned: a new version keeps the old one, and the newest counts.
"""

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, or_, select

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
    return summaries([(cadre, year)], now)[(cadre.user_id, year)]


def summaries(pairs, now: datetime | None = None) -> dict[tuple[int, int], dict]:
    """The summaries of many (cadre, year) pairs at once, {(user id, year): summary}: a few grouped statements per
    500 cadres, however many pairs (a batch import assesses thousands)."""
    from exam.models import Attempt
    from exam.visibility import result_visible

    now = now or now_utc()
    pairs = {(cadre.user_id, year) for cadre, year in pairs}
    users, years = sorted({u for u, _y in pairs}), sorted({y for _u, y in pairs})
    hours: dict = {}
    plans: dict = {}
    passed: dict = {}
    rows_by_user: dict = {}
    # The year's results, but a list's written exam counts in its list's year (once), whenever it was sat.
    lists = dict(db.session.execute(select(ReadingExam.exam_id, ReadingExam.year)).all())
    written = {y: db.session.get(ReadingExam, y) for y in years}
    written_ids = [w.exam_id for w in written.values() if w is not None]
    for start in range(0, len(users), 500):
        chunk = users[start : start + 500]
        for user_id, year, kind, total in db.session.execute(
            select(ArchiveEntry.user_id, ArchiveEntry.year, ArchiveEntry.hour_kind, func.sum(ArchiveEntry.hours))
            .where(ArchiveEntry.user_id.in_(chunk), ArchiveEntry.year.in_(years), ArchiveEntry.deleted_at.is_(None),
                   ArchiveEntry.status == EntryStatus.ACCEPTED, ArchiveEntry.hour_kind.isnot(None))
            .group_by(ArchiveEntry.user_id, ArchiveEntry.year, ArchiveEntry.hour_kind)
        ):  # fmt: skip
            hours.setdefault((user_id, year), {})[kind] = float(total or 0)
        for plan in db.session.scalars(
            select(StudyPlan).where(StudyPlan.user_id.in_(chunk), StudyPlan.year.in_(years))
            .order_by(StudyPlan.user_id, StudyPlan.year, StudyPlan.version.desc())
        ):  # fmt: skip
            plans.setdefault((plan.user_id, plan.year), plan)
        for user_id, year, count in db.session.execute(
            select(ReadingNote.user_id, ReadingBook.year, func.count(func.distinct(ReadingNote.book_id)))
            .join(ReadingBook)
            .where(ReadingNote.user_id.in_(chunk), ReadingBook.year.in_(years), ReadingBook.withdrawn_at.is_(None),
                   ReadingNote.status == ReviewStatus.ACCEPTED)
            .group_by(ReadingNote.user_id, ReadingBook.year)
        ):  # fmt: skip
            passed[(user_id, year)] = count
        for row in db.session.execute(
            select(ExamResultRecord.user_id, ExamResultRecord.year, ExamResultRecord.exam_id,
                   ExamResultRecord.exam_code, ExamResultRecord.exam_title, ExamResultRecord.score,
                   ExamResultRecord.passed, ExamResultRecord.final, Attempt)
            .join(Attempt, Attempt.id == ExamResultRecord.attempt_id)
            .where(ExamResultRecord.user_id.in_(chunk),
                   or_(ExamResultRecord.year.in_(years), ExamResultRecord.exam_id.in_(written_ids)))
            .order_by(ExamResultRecord.sat_on, ExamResultRecord.id)
        ):  # fmt: skip
            rows_by_user.setdefault(row.user_id, []).append(row)
    books = dict(db.session.execute(
        select(ReadingBook.year, func.count(ReadingBook.id))
        .where(ReadingBook.year.in_(years), ReadingBook.withdrawn_at.is_(None)).group_by(ReadingBook.year)
    ).all())  # fmt: skip
    year_rows = {y: records.archive_year(y) for y in years}
    found = {}
    for user_id, year in pairs:
        mine = written[year]
        kept = []
        for row in rows_by_user.get(user_id, []):
            in_year = row.year == year and lists.get(row.exam_id, year) == year
            if (in_year or (mine is not None and row.exam_id == mine.exam_id)) and result_visible(row.Attempt, now):
                kept.append(row)
        by_kind = hours.get((user_id, year), {})
        hours_now = {str(kind): by_kind.get(kind, 0.0) for kind in HOUR_KINDS}
        plan = plans.get((user_id, year))
        year_row = year_rows[year]
        required = float(year_row.required_hours) if year_row else 0.0
        total = sum(hours_now.values())
        exams = [{"code": r.exam_code, "title": r.exam_title, "score": r.score, "passed": r.passed,
                  "final": r.final, "attempt": r.Attempt.id} for r in kept]  # fmt: skip
        found[(user_id, year)] = {
            "year": year,
            "hours": hours_now,
            "total_hours": total,
            "planned_hours": dict(plan.planned_hours) if plan else {},
            "planned_total": plan.total_hours if plan else 0.0,
            "plan_agreed": bool(plan and plan.agreed_at),
            "required_hours": required,
            "meets_minimum": total >= required,
            "exams": exams,
            "exams_taken": len({e["code"] for e in exams}),
            "exams_passed": len({e["code"] for e in exams if e["passed"] and e["final"]}),
            "books": books.get(year, 0),
            "books_passed": passed.get((user_id, year), 0),
            "reading_exam": {"code": mine.exam.code, "title": mine.exam.title} if mine else None,
            **_reading_exam_outcome(exams, mine.exam.code if mine else None),
        }
    return found


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


def _appraisal_checked(appraisal: str, grade: str) -> str:
    appraisal = (appraisal or "").strip()
    problems = []
    if not 20 <= len(appraisal) <= 5000:
        problems.append(("appraisal", _("Write the appraisal: 20 to 5,000 characters.")))
    if grade not in set(AssessmentGrade):
        problems.append(("grade", _("Choose a grade.")))
    if problems:
        raise DomainError(" ".join(m for _f, m in problems), code="bad_assessment", problems=problems)
    return appraisal


def _may_assess(actor, cadre: Cadre) -> None:
    if not can(actor, "archive.manage", cadre) or is_archive_owner(actor, cadre):
        raise DomainError(_("You may not assess this cadre."), code="forbidden", status=403)


def appraise(actor, cadre: Cadre, year: int, appraisal: str, grade: str, reason: str, now: datetime):
    """The unit's assessment of the year: the summary as it stands, a written appraisal and a grade. A second
    version needs a reason, and the cadre acknowledges it afresh."""
    _may_assess(actor, cadre)
    records.check_open(year)
    appraisal = _appraisal_checked(appraisal, grade)
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


def appraise_many(actor, items, now: datetime) -> list[AnnualAssessment]:
    """First assessments of many (cadre, year) pairs at once, each as `appraise` writes it, in grouped statements
    (a batch import of results kept elsewhere). `items`: (cadre, year, appraisal, grade). All or none: a pair
    already assessed, a closed year or a cadre outside the actor's keeping refuses the whole batch."""
    checked = []
    for cadre, year, appraisal, grade in items:
        _may_assess(actor, cadre)
        checked.append((cadre, year, _appraisal_checked(appraisal, grade), grade))
    for year in sorted(records.closed_years(year for _c, year, _a, _g in checked))[:1]:
        records.check_open(year)
    pairs = {(cadre.user_id, year) for cadre, year, _a, _g in checked}
    users, years = sorted({u for u, _y in pairs}), sorted({y for _u, y in pairs})
    for start in range(0, len(users), 500):
        taken = db.session.execute(
            select(AnnualAssessment.user_id, AnnualAssessment.year)
            .where(AnnualAssessment.user_id.in_(users[start : start + 500]), AnnualAssessment.year.in_(years))
        ).all()  # fmt: skip
        if any(tuple(pair) in pairs for pair in taken):
            raise DomainError(_("A newer version of this assessment exists."), code="superseded")
    summaries_now = summaries([(cadre, year) for cadre, year, _a, _g in checked], now)
    rows = []
    for cadre, year, appraisal, grade in checked:
        row = AnnualAssessment(user_id=cadre.user_id, year=year, version=1, appraisal=appraisal, grade=grade,
                               summary=summaries_now[(cadre.user_id, year)], appraiser_id=actor.id, appraised_at=now,
                               reason="")  # fmt: skip
        rows.append(row)
        audit.record("archive.assessed", actor=actor, target=f"user:{cadre.user_id}",
                     detail={"year": year, "grade": grade, "version": 1}, at=now)  # fmt: skip
    db.session.add_all(rows)
    figures.refresh_many(pairs)
    return rows


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
