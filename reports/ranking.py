"""Rankings per exam, in SQL: each candidate's counted attempt, ranked by score (higher first), then time used
(shorter first), then submission time (earlier first), with standard competition ranking (1, 2, 2, 4): a rank is
1 + the number of candidates strictly better by that ordering. Times count in whole seconds.

For an exam that has closed, the people and their units are the exam's roster frozen at the close (exam.roster):
participation, the absent list and the figures per unit stay as they were at the close whatever moves, retires or
leaves since (a unit admin's scope still follows today's unit tree). An open exam reads live eligibility.

Only fully graded attempts are ranked; with several attempts allowed, a candidate's best attempt (by the same
ordering) counts. Every query is limited to the viewer's scope (`core.policy.scope_filter`), and the filters
(a unit with its sub-units, a rank, an age band, pass or fail) apply on top.

The ranking is kept (reports.models.RankEntry): computed with window functions in one INSERT … SELECT when the
results have changed, then read by index, so a page over 100,000 candidates costs one indexed read. For a large
exam the recomputing (seconds) is a job, and the pages show the last kept ranking meanwhile (kept_for_pages).
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import Select, and_, case, delete, func, literal, or_, select, true
from sqlalchemy import insert as insert_into

from accounts.models import Cadre, Unit, User
from accounts.queries import AGE_BANDS, age_condition
from core.extensions import db
from core.models import local_today, now_utc
from core.policy import has_district_scope, scope_filter
from exam import roster
from exam.eligibility import eligible_people
from exam.models import Attempt, AttemptStatus, Exam, ExamCandidate, RosterEntry, RosterFreeze
from jobs.models import JobState
from reports.cache import cached
from reports.models import RankEntry, RankSet, locked
from reports.sql import epoch_seconds
from sitting.models import Room, Seat
from sitting.models import Session as SittingSession

OUTCOMES = ("passed", "failed")


@dataclass(frozen=True)
class Filters:
    """What the ranking pages filter by; every field optional."""

    unit: Unit | None = None
    #: Only the unit itself, without its sub-units (the unit tables link here: their rows are units' own cadres).
    unit_only: bool = False
    rank: str = ""
    age_band: str = ""
    outcome: str = ""  # "passed" or "failed"

    def query_args(self) -> dict:
        args = {"unit": self.unit.id if self.unit else None, "only": 1 if self.unit_only else None,
                "rank": self.rank or None, "age": self.age_band or None, "outcome": self.outcome or None}  # fmt: skip
        return {k: v for k, v in args.items() if v is not None}


NO_FILTERS = Filters()


def age_day(exam: Exam) -> date:
    """The day ages are counted on for an exam: its eligibility's day, or the (Beijing) day it opens."""
    return exam.age_on or local_today(exam.opens_at)


def frozen(exam: Exam, now: datetime | None = None) -> bool:
    """Are the exam's people read from its frozen roster (closed past the grace; frozen here, lazily, if the
    workers' sweep has not come yet)?"""
    return roster.ensure(exam, now or now_utc()) is not None


def unit_of_person(exam: Exam, stmt, user_id_column, is_frozen: bool):
    """`stmt` outer-joined to the person's Cadre and to their Unit: the unit of the frozen roster for a closed exam
    (`is_frozen`), the cadre's unit today otherwise."""
    stmt = stmt.outerjoin(Cadre, Cadre.user_id == user_id_column)
    if not is_frozen:
        return stmt.outerjoin(Unit, Unit.id == Cadre.unit_id)
    on_roster = and_(RosterEntry.exam_id == exam.id, RosterEntry.user_id == user_id_column)
    return stmt.outerjoin(RosterEntry, on_roster).outerjoin(Unit, Unit.id == RosterEntry.unit_id)


def person_conditions(exam: Exam, viewer, filters: Filters) -> list:
    """Conditions over Cadre and Unit (outer-joined to the person): in the viewer's scope (no viewer: the whole
    exam, for a published ranking list) and the filters."""
    return unit_conditions(viewer, filters) + profile_conditions(exam, filters)


def unit_conditions(viewer, filters: Filters) -> list:
    """The conditions of person_conditions over Unit: the viewer's scope and the unit filter."""
    conditions = [] if viewer is None or has_district_scope(viewer) else [scope_filter(viewer, Unit.path)]
    if filters.unit is not None:
        conditions.append(
            Unit.id == filters.unit.id
            if filters.unit_only
            else Unit.path.startswith(filters.unit.path, autoescape=True)
        )
    return conditions


