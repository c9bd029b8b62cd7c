"""Item analysis of an exam, from one pass of SQL aggregates over the counted attempts' answers.

Per question (version):
- facility: the mean share of the points earned (for right/wrong items, the share who got it right);
- discrimination as the point-biserial correlation of the item's points with the rest of the test (the total
  minus the item, so that the item does not correlate with itself), and as the upper/lower index: the facility
  among the top 27 % of candidates by total minus that among the bottom 27 %;
- for choice questions, how often each option was chosen (by everyone, by the top and by the bottom group);
- flags for likely bad items.
For the test: Cronbach's alpha (which is KR-20 when every item is scored right or wrong). With drawn papers each
candidate answers a different set; alpha then uses the items per paper and the item variances weighted by how
often each item was drawn (exact for a fixed paper).

The aggregates are grouped by (question, group, chosen option) so that one scan of the answers gives everything;
the analysis is kept (reports.models.ExamAnalysis) with a fingerprint of the results, and recomputed when the
results change (a new result, a grader's points, a key correction and its regrade).
"""

import json
import math
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

from flask import current_app
from sqlalchemy import Text, and_, case, cast, func, literal, select

from core.extensions import db
from exam.models import Answer, Attempt, Exam, KeyCorrection, PaperItem
from question_bank.models import Category, Question, QuestionVersion
from question_bank.richtext import to_text
from reports.models import ExamAnalysis, locked
from reports.ranking import counted_attempts, results_fingerprint

CHOICE_TYPES = ("single", "multiple", "truefalse")
GROUP_SHARE = 0.27
#: Flags are raised only with at least this many answers to an item.
MIN_RESPONSES = 10
LOW_DISCRIMINATION = 0.1
EASY, HARD = 0.95, 0.2

#: Candidates are summed up in about BATCHES queries of at least BATCH_MIN candidates (a job's progress steps).
BATCHES = 10
BATCH_MIN = 1000

FLAG_CODES = ("negative_discrimination", "low_discrimination", "too_easy", "too_hard", "distractor")


def fingerprint(exam: Exam) -> str:
    """What the analysis depends on: the results (reports.ranking.results_fingerprint) and the key corrections."""
    corrections, corrected = db.session.execute(
        select(func.count(), func.max(KeyCorrection.corrected_at)).where(KeyCorrection.exam_id == exam.id)
    ).one()
    return f"{results_fingerprint(exam)}|{corrections}|{corrected.isoformat() if corrected else ''}"


def _option_keys(qtype: str, value):
    """The options an answer chose (original indexes; True/False for true/false); () when unanswered."""
    if value is None:
        return ()
    if qtype == "truefalse":
        return (bool(value),)
    if qtype == "single":
        return (value,) if isinstance(value, int) else ()
    return tuple(v for v in value if isinstance(v, int)) if isinstance(value, list) else ()


def _key_options(qtype: str, key) -> set:
    if qtype == "truefalse":
        return {bool(key)}
    return set(key or [])


def correlation(n, sx, sxx, sy, syy, sxy) -> float | None:
    """Pearson's r from sums; None when either variable does not vary."""
    den = (n * sxx - sx * sx) * (n * syy - sy * sy)
    if den <= 1e-12:
        return None
    return (n * sxy - sx * sy) / math.sqrt(den)


def _batch_size(n: int) -> int:
    """Candidates per query: one query up to BATCH_MIN, then about BATCHES queries (each reports progress, and
    each orders the candidates again to find the groups, so not many more)."""
    return max(BATCH_MIN, math.ceil(n / BATCHES))


def _batches(query, counted, base, n: int):
    """The aggregate query cut into batches of candidates, each with how many candidates are done after it. What
    is fast differs (measured with 20,000 drawn papers): PostgreSQL reads one range of the answers' index and of
    its papers' items per batch (by attempt id); SQLite cuts the candidates by their place (any other cut made it
    twice as slow as one query)."""
    size = _batch_size(n)
    if n <= size:
        yield query, n
        return
    if db.engine.dialect.name != "postgresql":
        for first in range(0, n, size):
            yield query.where(base.c.place > first, base.c.place <= first + size), min(first + size, n)
        return
    ids = db.session.scalars(select(counted.c.attempt_id).order_by(counted.c.attempt_id)).all()
    for i in range(0, n, size):
        first, last = ids[i], ids[min(i + size, n) - 1]
        papers = select(Attempt.paper_id).where(Attempt.id.between(first, last))
        yield query.where(Answer.attempt_id.between(first, last), PaperItem.paper_id.in_(papers)), min(i + size, n)


