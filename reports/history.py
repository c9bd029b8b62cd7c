"""Across exams: a cadre's exam history with its trend, and per qualification cycle (a year) the district's
progress: who holds the qualification, who has passed one part, who has passed neither. Both read what the exam
engine wrote into the learning archives (archive_exam_results, qualifications)."""

from datetime import date, datetime

from sqlalchemy import and_, func, select, union

from accounts.models import Cadre, Unit, User
from archive.models import ExamResultRecord, Qualification, QualificationPart
from archive.queries import visible_results
from core.extensions import db
from exam import roster
from exam.eligibility import eligible_people
from exam.models import Answer, Attempt, Exam, ExamSection, ExamStatus, PaperItem
from reports.ranking import frozen, unit_condition

#: Where a person stands in a cycle: holds the qualification; passed both parts but it is no longer valid; passed
#: only one part; passed neither.
#: A person's standing in a cycle; "none" is for who sat and passed neither part, "not_sat" for who has no result
#: in any of the cycle's exams yet (not a failure).
STATUSES = ("qualified", "lapsed", "political_theory", "job_knowledge", "none", "not_sat")


def exam_history(cadre: Cadre, viewer_is_owner: bool, now: datetime) -> list[dict]:
    """The cadre's results, oldest first, each with its share of the points (the trend): the owner sees only
    results released to them."""
    rows = []
    for record in reversed(visible_results(cadre, viewer_is_owner, now)):
        total = float(record.total_points or 0)
        score = None if record.score is None else float(record.score)
        rows.append({
            "record": record, "score": score, "total": total, "passed": record.passed, "final": record.final,
            "percent": round(100 * score / total, 1) if score is not None and total else None,
        })  # fmt: skip
    return rows


def attempt_sections(attempt: Attempt) -> list[dict]:
    """An attempt's points and the possible points per section of its paper, in the paper's order."""
    rows = db.session.execute(
        select(ExamSection.title, func.sum(func.coalesce(Answer.points, 0)), func.sum(PaperItem.points))
        .select_from(PaperItem)
        .join(ExamSection, ExamSection.id == PaperItem.section_id)
        .outerjoin(Answer, and_(Answer.attempt_id == attempt.id, Answer.position == PaperItem.position))
        .where(PaperItem.paper_id == attempt.paper_id)
        .group_by(ExamSection.id, ExamSection.title, ExamSection.position)
        .order_by(ExamSection.position)
    ).all()
    return [{"title": t, "points": float(p or 0), "total": float(m or 0)} for t, p, m in rows]


def cycles() -> list[str]:
    """Qualification cycles that have exams, newest first."""
    return sorted(
        {c for c in db.session.scalars(select(Exam.qualification_cycle).where(Exam.qualification_cycle.is_not(None)))},
        reverse=True,
    )


def cycle_exams(cycle: str) -> list[Exam]:
    return list(db.session.scalars(
        select(Exam).where(Exam.qualification_cycle == cycle, Exam.status != ExamStatus.DRAFT).order_by(Exam.opens_at)
    ))  # fmt: skip


def _people_ids(exam: Exam):
    """SELECT of the ids of the exam's people: its roster frozen at the close once it has closed (a cadre retired
    since still had the exam to sit), who may sit it now before."""
    if frozen(exam):
        return roster.user_ids(exam)
    return eligible_people(exam).with_only_columns(User.id.label("user_id")).order_by(None)


def progress(cycle: str, viewer, today: date) -> dict:
    """Everyone the cycle concerns (who may sit one of its exams, or has a result in one) within the viewer's
    scope, each with what they have passed and whether they hold the qualification (valid on `today`)."""
    exams = cycle_exams(cycle)
    if not exams:
        return {"exams": [], "rows": [], "counts": dict.fromkeys(STATUSES, 0), "total": 0}
    ids = [e.id for e in exams]
    concerned = union(
        *(_people_ids(e) for e in exams),
        select(ExamResultRecord.user_id).where(ExamResultRecord.exam_id.in_(ids)),
    ).subquery()
    people = db.session.execute(
        select(User.id, User.name, User.username, Unit.id, Unit.name)
        .join(concerned, concerned.c.user_id == User.id)
        .outerjoin(Cadre, Cadre.user_id == User.id)
        .outerjoin(Unit, Unit.id == Cadre.unit_id)
        .where(unit_condition(viewer))
        .order_by(Unit.path.is_(None), Unit.path, User.username)
    ).all()
    passed: dict[int, set] = {}
    for user_id, part in db.session.execute(
        select(ExamResultRecord.user_id, Exam.qualification_part)
        .join(Exam, Exam.id == ExamResultRecord.exam_id)
        .where(Exam.id.in_(ids), ExamResultRecord.final.is_(True), ExamResultRecord.passed.is_(True))
        .distinct()
    ):
        passed.setdefault(user_id, set()).add(part)
    sat = set(db.session.scalars(select(ExamResultRecord.user_id).where(ExamResultRecord.exam_id.in_(ids))))
    held = dict(
        db.session.execute(
            select(Qualification.user_id, Qualification.valid_until).where(
                Qualification.cycle == cycle, Qualification.revoked_at.is_(None)
            )
        ).all()
    )
    rows, counts = [], dict.fromkeys(STATUSES, 0)
    for user_id, name, username, unit_id, unit_name in people:
        parts = passed.get(user_id, set())
        if user_id in held and held[user_id] >= today:
            status = "qualified"
        elif len(parts) == 2:
            status = "lapsed"
        elif QualificationPart.POLITICAL_THEORY in parts and QualificationPart.JOB_KNOWLEDGE not in parts:
            status = "political_theory"
        elif QualificationPart.JOB_KNOWLEDGE in parts and QualificationPart.POLITICAL_THEORY not in parts:
            status = "job_knowledge"
        elif user_id in sat:
            status = "none"
        else:
            status = "not_sat"
        counts[status] += 1
        rows.append({"user_id": user_id, "name": name, "username": username, "unit_id": unit_id, "unit": unit_name,
                     "parts": parts, "status": status, "valid_until": held.get(user_id)})  # fmt: skip
    return {"exams": exams, "rows": rows, "counts": counts, "total": len(rows)}


def years_with_exams() -> list[int]:
    """(Beijing) years in which exams were sat, newest first."""
    return sorted({r for r in db.session.scalars(select(func.distinct(ExamResultRecord.year)))}, reverse=True)