def profile_conditions(exam: Exam, filters: Filters) -> list:
    """The conditions of person_conditions over Cadre: the rank and the age band."""
    conditions = []
    if filters.rank:
        conditions.append(Cadre.rank == filters.rank)
    if filters.age_band in AGE_BANDS:
        conditions.extend(age_condition(*AGE_BANDS[filters.age_band], age_day(exam)))
    return conditions


def in_units(unit_id_column, viewer, filters: Filters) -> list:
    """unit_conditions as `unit_id_column IN (the units selected)`: a few hundred units, so that the planner reads
    the frozen roster by its (exam, unit) index rather than every row of the exam (SQLite would)."""
    conditions = unit_conditions(viewer, filters)
    return [unit_id_column.in_(select(Unit.id).where(*conditions))] if conditions else []


def narrowed(viewer, filters: Filters = NO_FILTERS) -> bool:
    """Does the viewer's scope or the filters select part of the exam's candidates? Then a rank among them (`rank`
    of ranking_query) may be shown, labelled, beside the exam's rank (`exam_rank`): the one rank a person has,
    published whoever looks."""
    return bool(filters.query_args()) or not (viewer is None or has_district_scope(viewer))


def needs_unit(viewer, filters: Filters) -> bool:
    """Do the conditions for this viewer and these filters read the unit (its path, for a scope or a subtree)?"""
    return filters.unit is not None or viewer is not None and not has_district_scope(viewer)


def counted_attempts(exam: Exam, ranked: bool = True):
    """Subquery, computed from the attempts: one row per ranked candidate (attempt_id, user_id, paper_id, score,
    passed, seconds used, submitted (epoch seconds), started_at, ended_at and, when `ranked`, the rank in the whole
    exam and how many are ranked). Pages read the kept ranking instead (kept_ranks)."""
    seconds = (epoch_seconds(Attempt.ended_at) - epoch_seconds(Attempt.started_at)).label("seconds")
    submitted = epoch_seconds(Attempt.ended_at).label("submitted")
    columns = [Attempt.id.label("attempt_id"), Attempt.user_id, Attempt.paper_id, Attempt.score, Attempt.passed,
               seconds, submitted, Attempt.started_at, Attempt.ended_at]  # fmt: skip
    # A score voided by a decision on an incident (the sitting) is ranked apart (voided_query), never here.
    graded = and_(Attempt.exam_id == exam.id, Attempt.fully_graded.is_(True), Attempt.voided_at.is_(None))
    if exam.attempts_allowed > 1:  # the best attempt of each candidate
        nth = func.row_number().over(
            partition_by=Attempt.user_id,
            order_by=(Attempt.score.desc(), seconds.element.asc(), submitted.element.asc(), Attempt.id),
        )
        inner = select(*columns, nth.label("nth")).where(graded).subquery()
        best = select(*(inner.c[c.name] for c in columns)).where(inner.c.nth == 1).subquery()
    else:
        best = select(*columns).where(graded).subquery()
    if not ranked:
        return best
    order = (best.c.score.desc(), best.c.seconds.asc(), best.c.submitted.asc())
    return select(
        best,
        func.rank().over(order_by=order).label("exam_rank"),
        func.count().over().label("ranked"),
    ).subquery("counted")


def _text(values) -> str:
    return "|".join("" if v is None else v.isoformat() if isinstance(v, datetime) else str(v) for v in values)


def stamps(exam: Exam) -> dict:
    """What the figures of an exam are computed from, cheaply read in one query: `results` (the graded attempts:
    how many, the sums of their scores and candidates' ids, the last end and regrade), `attempts` (all attempts:
    how many, ended, graded, the last start and end) and `people` (the newest profile change, the unit tree, the
    exam's rules and its candidates by hand). Read once per GET request (a page reads them for several figures,
    and nothing a GET does changes them)."""
    memo = g.setdefault("report_stamps", {}) if has_request_context() and request.method == "GET" else {}
    if exam.id not in memo:
        frozen(exam)  # a roster due to be frozen is frozen first: the stamps say so
        memo[exam.id] = _stamps(exam)
    return memo[exam.id]


