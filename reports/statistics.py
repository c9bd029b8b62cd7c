"""Statistics of an exam's results for the candidates a viewer may see (reports.ranking): the summary (mean,
median, population standard deviation, highest, lowest, pass rate), the score distribution, and the figures per
unit with their ranking; per year the same over the year's exams.

Every figure comes from one GROUP BY in SQL, the score table: how many ranked candidates of each unit have each
score (and passed). Sums, medians and bands are exact from those counts, and there are at most (units × distinct
scores) rows, however many candidates; with who may sit the exam and who started it, also grouped by unit, a page
of statistics is three aggregate queries.
"""

import math
from collections import defaultdict
from datetime import datetime

from sqlalchemy import select

from accounts.models import Unit
from core.extensions import db
from core.models import LOCAL_ZONE
from exam.models import Exam
from reports.ranking import NO_FILTERS, Filters, narrowed, participation, score_table, totals

SORTS = ("mean", "median", "pass_rate", "participation")


def _median(counts: dict[float, int], n: int) -> float | None:
    """The median of scores given as {score: how many}."""
    if not n:
        return None
    lo, hi = (n - 1) // 2, n // 2  # the middle one or two places, from 0
    seen, low_value = 0, None
    for score in sorted(counts):
        seen += counts[score]
        if low_value is None and seen > lo:
            low_value = score
        if seen > hi:
            return (low_value + score) / 2
    return None


def summarise(table: list[tuple]) -> dict:
    """n, mean, median, sd (population), highest, lowest, passed and pass_rate of a score table."""
    counts: dict[float, int] = defaultdict(int)
    passed = 0
    for _unit, score, n, p in table:
        counts[score] += n
        passed += p
    n = sum(counts.values())
    if not n:
        return {"n": 0, "mean": None, "median": None, "sd": None, "high": None, "low": None, "passed": 0,
                "pass_rate": None}  # fmt: skip
    mean = sum(s * c for s, c in counts.items()) / n
    variance = sum(c * (s - mean) ** 2 for s, c in counts.items()) / n
    return {"n": n, "mean": mean, "median": _median(counts, n), "sd": math.sqrt(variance), "high": max(counts),
            "low": min(counts), "passed": passed, "pass_rate": passed / n}  # fmt: skip


def distribute(table: list[tuple], total: float, bins: int = 10) -> list[dict]:
    """The score distribution in `bins` equal bands of the total points: [{low, high, count}], the last band
    including the total."""
    if total <= 0:
        return []
    counts = [0] * bins
    for _unit, score, n, _p in table:
        counts[min(max(math.floor(score * bins / total), 0), bins - 1)] += n
    width = total / bins
    return [{"low": i * width, "high": (i + 1) * width, "count": counts[i]} for i in range(bins)]


def unit_rows(table: list[tuple], by_unit: dict, sort: str = "mean") -> list[dict]:
    """Per unit: may sit, took, ranked, passed; participation and pass rate; mean and median; and the place by
    `sort` (competition ranking, units without results last)."""
    scores: dict = defaultdict(lambda: defaultdict(int))
    passed: dict = defaultdict(int)
    for unit_id, score, n, p in table:
        scores[unit_id][score] += n
        passed[unit_id] += p
    ids = set(by_unit) | set(scores)
    known = [i for i in ids if i]
    units = {u.id: u for u in db.session.scalars(select(Unit).where(Unit.id.in_(known)))} if known else {}
    rows = []
    for unit_id in ids:
        counts = scores.get(unit_id, {})
        n = sum(counts.values())
        p = by_unit.get(unit_id, {})
        e, t = p.get("eligible", 0), p.get("took", 0)
        unit = units.get(unit_id)
        rows.append({
            "unit_id": unit_id, "unit": unit.name if unit else None, "path": unit.path if unit else "",
            "eligible": e, "took": t, "ranked": n, "passed": passed.get(unit_id, 0),
            "participation": t / e if e else None, "pass_rate": passed.get(unit_id, 0) / n if n else None,
            "mean": sum(s * c for s, c in counts.items()) / n if n else None, "median": _median(counts, n),
        })  # fmt: skip
    return rank_rows(rows, sort if sort in SORTS else "mean")