def compute(exam: Exam, progress: Callable[[int, int], None] | None = None) -> dict:
    """The analysis of the exam's counted attempts (see the module's doc); plain data, ready to keep as JSON.
    `progress(done, total)` hears of each batch of candidates summed up (_batches)."""
    counted = counted_attempts(exam, ranked=False)  # the groups need only the order, not the ranks
    n = db.session.scalar(select(func.count()).select_from(counted)) or 0
    g = math.ceil(GROUP_SHARE * n) if n else 0
    mean_y, mean_yy = db.session.execute(
        select(func.avg(counted.c.score), func.avg(counted.c.score * counted.c.score))
    ).one()
    place = func.row_number().over(
        order_by=(counted.c.score.desc(), counted.c.seconds.asc(), counted.c.submitted.asc(), counted.c.attempt_id)
    )
    base = select(counted.c.attempt_id, counted.c.paper_id, counted.c.score.label("y"), place.label("place")).subquery()
    group = case((base.c.place <= g, "U"), (base.c.place > n - g, "L"), else_="M").label("grp")
    sections = {s.id: s for s in exam.sections}
    choice_sections = [s.id for s in exam.sections if s.qtype in CHOICE_TYPES]
    chosen = case((PaperItem.section_id.in_(choice_sections), cast(Answer.value, Text)), else_=literal(None, Text))
    x, y = Answer.points, base.c.y
    query = (
        select(
            PaperItem.question_version_id, PaperItem.section_id, group, chosen.label("chosen"),
            func.max(PaperItem.points), func.count(), func.sum(x), func.sum(x * x), func.sum(x * y), func.sum(y),
            func.sum(y * y),
        )
        .select_from(base)
        .join(PaperItem, PaperItem.paper_id == base.c.paper_id)
        .join(Answer, and_(Answer.attempt_id == base.c.attempt_id, Answer.position == PaperItem.position))
        .group_by(PaperItem.question_version_id, PaperItem.section_id, group, chosen)
    )  # fmt: skip
    sums: dict[tuple, dict] = {}
    if progress:
        progress(0, n)
    for batch, done in _batches(query, counted, base, n):
        for row in db.session.execute(batch):
            _add(sums, row, sections, choice_sections)
        if progress:
            progress(done, n)
    return _assemble(exam, n, mean_y, mean_yy, sums, sections)


def _add(sums: dict, row, sections: dict, choice_sections: list) -> None:
    """Add one aggregate row (a question, a group, a chosen option) to the sums of its question; rows of the same
    question from several batches add up."""
    version_id, section_id, grp, value, max_points, count, sx, sxx, sxy, sy, syy = row
    item = sums.setdefault((version_id, section_id), {
        "max": 0.0, "n": 0, "sx": 0.0, "sxx": 0.0, "sxy": 0.0, "sy": 0.0, "syy": 0.0,
        "groups": {"U": [0, 0.0], "L": [0, 0.0]}, "chosen": defaultdict(lambda: [0, 0, 0]), "omitted": [0, 0, 0],
    })  # fmt: skip
    item["max"] = max(item["max"], float(max_points))
    item["n"] += count
    for k, v in (("sx", sx), ("sxx", sxx), ("sxy", sxy), ("sy", sy), ("syy", syy)):
        item[k] += float(v or 0)
    if grp in item["groups"]:
        item["groups"][grp][0] += count
        item["groups"][grp][1] += float(sx or 0)
    if section_id in choice_sections:
        picked = _option_keys(sections[section_id].qtype, json.loads(value) if value is not None else None)
        tally = {"M": 0, "U": 1, "L": 2}[grp]
        if not picked:
            item["omitted"][0] += count
            if tally:
                item["omitted"][tally] += count
        for option in picked:
            item["chosen"][option][0] += count
            if tally:
                item["chosen"][option][tally] += count