def _stamps(exam: Exam) -> dict:
    graded = Attempt.fully_graded.is_(True)

    def when(condition, value):
        return func.sum(case((condition, value), else_=0))

    a = db.session.execute(
        select(
            func.count(), when(Attempt.status != AttemptStatus.IN_PROGRESS, 1), when(graded, 1),
            when(graded, Attempt.score), when(graded, Attempt.user_id), func.max(Attempt.started_at),
            func.max(case((graded, Attempt.ended_at))), func.max(Attempt.ended_at), func.max(Attempt.regraded_at),
            when(Attempt.voided_at.is_not(None), 1), when(Attempt.voided_at.is_not(None), Attempt.id),
        ).where(Attempt.exam_id == exam.id)
    ).one()  # fmt: skip
    # People: the newest change to a cadre profile (a new cadre, a move, a deactivation: all set updated_at; the
    # column is indexed), and the exam's candidates by hand with whether their accounts are active.
    by_hand = select(ExamCandidate.user_id, ExamCandidate.included).where(ExamCandidate.exam_id == exam.id)
    p = db.session.execute(
        select(
            select(func.max(Cadre.updated_at)).scalar_subquery(),
            select(func.count()).select_from(by_hand.subquery()).scalar_subquery(),
            select(func.sum(case((ExamCandidate.included.is_(True), 1), (ExamCandidate.included.is_(False), 2),
                                 else_=3) * ExamCandidate.user_id * case((User.active.is_(True), 1), else_=-1)))
            .join(User, User.id == ExamCandidate.user_id)
            .where(ExamCandidate.exam_id == exam.id).scalar_subquery(),
        )
    ).one()  # fmt: skip
    # The unit tree (a few hundred rows): every unit's path, so that any move changes the stamp.
    tree = hashlib.sha256(repr(db.session.execute(select(Unit.id, Unit.path).order_by(Unit.id)).all()).encode())
    n, ended, n_graded, total, people, started, graded_end, last_end, regraded, n_voided, voided_ids = a
    kept = db.session.get(RosterFreeze, exam.id)
    return {
        # A frozen roster's people change with nothing but the unit tree (the scopes) and, for the rank and age
        # filters, the profiles: see people_stamp.
        "frozen": _text([kept.frozen_at, kept.size, tree.hexdigest()]) if kept is not None else None,
        "cadres": _text([p[0]]),
        "results": _text([n_graded, f"{float(total or 0):.2f}", people, graded_end, regraded, n_voided, voided_ids]),
        "attempts": _text([n, ended, n_graded, started, last_end, n_voided, voided_ids]),
        "people": _text(
            [*p, tree.hexdigest(), json.dumps(exam.eligibility or {}, sort_keys=True), exam.attempts_allowed]
        ),
    }


def people_stamp(exam: Exam, filters: Filters) -> str:
    """What the people of a figure depend on: for a frozen roster, the freeze and the unit tree (and the profiles
    when the filters read them), so that a profile changed after the close costs no recomputation; otherwise every
    profile, the rules and the candidates by hand (stamps)."""
    st = stamps(exam)
    if not frozen(exam) or st["frozen"] is None:
        return st["people"]
    return st["frozen"] + ("|" + st["cadres"] if filters.rank or filters.age_band else "")


def results_fingerprint(exam: Exam) -> str:
    """What the kept ranking (and the item analysis) depend on: the graded attempts (see stamps)."""
    return stamps(exam)["results"]


def _viewer_key(viewer) -> tuple:
    if viewer is None or has_district_scope(viewer):
        return ("district",)
    return tuple(sorted(viewer.unit_scope_paths))


def _filters_key(exam: Exam, filters: Filters) -> tuple:
    return (tuple(sorted(filters.query_args().items())), age_day(exam).isoformat())


