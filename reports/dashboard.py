"""The home page: a person's own exams, and for those who run the district what needs them today (exams open and
closing, questions to review, answers to mark, reading notes to approve, the year's study completion by unit),
each number with the list behind it.

Reports sit above exam and archive, so the figures are gathered here and handed to the accounts home page through
accounts.home (accounts imports neither). Every figure is limited to the viewer's unit scope (core.policy) and is
computed only when the viewer may open the list behind it; each is one indexed query (bench/bench_dashboard.py).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import lazy_pgettext
from sqlalchemy import case, false, func, select

from accounts import home
from accounts.models import LEADING_RANKS, Cadre, Unit, User
from archive import queries as archive_queries
from archive.models import ReadingNote
from core.extensions import db
from core.models import local_today
from core.policy import can, conflict_free, has_district_scope, scope_filter
from exam.eligibility import exams_for
from exam.models import Answer, Attempt, AttemptStatus, Exam, ExamStatus, Phase
from exam.visibility import result_visible
from question_bank import queries as bank_queries
from question_bank.models import Question

#: An open exam counts as closing soon when it closes within this time.
CLOSING_SOON = timedelta(days=7)


# ---------------------------------------------------------------- a person's own exams


class MyStatus:
    """Where a person stands with an exam: one word, true for them, whatever the exam's age or release policy."""

    NOT_OPEN = "not_open"
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    AWAITING_GRADING = "awaiting_grading"
    GRADED = "graded"
    RELEASED = "released"
    MISSED = "missed"


MY_STATUS_LABELS = {
    MyStatus.NOT_OPEN: lazy_pgettext("my exam", "Not yet open"),
    MyStatus.OPEN: lazy_pgettext("my exam", "Open now"),
    MyStatus.IN_PROGRESS: lazy_pgettext("my exam", "In progress"),
    MyStatus.AWAITING_GRADING: lazy_pgettext("my exam", "Finished, being graded"),
    MyStatus.GRADED: lazy_pgettext("my exam", "Graded, results not yet released"),
    MyStatus.RELEASED: lazy_pgettext("my exam", "Results released"),
    MyStatus.MISSED: lazy_pgettext("my exam", "Closed, not taken"),
}


def my_status(exam: Exam, attempts: list[Attempt], now: datetime) -> str:
    """The person's status in the exam, from their attempts: a result counts as released only when the exam's
    release policy shows it to them now and it is final (every written answer marked)."""
    if any(a.status == AttemptStatus.IN_PROGRESS for a in attempts):
        return MyStatus.IN_PROGRESS
    ended = [a for a in attempts if a.status != AttemptStatus.IN_PROGRESS]
    if ended:
        if not all(a.fully_graded for a in ended):
            return MyStatus.AWAITING_GRADING
        return MyStatus.RELEASED if all(result_visible(a, now) for a in ended) else MyStatus.GRADED
    phase = exam.phase(now)
    if phase == Phase.PUBLISHED:
        return MyStatus.NOT_OPEN
    return MyStatus.OPEN if phase == Phase.OPEN else MyStatus.MISSED


@dataclass
class MyExam:
    exam: Exam
    used: int
    open_id: int | None
    status: str

    @property
    def label(self) -> str:
        return str(MY_STATUS_LABELS[self.status])


def my_exams(user: User, now: datetime) -> list[MyExam]:
    """The exams the person may sit or sat (exam.eligibility.exams_for), each with the person's own status."""
    rows = exams_for(user)
    attempts: dict[int, list[Attempt]] = {}
    if rows:
        for a in db.session.scalars(select(Attempt).where(Attempt.user_id == user.id)):
            attempts.setdefault(a.exam_id, []).append(a)
    return [
        MyExam(exam, used, open_id, my_status(exam, attempts.get(exam.id, []), now)) for exam, used, open_id in rows
    ]


# ---------------------------------------------------------------- what needs the admins today


