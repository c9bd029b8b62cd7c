"""The check report of an exam's results (复核): what a reviewer looks at before marking the results checked.

Each check is one item with a stable code, its rows (JSON-safe: the attempt, its blind sheet number, the person
and the values that made it a row) and `ok` when there is nothing to look at. The rules:

- sums: every fully graded attempt's total equals the sum of its answers' points, recomputed from the Answer rows
  (a difference of more than half a hundredth of a point is a row);
- unmarked: ended attempts with answers still waiting for points, and attempts still in progress;
- zero: counted attempts (fully graded, not voided) scoring 0;
- near_pass: counted attempts below the pass mark by at most NEAR_PASS_POINTS points or NEAR_PASS_SHARE of the
  exam's total points, whichever is larger;
- outliers: with at least OUTLIER_MIN counted attempts, those further than OUTLIER_SD population standard deviations
  from the mean;
- incidents: what the sitting recorded (sitting registers its source here: exam imports no package above it);
- voided: attempts whose score a decision on an incident voided (exam.adjustments);
- absent: the exam's candidates who never started it (the frozen roster of exam.roster once it is frozen).

Reading only: nothing here writes. `CheckReport.to_json()` is the snapshot the lifecycle stores with its step.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select

from accounts.models import User
from core.extensions import db
from exam.grading import blind_number
from exam.models import Answer, Attempt, AttemptStatus, Exam

#: Near the pass mark: below it by at most this many points, or this share of the total points if larger.
NEAR_PASS_POINTS = 2.0
NEAR_PASS_SHARE = 0.05
#: Outliers: further than this many (population) standard deviations from the mean, among at least OUTLIER_MIN.
OUTLIER_SD = 3.0
OUTLIER_MIN = 10
#: A total and its answers' sum differ when they differ by more than this (both are kept to the hundredth).
SUM_TOLERANCE = 0.005

CODES = ("sums", "unmarked", "zero", "near_pass", "outliers", "incidents", "voided", "absent")

TITLES = {
    "sums": _l("Totals equal the sum of the answers' points"),
    "unmarked": _l("Answers still to mark"),
    "zero": _l("Zero scores"),
    "near_pass": _l("Scores just under the pass mark"),
    "outliers": _l("Scores far from the others"),
    "incidents": _l("Incidents at the sitting"),
    "voided": _l("Voided scores"),
    "absent": _l("Absent candidates"),
}

#: Sources of incidents: `source(exam)` returns JSON-safe rows with at least "user_id" (and "attempt_id" where
#: one is concerned). The sitting registers one at import.
_incident_sources: list[Callable[[Exam], list[dict]]] = []


def register_incident_source(source: Callable[[Exam], list[dict]]) -> None:
    if source not in _incident_sources:
        _incident_sources.append(source)


@dataclass
class CheckItem:
    code: str
    title: object  # a lazy string
    rows: list[dict] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def ok(self) -> bool:
        """Nothing to look at."""
        return not self.rows

    def to_json(self) -> dict:
        return {"code": self.code, "title": str(self.title), "ok": self.ok, "count": self.count, "rows": self.rows}


@dataclass
class CheckReport:
    exam_id: int
    at: datetime
    items: list[CheckItem]
    #: The rules' parameters as applied (the near-pass margin in points, the outlier limits).
    rules: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(item.ok for item in self.items)

    def item(self, code: str) -> CheckItem:
        return next(item for item in self.items if item.code == code)

    def to_json(self) -> dict:
        return {"exam_id": self.exam_id, "at": self.at.isoformat(), "ok": self.ok, "rules": self.rules,
                "items": [item.to_json() for item in self.items]}  # fmt: skip


def near_pass_margin(exam: Exam) -> float:
    return max(NEAR_PASS_POINTS, NEAR_PASS_SHARE * float(exam.total_points))


def check_report(exam: Exam, now: datetime) -> CheckReport:
    """Every check on the exam's results as they are at `now` (see the module's rules)."""
    attempts = list(
        db.session.execute(
            select(Attempt, User.name, User.username)
            .join(User, User.id == Attempt.user_id)
            .where(Attempt.exam_id == exam.id)
            .order_by(Attempt.id)
        )
    )
    people = {a.id: (a, name, username) for a, name, username in attempts}

    def row(attempt: Attempt, **values) -> dict:
        _a, name, username = people[attempt.id]
        score = None if attempt.score is None else float(attempt.score)
        return {"attempt_id": attempt.id, "sheet": blind_number(attempt), "user_id": attempt.user_id, "name": name,
                "username": username, "score": score, **values}  # fmt: skip

    counted = [a for a, _n, _u in attempts if a.fully_graded and a.score is not None and a.voided_at is None]
    margin = near_pass_margin(exam)
    pass_mark = float(exam.pass_mark)
    items = [
        CheckItem("sums", TITLES["sums"], _sums(exam, people, row)),
        CheckItem("unmarked", TITLES["unmarked"], _unmarked(exam, people, row)),
        CheckItem("zero", TITLES["zero"], [row(a) for a in counted if float(a.score) == 0]),
        CheckItem(
            "near_pass",
            TITLES["near_pass"],
            [
                row(a, below=round(pass_mark - float(a.score), 2))
                for a in counted
                if pass_mark - margin <= float(a.score) < pass_mark
            ],
        ),
        CheckItem("outliers", TITLES["outliers"], _outliers(counted, row)),
        CheckItem("incidents", TITLES["incidents"], [r for source in _incident_sources for r in source(exam)]),
        CheckItem(
            "voided",
            TITLES["voided"],
            [
                row(a, voided_at=a.voided_at.isoformat(), reason=a.void_reason or "")
                for a, _n, _u in attempts
                if a.voided_at is not None
            ],
        ),
        CheckItem("absent", TITLES["absent"], _absent(exam, now)),
    ]
    rules = {"near_pass_margin": margin, "pass_mark": pass_mark, "outlier_sd": OUTLIER_SD, "outlier_min": OUTLIER_MIN}
    return CheckReport(exam.id, now, items, rules)


def _sums(exam: Exam, people: dict, row) -> list[dict]:
    sums = select(Answer.attempt_id, func.coalesce(func.sum(Answer.points), 0).label("points")).group_by(
        Answer.attempt_id
    )
    recomputed = dict(
        db.session.execute(
            sums.join(Attempt, Attempt.id == Answer.attempt_id).where(
                Attempt.exam_id == exam.id, Attempt.fully_graded.is_(True)
            )
        ).all()
    )
    out = []
    for attempt, _name, _username in people.values():
        if not attempt.fully_graded:
            continue
        total = float(recomputed.get(attempt.id) or 0)
        if attempt.score is None or abs(float(attempt.score) - total) > SUM_TOLERANCE:
            out.append(row(attempt, answers_sum=round(total, 2)))
    return out


def _unmarked(exam: Exam, people: dict, row) -> list[dict]:
    waiting = dict(
        db.session.execute(
            select(Answer.attempt_id, func.count())
            .join(Attempt, and_(Attempt.id == Answer.attempt_id, Attempt.exam_id == exam.id))
            .where(Answer.points.is_(None), Attempt.status != AttemptStatus.IN_PROGRESS)
            .group_by(Answer.attempt_id)
        ).all()
    )
    out = []
    for attempt, _name, _username in people.values():
        if attempt.status == AttemptStatus.IN_PROGRESS:
            out.append(row(attempt, unmarked=None, in_progress=True))
        elif waiting.get(attempt.id) or not attempt.fully_graded:
            out.append(row(attempt, unmarked=waiting.get(attempt.id, 0), in_progress=False))
    return out


def _outliers(counted: list[Attempt], row) -> list[dict]:
    if len(counted) < OUTLIER_MIN:
        return []
    scores = [float(a.score) for a in counted]
    mean = sum(scores) / len(scores)
    sd = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
    if sd == 0:
        return []
    return [
        row(a, z=round((float(a.score) - mean) / sd, 2), mean=round(mean, 2), sd=round(sd, 2))
        for a in counted
        if abs(float(a.score) - mean) > OUTLIER_SD * sd
    ]


def _absent(exam: Exam, now: datetime) -> list[dict]:
    from exam import roster  # the roster builds on eligibility and attempts: imported on use

    return [
        {"user_id": e.user_id, "name": e.name, "username": e.username, "unit_id": e.unit_id, "unit": e.unit_name}
        for e in roster.absentees(exam, now)
    ]