def _assemble(exam: Exam, n: int, mean_y, mean_yy, sums: dict, sections: dict) -> dict:
    version_ids = sorted({vid for vid, _sid in sums})
    versions = {
        v.id: (v, q, c)
        for v, q, c in db.session.execute(
            select(QuestionVersion, Question, Category)
            .join(Question, Question.id == QuestionVersion.question_id)
            .outerjoin(Category, Category.id == Question.category_id)
            .where(QuestionVersion.id.in_(version_ids))
        )
    }
    corrected = dict(
        db.session.execute(
            select(KeyCorrection.question_version_id, KeyCorrection.answer).where(KeyCorrection.exam_id == exam.id)
        ).all()
    )
    items, weighted_variance, answers = [], 0.0, 0
    for (version_id, section_id), s in sums.items():
        version, question, category = versions[version_id]
        section = sections[section_id]
        count, top = s["n"], s["max"] or 1.0
        mean_x = s["sx"] / count
        variance = max(s["sxx"] / count - mean_x * mean_x, 0.0)
        weighted_variance += variance * count / n if n else 0.0
        answers += count
        # Rest of the test: r = y - x.
        r = correlation(count, s["sx"], s["sxx"], s["sy"] - s["sx"], s["syy"] - 2 * s["sxy"] + s["sxx"],
                        s["sxy"] - s["sxx"])  # fmt: skip
        (un, us), (ln, ls) = s["groups"]["U"], s["groups"]["L"]
        index = (us / un - ls / ln) / top if un and ln else None
        key = corrected.get(version_id, version.answer)
        item = {
            "version_id": version_id, "question_id": question.id, "bank_id": question.bank_id,
            "number": version.number, "section_id": section_id, "section": section.title,
            "section_position": section.position, "qtype": section.qtype, "stem": to_text(version.stem)[:200],
            "category": category.name if category else None, "category_id": category.id if category else None,
            "n": count, "max_points": top, "mean": mean_x,
            "facility": mean_x / top, "variance": variance, "point_biserial": r, "discrimination_index": index,
            "upper_n": un, "lower_n": ln, "key_corrected": version_id in corrected, "options": None, "flags": [],
        }  # fmt: skip
        if section.qtype in CHOICE_TYPES:
            right = _key_options(section.qtype, key)
            choices = [True, False] if section.qtype == "truefalse" else list(range(len(version.options or [])))
            item["options"] = [
                {"option": o, "key": o in right, "all": s["chosen"][o][0], "upper": s["chosen"][o][1],
                 "lower": s["chosen"][o][2]}
                for o in choices
            ]  # fmt: skip
            item["omitted"] = s["omitted"]
        item["flags"] = flags(item)
        items.append(item)
    items.sort(key=lambda i: (i["section_position"], i["question_id"], i["number"]))
    variance_y = max(float(mean_yy or 0) - float(mean_y or 0) ** 2, 0.0) if n else 0.0
    per_paper = answers / n if n else 0
    alpha = None
    if n > 1 and per_paper > 1 and variance_y > 0:
        alpha = per_paper / (per_paper - 1) * (1 - weighted_variance / variance_y)
    dichotomous = all(i["qtype"] in ("single", "truefalse") or i["qtype"] == "multiple" and exam.mc_policy
                      == "all_or_nothing" for i in items)  # fmt: skip
    return {
        "n": n,
        "items": items,
        "sections": _by(items, n, "section_id", "section", "section_position"),
        "categories": _by(items, n, "category_id", "category", "category"),
        "reliability": {"alpha": alpha, "kr20": dichotomous, "items_per_paper": per_paper, "variance": variance_y},
        "flagged": sum(1 for i in items if i["flags"]),
    }


def flags(item: dict) -> list[str]:
    """The reasons an item looks bad (FLAG_CODES); none with fewer than MIN_RESPONSES answers."""
    if item["n"] < MIN_RESPONSES:
        return []
    found = []
    r = item["point_biserial"]
    if r is not None and r < 0:
        found.append("negative_discrimination")
    elif r is not None and r < LOW_DISCRIMINATION:
        found.append("low_discrimination")
    if item["facility"] > EASY:
        found.append("too_easy")
    elif item["facility"] < HARD:
        found.append("too_hard")
    options = item.get("options") or []
    keyed = [o["upper"] for o in options if o["key"]]
    if keyed and any(not o["key"] and o["upper"] > min(keyed) for o in options):
        found.append("distractor")
    return found


def _by(items: list[dict], n: int, key: str, name: str, order: str) -> list[dict]:
    """Mean points per candidate and the share of the points earned, by section or by category."""
    groups: dict = {}
    for i in items:
        g = groups.setdefault(i[key], {"name": i[name], "order": i[order], "earned": 0.0, "possible": 0.0,
                                       "questions": 0})  # fmt: skip
        g["earned"] += i["mean"] * i["n"]
        g["possible"] += i["max_points"] * i["n"]
        g["questions"] += 1
    rows = []
    for g in groups.values():
        rows.append({"name": g["name"], "questions": g["questions"], "mean": g["earned"] / n if n else None,
                     "possible": g["possible"] / n if n else None,
                     "rate": g["earned"] / g["possible"] if g["possible"] else None, "order": g["order"]})  # fmt: skip
    rows.sort(key=lambda r: (r["order"] is None, r["order"] if r["order"] is not None else 0))
    return rows


def refresh(exam: Exam, now: datetime, progress: Callable[[int, int], None] | None = None) -> ExamAnalysis:
    """Compute the analysis and keep it (replacing the kept one); `progress` as for `compute`."""
    kept = locked(ExamAnalysis, exam.id, fingerprint="", computed_at=now, attempts=0, data={})
    stamp = fingerprint(exam)
    data = compute(exam, progress)
    kept.fingerprint, kept.computed_at, kept.attempts, kept.data = stamp, now, data["n"], data
    db.session.flush()
    return kept


def current(exam: Exam, now: datetime) -> tuple[ExamAnalysis | None, bool]:
    """The kept analysis and whether it is out of date. An out-of-date one is recomputed here when the exam has at
    most REPORTS_LIVE_ANALYSIS_LIMIT ranked attempts; a larger exam's is recomputed on request (a button that
    starts the job "reports.item-analysis", or `flask reports analyse`), since one pass over its answers takes
    seconds."""
    kept = db.session.get(ExamAnalysis, exam.id)
    stamp = fingerprint(exam)
    if kept is not None and kept.fingerprint == stamp:
        return kept, False
    ranked = int(stamp.split("|", 1)[0])
    if ranked <= current_app.config["REPORTS_LIVE_ANALYSIS_LIMIT"]:
        return refresh(exam, now), False
    return kept, True