@dataclass
class OpenExam:
    exam: Exam
    in_progress: int
    submitted: int
    closing_soon: bool


def _in_scope_people(stmt, viewer, user_id_column):
    """Limit a statement to the people (by a user id column) of the viewer's unit scope; the district sees all."""
    if has_district_scope(viewer):
        return stmt
    return (
        stmt.join(Cadre, Cadre.user_id == user_id_column)
        .join(Unit, Unit.id == Cadre.unit_id)
        .where(scope_filter(viewer, Unit.path))
    )


def open_exams(viewer, now: datetime) -> list[OpenExam]:
    """Published exams open now, soonest to close first, with the viewer's candidates (their scope) in progress and
    those who have submitted (candidates, not attempts: with several attempts allowed a person counts once)."""
    exams = db.session.scalars(
        select(Exam)
        .where(Exam.status == ExamStatus.PUBLISHED, Exam.opens_at <= now, Exam.closes_at > now)
        .order_by(Exam.closes_at, Exam.code)
    ).all()
    if not exams:
        return []
    running = case((Attempt.status == AttemptStatus.IN_PROGRESS, Attempt.user_id))
    ended = case((Attempt.status != AttemptStatus.IN_PROGRESS, Attempt.user_id))
    stmt = select(Attempt.exam_id, func.count(running), func.count(func.distinct(ended))).where(
        Attempt.exam_id.in_([e.id for e in exams])
    )
    stmt = _in_scope_people(stmt, viewer, Attempt.user_id).group_by(Attempt.exam_id)
    counts = {exam_id: (running_n, ended_n) for exam_id, running_n, ended_n in db.session.execute(stmt)}
    return [OpenExam(e, *counts.get(e.id, (0, 0)), closing_soon=e.closes_at <= now + CLOSING_SOON) for e in exams]


def questions_to_review(viewer) -> int:
    """Questions waiting in the viewer's review queue (the queue's own query, conflicts of interest left out)."""
    stmt = bank_queries.review_queue(viewer, bank_queries.banks_query(viewer))
    return bank_queries.count_of(stmt.where(conflict_free(viewer, Question.id)))


@dataclass
class ToMark:
    exam: Exam
    waiting: int


def answers_to_mark(viewer) -> list[ToMark]:
    """Exams with written answers waiting for a grader, and how many the viewer may mark (never their own sheets,
    as exam.grading's queue). Counted in one grouped query from the ended attempts not yet fully graded (a
    partial index holds only them) and their answers without points (another): in an ended attempt every answer
    but a written one waiting for a grader has its points (finalizing scores the rest, blanks included), so the
    queue's join through the papers' items is not needed to count it. The tests hold the two to the same count."""
    stmt = (
        select(Exam, func.count())
        .join(Attempt, Attempt.exam_id == Exam.id)
        .join(Answer, Answer.attempt_id == Attempt.id)
        .where(Attempt.fully_graded == false(), Attempt.status != AttemptStatus.IN_PROGRESS)
        .where(Attempt.user_id != viewer.id, Answer.points.is_(None))
        .group_by(Exam.id)
        .order_by(Exam.closes_at, Exam.id)
    )
    return [ToMark(exam, waiting) for exam, waiting in db.session.execute(stmt)]


def notes_to_review(viewer, year: int) -> int:
    """Reading notes of the year waiting for the viewer's review: the review queue's notes less the viewer's own
    and, for a unit admin, leading cadres' (policy: archive.manage of a cadre managed by the district)."""
    stmt = archive_queries.pending_notes(viewer, year).where(ReadingNote.user_id != viewer.id)
    if not has_district_scope(viewer):
        stmt = stmt.where(Cadre.rank.not_in(LEADING_RANKS))
    return bank_queries.count_of(stmt)


