"""Read queries of the archive: a cadre's year-by-year timeline, unit overviews with the cadres behind each
number, and the district's education profile. Figures are computed in SQL (grouped subqueries), never by loading
every record."""

from datetime import datetime

from flask_login import current_user
from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import aliased

from accounts.models import LEADING_RANKS, Cadre, CadreStatus, Education, Unit, User
from archive import assessment, qualifications, reading, records
from archive.models import AnnualAssessment, CadreYear, ExamResultRecord, ReadingBook, ReadingNote, ReviewStatus
from core import policy
from core.extensions import db
from core.models import local_today
from core.policy import scope_filter

BACHELOR_OR_HIGHER = (Education.BACHELOR, Education.MASTER, Education.DOCTORATE)


def visible_results(cadre: Cadre, viewer_is_owner: bool, now: datetime) -> list[ExamResultRecord]:
    """The cadre's exam results; the cadre sees a result only once the exam's release policy allows."""
    from exam.models import Attempt
    from exam.visibility import result_visible

    rows = db.session.execute(
        select(ExamResultRecord, Attempt).join(Attempt, Attempt.id == ExamResultRecord.attempt_id)
        .where(ExamResultRecord.user_id == cadre.user_id).order_by(ExamResultRecord.sat_on.desc())
    ).all()  # fmt: skip
    if viewer_is_owner:
        return [record for record, attempt in rows if result_visible(attempt, now)]
    # Another's results, but not of an exam the viewer sits, before the viewer's review (conflicts of interest).
    return [
        record for record, _attempt in rows if not policy.conflict(current_user, results_of=record.exam_id, now=now)
    ]


def timeline(cadre: Cadre, viewer_is_owner: bool, now: datetime) -> list[dict]:
    """Year by year, newest first: entries, hours by kind with the plan and the minimum, exam results, reading
    notes and the assessment."""
    entries = records.entries_of(cadre.user_id)
    results = visible_results(cadre, viewer_is_owner, now)
    years = {e.year for e in entries} | {r.year for r in results}
    years |= set(db.session.scalars(select(AnnualAssessment.year).where(AnnualAssessment.user_id == cadre.user_id)))
    this_year = local_today(now).year
    years.add(this_year)
    out = []
    for year in sorted((y for y in years if y <= this_year + 1), reverse=True):
        year_entries = [e for e in entries if e.year == year]
        hours = {str(k): 0.0 for k in assessment.HOUR_KINDS}
        for e in year_entries:
            if e.counts and e.hour_kind:
                hours[e.hour_kind] += float(e.hours)
        plan = assessment.latest_plan(cadre.user_id, year)
        year_row = records.archive_year(year)
        books = reading.books_of(year)
        out.append({
            "year": year, "entries": year_entries, "hours": hours, "total": sum(hours.values()), "plan": plan,
            "required": float(year_row.required_hours) if year_row else 0.0,
            "closed": bool(year_row and year_row.closed_at),
            "results": [r for r in results if r.year == year],
            "books": books, "notes": reading.notes_of(cadre.user_id, year) if books else {},
            "reading_exam": reading.reading_exam(year), "reading_results": reading.exam_results(year, results),
            "assessment": assessment.latest_assessment(cadre.user_id, year),
        })  # fmt: skip
    return out


def holder_qualifications(cadre: Cadre, viewer_is_owner: bool, now: datetime):
    rows = qualifications.of_user(cadre.user_id)
    return [q for q in rows if not viewer_is_owner or qualifications.visible_to_holder(q, now)]


# ---------------------------------------------------------------- unit overview


def _required(year: int) -> float:
    row = records.archive_year(year)
    return float(row.required_hours) if row else 0.0


def _book_count(year: int) -> int:
    return db.session.scalar(
        select(func.count(ReadingBook.id)).where(ReadingBook.year == year, ReadingBook.withdrawn_at.is_(None))
    )


def _cadre_columns(year: int):
    """Columns per serving cadre from their kept figures (archive.figures): hours, met (hours ≥ required), notes
    passed, reading done (every book's note passed), assessed, acknowledged. Cadres without figures count zero."""
    required, books = _required(year), _book_count(year)
    figures = select(CadreYear).where(CadreYear.year == year).subquery()
    h = func.coalesce(figures.c.hours, 0)
    n = func.coalesce(figures.c.notes_passed, 0)
    columns = {
        "hours": h.label("hours"),
        "met": case((h >= required, 1), else_=0).label("met"),
        "notes": n.label("notes"),
        "reading_done": (case((n >= books, 1), else_=0) if books else literal(0)).label("reading_done"),
        "grade": figures.c.grade.label("grade"),
        "assessed": case((figures.c.grade.isnot(None), 1), else_=0).label("assessed"),
        "acknowledged": case((figures.c.acknowledged.is_(True), 1), else_=0).label("acknowledged"),
    }
    return columns, figures, required, books