def rank_rows(rows: list[dict], key: str) -> list[dict]:
    """Sort rows by `key` (higher first, missing last, then by unit) and give each its competition rank."""
    rows.sort(key=lambda r: (r[key] is None, -(r[key] or 0), r["path"] or "~", r["unit"] or ""))
    for i, row in enumerate(rows):
        if row[key] is None:
            row["place"] = None
        elif i and rows[i - 1][key] == row[key]:
            row["place"] = rows[i - 1]["place"]
        else:
            row["place"] = i + 1
    return rows


def placed_in_district(viewer, build) -> list[dict]:
    """`build(viewer)`'s unit rows, where a unit's place is its place among the district's units whoever looks (as
    a person's rank is); a viewer whose scope is narrower keeps the place among their own units beside it
    (`scope_place`)."""
    rows = build(viewer)
    if not narrowed(viewer):
        return rows
    places = {r["unit_id"]: r["place"] for r in build(None)}
    for row in rows:
        row["scope_place"], row["place"] = row["place"], places.get(row["unit_id"])
    return rows


# ---------------------------------------------------------------- one exam


def figures(exam: Exam, viewer, sort: str = "mean") -> dict:
    """Everything the statistics page shows, from one score table and one participation count."""
    table = score_table(exam, viewer)
    by_unit = participation(exam, viewer)
    return {"summary": summarise(table), "distribution": distribute(table, exam.total_points),
            "units": units(exam, viewer, sort=sort), "counts": totals(by_unit)}  # fmt: skip


def summary(exam: Exam, viewer, filters: Filters = NO_FILTERS) -> dict:
    return summarise(score_table(exam, viewer, filters))


def distribution(exam: Exam, viewer, filters: Filters = NO_FILTERS, bins: int = 10) -> list[dict]:
    return distribute(score_table(exam, viewer, filters), exam.total_points, bins)


def units(exam: Exam, viewer, filters: Filters = NO_FILTERS, sort: str = "mean") -> list[dict]:
    return placed_in_district(
        viewer, lambda who: unit_rows(score_table(exam, who, filters), participation(exam, who, filters), sort)
    )


# ---------------------------------------------------------------- a year


def year_exams(year: int) -> list[Exam]:
    """The exams of a (Beijing) year that candidates have started, by opening."""
    start = datetime(year, 1, 1, tzinfo=LOCAL_ZONE)
    end = datetime(year + 1, 1, 1, tzinfo=LOCAL_ZONE)
    return list(db.session.scalars(
        select(Exam).where(Exam.first_started_at.is_not(None), Exam.opens_at >= start, Exam.opens_at < end)
        .order_by(Exam.opens_at, Exam.code)
    ))  # fmt: skip


def year_units(year: int, viewer, sort: str = "mean") -> dict:
    """Per unit, over every exam of the year: places to sit (eligible people summed over the exams), attempts
    taken, ranked, passed; participation and pass rate; mean and median of the scores as a percentage of each
    exam's total (so that exams of different lengths compare)."""
    exams = year_exams(year)

    def rows(who) -> list[dict]:
        table = []
        by_unit = defaultdict(lambda: dict.fromkeys(("eligible", "not_started", "took", "submitted", "ranked"), 0))
        for exam in exams:
            if exam.total_points:
                table += [(u, 100.0 * s / exam.total_points, n, p) for u, s, n, p in score_table(exam, who)]
            for unit_id, counts in participation(exam, who).items():
                for k, v in counts.items():
                    by_unit[unit_id][k] += v
        return unit_rows(table, by_unit, sort)

    return {"exams": exams, "rows": placed_in_district(viewer, rows)}