@dataclass
class UnitCompletion:
    """A row of the completion table: a unit with its sub-units (or, `own_only`, a scope's top unit's own cadres)."""

    unit: Unit | None
    #: The path of the scope root the row lies under (rows are listed root by root).
    root: str
    own_only: bool
    cadres: int = 0
    met: int = 0
    reading: int = 0

    @property
    def hours_share(self) -> float | None:
        return self.met / self.cadres if self.cadres else None

    @property
    def reading_share(self) -> float | None:
        return self.reading / self.cadres if self.cadres else None


@dataclass
class Completion:
    year: int
    required: float
    books: int
    units: list[UnitCompletion] = field(default_factory=list)
    cadres: int = 0
    met: int = 0
    reading: int = 0


def completion(viewer, year: int) -> Completion:
    """The year's study-hour and reading-list completion by unit: the archive's unit overview (the same rule: hours
    ≥ the year's required hours; every book's note passed), rolled up to the units just below each of the viewer's
    scope roots (the district's top unit, or each unit a unit admin administers), each root's own cadres apart."""
    overview = archive_queries.unit_overview(viewer, year)
    if has_district_scope(viewer):
        roots = db.session.scalars(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.sort_order, Unit.id))
        root_paths = [u.path for u in roots]
    else:
        root_paths = sorted(viewer.unit_scope_paths)
        root_paths = [p for p in root_paths if not any(p != q and p.startswith(q) for q in root_paths)]
    rows: dict[int, UnitCompletion] = {}
    for line in overview["units"]:
        path = line["unit"].path
        root = next((p for p in root_paths if path.startswith(p)), None)
        if root is None:
            continue
        below = path[len(root) :].strip("/").split("/")[0]
        key = int(below) if below else int(root.strip("/").split("/")[-1])
        row = rows.setdefault(key, UnitCompletion(None, root, own_only=not below))
        row.cadres += line["cadres"]
        row.met += line["met"]
        row.reading += line["reading"]
    for unit in db.session.scalars(select(Unit).where(Unit.id.in_(rows))):  # the top units, in one query
        rows[unit.id].unit = unit
    units = sorted(rows.values(), key=lambda r: (r.root, not r.own_only, r.unit.sort_order, r.unit.id))
    totals = overview["totals"]
    return Completion(
        year, overview["required"], overview["books"], units, **{k: totals[k] for k in ("cadres", "met", "reading")}
    )


@dataclass
class Board:
    """The admin part of the home page; a field is None when the viewer may not see the list behind it."""

    year: int
    open_exams: list[OpenExam] | None = None
    closing_soon: int = 0
    questions_to_review: int | None = None
    answers_to_mark: list[ToMark] | None = None
    notes_to_review: int | None = None
    completion: Completion | None = None

    @property
    def empty(self) -> bool:
        return all(
            value is None
            for value in (self.open_exams, self.questions_to_review, self.answers_to_mark, self.notes_to_review)
        )

    @property
    def answers_waiting(self) -> int:
        return sum(row.waiting for row in self.answers_to_mark or ())


def board(viewer, now: datetime) -> Board:
    """What needs the viewer today, as far as their roles reach (each card only with the permission to its list)."""
    out = Board(year=local_today(now).year)
    if can(viewer, "exam.manage") or can(viewer, "reports.view"):
        out.open_exams = open_exams(viewer, now)
        out.closing_soon = sum(1 for row in out.open_exams if row.closing_soon)
    if can(viewer, "question.review"):
        out.questions_to_review = questions_to_review(viewer)
    if can(viewer, "exam.grade"):
        out.answers_to_mark = answers_to_mark(viewer)
    if can(viewer, "archive.view"):
        out.notes_to_review = notes_to_review(viewer, out.year)
        out.completion = completion(viewer, out.year)
    return out


def home_values(user, now: datetime) -> dict:
    """What the home page shows the user (accounts.home's provider)."""
    return {
        "my_exams": my_exams(user, now) if user.cadre is not None else [],
        "board": board(user, now) if can(user, "admin.access") else None,
    }


home.register(home_values)
