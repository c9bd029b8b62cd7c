"""The candidate's own place on their result page, read from the exam's kept ranking (reports.models.RankEntry) by
index: no aggregate over the exam's attempts per request, even in the deadline burst.

Stale, never wrong. The kept row is shown only when it holds the candidate's counted attempt as it is now (the
same attempt, score, seconds used and submission second: the ranking's ordering). A score newer than the kept
ranking (a first grading, a grader's points, a regrade, a voiding, an appeal's or a correction's new mark) shows
"being computed" while a job ranks the exam again (reports.jobs.ask_refresh: at most one waits per exam, so a
burst of readers costs one recomputation, not one each). Other candidates' changes reach the kept ranking by the
same job: `attempt_finalized` of an attempt the kept ranking may hold (it ended before the ranking was computed)
asks for it, and the rank is shown with the time it was computed.
"""

import calendar
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, select

from core import events
from core.extensions import db
from exam import result_page
from exam.models import Attempt, Exam
from jobs.models import JobState
from reports.models import RankEntry, RankSet

#: What the result page shows while the kept ranking does not hold the candidate's score as it is now.
PENDING = {"pending": True}


def _epoch(when: datetime) -> int:
    """Whole seconds since 1970, as the ranking's SQL counts them (reports.sql.epoch_seconds)."""
    return calendar.timegm(when.utctimetuple())


def order_key(attempt: Attempt) -> tuple:
    """(score, seconds used, submitted) as the ranking keeps them (whole seconds, the score to the cent)."""
    submitted = _epoch(attempt.ended_at)
    return round(float(attempt.score), 2), submitted - _epoch(attempt.started_at), submitted


def counted_attempt(exam: Exam, attempt: Attempt) -> Attempt | None:
    """The candidate's attempt the ranking counts now: fully graded, not voided, and with several attempts
    allowed the best by the ranking's ordering (reports.ranking.counted_attempts); None if there is none."""
    if exam.attempts_allowed > 1:
        mine = db.session.scalars(
            select(Attempt).where(Attempt.exam_id == exam.id, Attempt.user_id == attempt.user_id)
        ).all()
    else:
        mine = [attempt]
    ranked = [a for a in mine if a.fully_graded and a.voided_at is None and a.ended_at is not None]
    if not ranked:
        return None
    return min(ranked, key=lambda a: ((-order_key(a)[0],) + order_key(a)[1:], a.id))


def kept_standing(attempt: Attempt, now: datetime) -> dict | None:
    """The candidate's place (rank, ranked, tied, attempt_id, behind_percent, as_of) from the kept ranking, PENDING
    while it does not hold their counted attempt as it is now, or None while they have no ranked attempt. One
    indexed read (two with several attempts allowed); a stale one asks for the job (reports.jobs.ask_refresh)."""
    exam = attempt.exam
    own = counted_attempt(exam, attempt)
    if own is None:
        return None
    row = db.session.execute(
        select(RankSet.computed_at, RankSet.ranked, RankEntry.rank, RankEntry.tied, RankEntry.score,
               RankEntry.seconds, RankEntry.submitted)
        .select_from(RankSet)
        .outerjoin(RankEntry, and_(RankEntry.exam_id == RankSet.exam_id, RankEntry.attempt_id == own.id))
        .where(RankSet.exam_id == exam.id)
    ).first()  # fmt: skip
    if row is not None and row.rank is not None and (round(row.score, 2), row.seconds, row.submitted) == order_key(own):
        return _place(own.id, row.rank, row.tied, row.ranked, row.computed_at)
    return _pending(exam, own, now)


def _place(attempt_id: int, rank: int, tied: int, ranked: int, as_of: datetime | None) -> dict:
    behind = ranked - (rank - 1) - tied
    return {"rank": rank, "ranked": ranked, "tied": tied, "attempt_id": attempt_id,
            "behind_percent": round(100.0 * behind / ranked, 1), "as_of": as_of}  # fmt: skip


def _pending(exam: Exam, own: Attempt, now: datetime) -> dict:
    """PENDING, with the job asked for. A job that no worker has taken after REPORTS_RANKING_WAIT seconds is not
    waited for (as the ranking pages do, reports.ranking.kept_for_pages): the exam is ranked here."""
    from reports import jobs, ranking  # the job kinds import this module's neighbours

    job = jobs.ask_refresh(exam)
    if job.state == JobState.QUEUED and now - job.created_at > timedelta(
        seconds=current_app.config["REPORTS_RANKING_WAIT"]
    ):
        kept = ranking.kept_ranks(exam, now)
        entry = db.session.get(RankEntry, own.id)
        if entry is not None:
            return _place(own.id, entry.rank, entry.tied, kept.ranked, kept.computed_at)
    return PENDING


def result_page_values(attempt, user, outcome: dict | None, now) -> dict:
    """The candidate's result page (exam.result_page): their place among the others, once their score is final."""
    if not (outcome and outcome.get("fully_graded")) or outcome.get("voided") or attempt.user_id != user.id:
        return {}
    return {"place": kept_standing(attempt, now)}


result_page.register(result_page_values)


@events.attempt_finalized.connect
def _score_changed(attempt: Attempt, now: datetime, **_kwargs) -> None:
    """A score the kept ranking may hold changed (the attempt ended before the ranking was computed): a grader's
    points, a regrade, a voiding or its undoing, an appeal's or a correction's mark. The kept ranking is ranked
    again by a job. An attempt graded at its submit (the deadline burst) ended after the kept ranking was computed:
    one read of the kept ranking's row, and its candidate's own result page asks for the job."""
    if attempt.ended_at is not None and attempt.ended_at >= now:
        return  # graded as it ends (a submit): no kept ranking can hold it yet, so none is read
    kept = db.session.get(RankSet, attempt.exam_id)
    if kept is None or kept.computed_at is None or attempt.ended_at is None or attempt.ended_at > kept.computed_at:
        return
    from reports import jobs

    jobs.ask_refresh(attempt.exam)