def kept_for_pages(exam: Exam, now: datetime) -> RankSet:
    """The kept ranking the pages read. When the results changed since it was computed, it is recomputed here (as
    `kept_ranks`) for an exam with at most REPORTS_LIVE_RANKING_LIMIT ranked candidates, or when none was ever
    kept; a larger exam's pages show the last kept ranking while a job ("reports.ranking", one per exam, started
    here) recomputes it (`update_job` tells the pages). A job that no worker has taken after REPORTS_RANKING_WAIT
    seconds is not waited for: the page recomputes, as before the job engine.

    The job starts here, from the first page that finds the results changed (after each finalized attempt: the
    deadline burst costs one recomputation), or at once when the results are released or a key corrected
    (reports.jobs listens to those events)."""
    stamp = results_fingerprint(exam)
    kept = db.session.get(RankSet, exam.id)
    if kept is not None and kept.fingerprint == stamp:
        return kept
    limit = current_app.config["REPORTS_LIVE_RANKING_LIMIT"]
    if kept is None or kept.computed_at is None or int(stamp.split("|", 1)[0]) <= limit:
        return kept_ranks(exam, now)
    from reports import jobs  # the job kinds import this module

    job = jobs.active(jobs.RANKING, exam)
    if job is None:
        viewer = current_user if has_request_context() and current_user.is_authenticated else None
        job, _started = jobs.start(jobs.RANKING, exam, user=viewer)
    elif job.state == JobState.QUEUED and now - job.created_at > timedelta(
        seconds=current_app.config["REPORTS_RANKING_WAIT"]
    ):
        return kept_ranks(exam, now)  # no worker: the job will find it current
    return kept


def update_job(exam: Exam):
    """The job that recomputes the exam's kept ranking while the pages show the last one, or None."""
    from reports import jobs

    return jobs.active(jobs.RANKING, exam)


def kept_ranks(exam: Exam, now: datetime) -> RankSet:
    """The exam's kept ranking, recomputed first when the results changed since: one DELETE and one INSERT …
    SELECT with window functions, under a lock on the exam's rank set (two requests never compute it at once)."""
    stamp = results_fingerprint(exam)
    kept = db.session.get(RankSet, exam.id)
    if kept is not None and kept.fingerprint == stamp:
        return kept
    kept = locked(RankSet, exam.id, fingerprint="", ranked=0)
    stamp = _stamps(exam)["results"]  # what the results are now that no one else is ranking them
    if kept.fingerprint == stamp:
        return kept
    best = counted_attempts(exam, ranked=False)
    key = (best.c.score, best.c.seconds, best.c.submitted)
    rows = select(
        best.c.attempt_id, literal(exam.id), best.c.user_id,
        func.rank().over(order_by=(best.c.score.desc(), best.c.seconds.asc(), best.c.submitted.asc())),
        func.count().over(partition_by=key), best.c.score, best.c.passed, best.c.seconds, best.c.submitted,
        best.c.ended_at,
    )  # fmt: skip
    db.session.execute(delete(RankEntry).where(RankEntry.exam_id == exam.id))
    db.session.execute(
        insert_into(RankEntry).from_select(["attempt_id", "exam_id", "user_id", "rank", "tied", "score", "passed",
                                            "seconds", "submitted", "ended_at"], rows)
    )  # fmt: skip
    kept.fingerprint, kept.computed_at = stamp, now
    kept.ranked = db.session.scalar(select(func.count()).where(RankEntry.exam_id == exam.id))
    db.session.flush()
    return kept


def _columns():
    return (RankEntry.rank.label("exam_rank"), RankEntry.tied, RankEntry.attempt_id, RankEntry.score,
            RankEntry.passed, RankEntry.seconds, RankEntry.submitted, RankEntry.ended_at, RankEntry.user_id,
            User.name, User.username, Unit.id.label("unit_id"), Unit.name.label("unit_name"),
            Cadre.rank.label("post_rank"))  # fmt: skip


def _outcome(filters: Filters) -> list:
    return [RankEntry.passed.is_(filters.outcome == "passed")] if filters.outcome in OUTCOMES else []


def _conditions(exam: Exam, viewer, filters: Filters) -> list:
    return [RankEntry.exam_id == exam.id, *person_conditions(exam, viewer, filters), *_outcome(filters)]


def _joined(exam: Exam, stmt):
    return unit_of_person(exam, stmt.join(User, User.id == RankEntry.user_id), User.id, frozen(exam))


def ranking_query(exam: Exam, viewer, filters: Filters, now: datetime | None = None, fresh: bool = False) -> Select:
    """The ranking rows the viewer may see and the filters select, in rank order, from the kept ranking: rank in
    the exam (`exam_rank`), how many share it (`tied`), the attempt and the person; plus the rank within this
    selection (`rank`) and how many rows it has (`shown`). The whole exam's (no scope, no filter) reads the kept
    rows by index, without windows. The pages' kept ranking (kept_for_pages), or with `fresh` one recomputed
    here if the results changed (exports)."""
    now = now or now_utc()
    kept = kept_ranks(exam, now) if fresh else kept_for_pages(exam, now)
    conditions = _conditions(exam, viewer, filters)
    if len(conditions) == 1:  # the whole exam: its rank is the selection's
        stmt = _joined(exam, select(*_columns(), RankEntry.rank.label("rank"), literal(kept.ranked).label("shown")))
        return stmt.where(*conditions).order_by(RankEntry.rank, RankEntry.ended_at, RankEntry.attempt_id)
    windows = (func.rank().over(order_by=RankEntry.rank).label("rank"), func.count().over().label("shown"))
    inner = _joined(exam, select(*_columns(), *windows)).where(*conditions).subquery("ranking")
    return select(inner).order_by(inner.c.exam_rank, inner.c.ended_at, inner.c.attempt_id)