def pending_notes(viewer, year: int):
    """The newest version of every reading note of the year waiting for review, from cadres in the viewer's scope
    (oldest first). Read from the pending notes (indexed by status) with no newer version beside them, never by
    grouping every note ever written."""
    newer = aliased(ReadingNote)
    has_newer = (
        select(newer.id)
        .where(newer.book_id == ReadingNote.book_id, newer.user_id == ReadingNote.user_id)
        .where(newer.version > ReadingNote.version)
        .exists()
    )
    return (
        select(ReadingNote)
        .join(ReadingBook, ReadingBook.id == ReadingNote.book_id)
        .join(Cadre, Cadre.user_id == ReadingNote.user_id)
        .join(Unit, Unit.id == Cadre.unit_id)
        .where(ReadingBook.year == year, ReadingNote.status == ReviewStatus.PENDING, ~has_newer)
        .where(scope_filter(viewer, Unit.path))
        .order_by(ReadingNote.submitted_at)
    )


def unit_overview(viewer, year: int) -> dict:
    """Per unit in the viewer's scope (its own cadres, not its sub-units'): serving cadres, how many reached the
    year's required hours, finished the reading (every book's note passed), were assessed and acknowledged it."""
    c, figures, required, books = _cadre_columns(year)
    rows = db.session.execute(
        select(Unit, func.count(Cadre.id), func.sum(c["met"]), func.sum(c["reading_done"]), func.sum(c["assessed"]),
               func.sum(c["acknowledged"]), func.sum(c["hours"]))
        .join(Cadre, Cadre.unit_id == Unit.id)
        .outerjoin(figures, figures.c.user_id == Cadre.user_id)
        .where(Cadre.status == CadreStatus.SERVING, scope_filter(viewer, Unit.path))
        .group_by(Unit.id).order_by(Unit.path)
    ).all()  # fmt: skip
    units = [{"unit": u, "cadres": n, "met": int(m or 0), "reading": int(r or 0), "assessed": int(a or 0),
              "acknowledged": int(k or 0), "hours": float(h or 0)} for u, n, m, r, a, k, h in rows]  # fmt: skip
    totals = {key: sum(u[key] for u in units) for key in ("cadres", "met", "reading", "assessed", "acknowledged",
                                                           "hours")}  # fmt: skip
    return {"year": year, "required": required, "books": books, "units": units, "totals": totals}


#: Filters of the cadre list behind the overview's numbers.
FIGURE_FILTERS = ("all", "met", "short", "reading_done", "reading_open", "assessed", "unassessed", "acknowledged")


def cadre_figures(viewer, year: int, unit: Unit | None, which: str, subtree: bool = False):
    """The serving cadres behind one number of the overview: (Cadre, hours, notes passed, grade, acknowledged)."""
    c, figures, _required_hours, _books = _cadre_columns(year)
    query = (
        select(Cadre, c["hours"], c["notes"], c["grade"], c["acknowledged"])
        .join(Unit, Unit.id == Cadre.unit_id).join(User, User.id == Cadre.user_id)
        .outerjoin(figures, figures.c.user_id == Cadre.user_id)
        .where(Cadre.status == CadreStatus.SERVING, scope_filter(viewer, Unit.path))
    )  # fmt: skip
    if unit is not None:
        query = query.where(Unit.path.startswith(unit.path, autoescape=True) if subtree else Cadre.unit_id == unit.id)
    conditions = {
        "met": c["met"] == 1, "short": c["met"] == 0, "reading_done": c["reading_done"] == 1,
        "reading_open": c["reading_done"] == 0, "assessed": c["assessed"] == 1, "unassessed": c["assessed"] == 0,
        "acknowledged": c["acknowledged"] == 1,
    }  # fmt: skip
    if which in conditions:
        query = query.where(conditions[which])
    return query.order_by(Unit.path, User.username)


# ---------------------------------------------------------------- education profile


def education_profile(viewer, leading_only: bool = True) -> dict:
    """Serving cadres (leading cadres only, by default) by education, per unit and in all, with the share holding a
    bachelor's degree or higher."""
    higher = case((Cadre.education.in_(BACHELOR_OR_HIGHER), 1), else_=0)
    query = (
        select(Unit, Cadre.education, func.count(Cadre.id), func.sum(higher))
        .join(Cadre, Cadre.unit_id == Unit.id)
        .where(Cadre.status == CadreStatus.SERVING, scope_filter(viewer, Unit.path))
        .group_by(Unit.id, Cadre.education).order_by(Unit.path)
    )  # fmt: skip
    if leading_only:
        query = query.where(Cadre.rank.in_(LEADING_RANKS))
    units: dict[int, dict] = {}
    totals = {"count": 0, "higher": 0, "by_level": {str(e): 0 for e in Education}}
    for unit, level, count, high in db.session.execute(query):
        row = units.setdefault(unit.id, {"unit": unit, "count": 0, "higher": 0, "by_level": {}})
        row["count"] += count
        row["higher"] += int(high or 0)
        row["by_level"][level] = count
        totals["count"] += count
        totals["higher"] += int(high or 0)
        totals["by_level"][level] += count
    for row in [*units.values(), totals]:
        row["share"] = row["higher"] / row["count"] if row["count"] else None
    return {"units": list(units.values()), "totals": totals}