def score_table(exam: Exam, viewer, filters: Filters = NO_FILTERS) -> list[tuple]:
    """(unit id, score, how many, how many of them passed) over the ranked candidates the viewer may see and the
    filters select; cached by what it is computed from (reports.cache; callers must not change it)."""
    st = stamps(exam)
    kept = kept_for_pages(exam, now_utc())  # keyed by what the kept rows were computed from, current or not
    people = people_stamp(exam, filters)
    key = ("scores", exam.id, kept.fingerprint, people, _viewer_key(viewer), _filters_key(exam, filters))
    is_frozen = st["frozen"] is not None and frozen(exam)
    return cached(key, lambda: _score_table(exam, viewer, filters, is_frozen))


def _score_table(exam: Exam, viewer, filters: Filters, is_frozen: bool = False) -> list[tuple]:
    passed = func.sum(case((RankEntry.passed.is_(True), 1), else_=0))
    if is_frozen:  # the unit at the close, from the roster
        stmt = select(RankEntry.score, func.count(), passed, RosterEntry.unit_id)
        units, profile = in_units(RosterEntry.unit_id, viewer, filters), profile_conditions(exam, filters)
        same_person = and_(RosterEntry.exam_id == RankEntry.exam_id, RosterEntry.user_id == RankEntry.user_id)
        if units:  # from the roster's units (by its index) to their ranked people: the same rows as outer-joined
            stmt = stmt.select_from(RosterEntry).join(RankEntry, same_person).where(RosterEntry.exam_id == exam.id)
        else:
            stmt = stmt.select_from(RankEntry).outerjoin(RosterEntry, same_person)
        if profile:
            stmt = stmt.join(Cadre, Cadre.user_id == RankEntry.user_id)
        conditions = [RankEntry.exam_id == exam.id, *profile, *units, *_outcome(filters)]
        unit_id = RosterEntry.unit_id
    else:  # the conditions are over Cadre and Unit only
        unit_id = Cadre.unit_id
        stmt = select(RankEntry.score, func.count(), passed, unit_id).outerjoin(
            Cadre, Cadre.user_id == RankEntry.user_id
        )
        if needs_unit(viewer, filters):
            stmt = stmt.outerjoin(Unit, Unit.id == unit_id)
        conditions = _conditions(exam, viewer, filters)
    rows = db.session.execute(stmt.where(*conditions).group_by(unit_id, RankEntry.score))
    return [(unit, float(score), n, int(p)) for score, n, p, unit in rows]


def participation(exam: Exam, viewer, filters: Filters = NO_FILTERS) -> dict:
    """Per unit, among the people who may sit the exam now (who could at the close, with their unit then, once it
    has closed: the frozen roster): how many (`eligible`), how many of them started
    (`took`), submitted, have a fully graded attempt (`ranked`), and never started (`not_started`). One pass:
    the eligible people outer-joined to each candidate's attempts summed up. (Someone taken off the candidates
    after sitting keeps their place in the ranking, but is not counted here.) Cached by what it is computed from
    (reports.cache; callers must not change it)."""
    st = stamps(exam)
    people = people_stamp(exam, filters)
    key = ("participation", exam.id, st["attempts"], people, _viewer_key(viewer), _filters_key(exam, filters))
    is_frozen = st["frozen"] is not None and frozen(exam)
    return cached(key, lambda: _participation(exam, viewer, filters, is_frozen))


def _participation(exam: Exam, viewer, filters: Filters, is_frozen: bool = False) -> dict:
    ended = case((Attempt.status != AttemptStatus.IN_PROGRESS, 1), else_=0)
    graded = case((Attempt.fully_graded.is_(True), 1), else_=0)
    if exam.attempts_allowed == 1:  # one attempt per candidate at most: no need to sum them up
        sat = select(Attempt.user_id, ended.label("ended"), graded.label("graded"))
    else:
        sat = select(Attempt.user_id, func.max(ended).label("ended"), func.max(graded).label("graded"))
        sat = sat.group_by(Attempt.user_id)
    sat = sat.where(Attempt.exam_id == exam.id).subquery()
    if is_frozen:
        return _frozen_participation(exam, viewer, filters, sat)
    query = (
        eligible_people(exam).where(*person_conditions(exam, viewer, filters))
        .outerjoin(sat, sat.c.user_id == User.id)
        .with_only_columns(Unit.id, func.count(), func.count(sat.c.user_id), func.coalesce(func.sum(sat.c.ended), 0),
                           func.coalesce(func.sum(sat.c.graded), 0))
        .order_by(None).group_by(Unit.id)
    )  # fmt: skip
    return {
        unit_id: {"eligible": e, "took": t, "submitted": int(s), "ranked": int(r), "not_started": e - t}
        for unit_id, e, t, s, r in db.session.execute(query)
    }


def _frozen_participation(exam: Exam, viewer, filters: Filters, sat) -> dict:
    """participation over the frozen roster, in two grouped reads that each go through an index in order: the
    people per unit (the roster's (exam, unit) index alone), and the attempts' people per unit (the attempts by
    exam and user, each looked up on the roster by (exam, user)). One outer join of the two reads the attempts in
    the roster's unit order instead, twice as slow on SQLite over 100,000 people."""
    profile, units = profile_conditions(exam, filters), in_units(RosterEntry.unit_id, viewer, filters)

    def narrowed(stmt):
        if profile:
            stmt = stmt.join(Cadre, Cadre.user_id == RosterEntry.user_id)
        return stmt.where(RosterEntry.exam_id == exam.id, *profile, *units).group_by(RosterEntry.unit_id)

    people = narrowed(select(RosterEntry.unit_id, func.count()))
    on_roster = and_(RosterEntry.exam_id == exam.id, RosterEntry.user_id == sat.c.user_id, *units)
    if profile:
        took = narrowed(
            select(RosterEntry.unit_id, func.count(), func.sum(sat.c.ended), func.sum(sat.c.graded))
            .select_from(sat)
            .join(RosterEntry, on_roster)
        )
    else:
        # From the attempts to the roster: an outer join, the roster's conditions in its ON clause, so that no
        # planner starts from the roster (SQLite does, without statistics, and reads the attempts out of order).
        found = RosterEntry.user_id.is_not(None)
        took = (
            select(RosterEntry.unit_id, func.count(RosterEntry.user_id),
                   func.sum(case((found, sat.c.ended), else_=0)), func.sum(case((found, sat.c.graded), else_=0)))
            .select_from(sat).outerjoin(RosterEntry, on_roster).group_by(RosterEntry.unit_id)
        )  # fmt: skip
    sat_by_unit = {unit_id: (t, int(s or 0), int(r or 0)) for unit_id, t, s, r in db.session.execute(took) if t}
    out = {}
    for unit_id, e in db.session.execute(people):
        t, s, r = sat_by_unit.get(unit_id, (0, 0, 0))
        out[unit_id] = {"eligible": e, "took": t, "submitted": s, "ranked": r, "not_started": e - t}
    return out


def totals(by_unit: dict) -> dict:
    """The counts of `participation` over all units, with `started` and `waiting` (ended, not fully graded)."""
    out = {k: sum(r[k] for r in by_unit.values()) for k in ("eligible", "not_started", "took", "submitted", "ranked")}
    return {"eligible": out["eligible"], "started": out["took"], "submitted": out["submitted"], "ranked": out["ranked"],
            "not_started": out["not_started"], "waiting": out["submitted"] - out["ranked"]}  # fmt: skip


def counts(exam: Exam, viewer, filters: Filters) -> dict:
    """How many may sit the exam, started, submitted, are ranked (fully graded), wait for a grader, and never
    started (缺考 once the exam has closed), among the people the viewer may see and the filters select."""
    return totals(participation(exam, viewer, filters))


def people_of(exam: Exam) -> Select:
    """SELECT of User, outer-joined to Cadre and Unit, of the exam's people: its frozen roster with each person's
    unit at the close once it has closed, the people who may sit it now before; by unit and username."""
    if not frozen(exam):
        return eligible_people(exam)
    stmt = select(User).join(RosterEntry, and_(RosterEntry.exam_id == exam.id, RosterEntry.user_id == User.id))
    stmt = stmt.outerjoin(Cadre, Cadre.user_id == User.id).outerjoin(Unit, Unit.id == RosterEntry.unit_id)
    return stmt.order_by(Unit.path.is_(None), Unit.path, User.username)


def absent_query(exam: Exam, viewer, filters: Filters) -> Select:
    """The exam's people (people_of: the frozen roster once it has closed) who never started it, by unit and name;
    outer-joined to their place in the sitting (seat, session, room: `ABSENT_COLUMNS`), so one statement says who
    was recorded absent at the door."""
    return (
        people_of(exam)
        .outerjoin(Seat, and_(Seat.exam_id == exam.id, Seat.user_id == User.id))
        .outerjoin(SittingSession, SittingSession.id == Seat.session_id)
        .outerjoin(Room, Room.id == Seat.room_id)
        .where(
            *person_conditions(exam, viewer, filters),
            User.id.not_in(select(Attempt.user_id).where(Attempt.exam_id == exam.id)),
        )
    )


def voided_query(exam: Exam, viewer, filters: Filters = NO_FILTERS) -> Select:
    """The attempts whose score a decision on an incident voided (shown apart from the ranking, which leaves them
    out), with the person and their unit, in the viewer's scope and the filters' selection of people."""
    stmt = select(Attempt.id.label("attempt_id"), Attempt.user_id, Attempt.score, Attempt.voided_at,
                  Attempt.void_reason, User.name, User.username, Unit.id.label("unit_id"),
                  Unit.name.label("unit_name")).join(User, User.id == Attempt.user_id)  # fmt: skip
    return (
        unit_of_person(exam, stmt, User.id, frozen(exam))
        .where(Attempt.exam_id == exam.id, Attempt.voided_at.is_not(None), *person_conditions(exam, viewer, filters))
        .order_by(Unit.path, User.name, Attempt.id)
    )  # fmt: skip


def voided_count(exam: Exam, viewer, filters: Filters = NO_FILTERS) -> int:
    return db.session.scalar(select(func.count()).select_from(voided_query(exam, viewer, filters).subquery())) or 0


#: The absent list's columns (with absent_query): who, and where they were to sit and when the door recorded them.
ABSENT_COLUMNS = (User.name, User.username, Unit.name, Cadre.rank, Seat.absent_at, SittingSession.name, Room.name,
                  Seat.seat_no)  # fmt: skip


def has_sessions(exam: Exam) -> bool:
    """Is the exam sat in sessions (the sitting): then the absent list shows the door's record."""
    return db.session.scalar(select(SittingSession.id).where(SittingSession.exam_id == exam.id).limit(1)) is not None


def standing(exam: Exam, user: User) -> dict | None:
    """A candidate's own place: rank, how many are ranked, how many share the rank, and the share of ranked
    candidates strictly behind (percent); None while they have no ranked attempt. Counted over the whole exam,
    live in one aggregate: for the score slip (a document, as exact as the export). The result page reads the kept
    ranking instead (reports.standing), with no aggregate per request."""
    best = counted_attempts(exam, ranked=False)
    own = db.session.execute(
        select(best.c.attempt_id, best.c.score, best.c.seconds, best.c.submitted).where(best.c.user_id == user.id)
    ).first()
    if own is None:
        return None
    attempt_id, score, seconds, submitted = own
    c = best.c
    better = or_(
        c.score > score,
        and_(c.score == score, or_(c.seconds < seconds, and_(c.seconds == seconds, c.submitted < submitted))),
    )
    same = and_(c.score == score, c.seconds == seconds, c.submitted == submitted)
    ahead, tied, ranked = db.session.execute(
        select(func.sum(case((better, 1), else_=0)), func.sum(case((same, 1), else_=0)), func.count())
    ).one()  # fmt: skip
    rank = int(ahead) + 1
    behind = ranked - int(ahead) - int(tied)
    return {"rank": rank, "ranked": ranked, "tied": int(tied), "attempt_id": attempt_id,
            "behind_percent": round(100.0 * behind / ranked, 1)}  # fmt: skip


def unit_condition(viewer):
    """SQL condition over Unit: the units the viewer may see (all for the district)."""
    return true() if has_district_scope(viewer) else scope_filter(viewer, Unit.path)
