"""The reports' long work on the job engine: an exam's item analysis and its kept ranking.

At most one of each waits or runs per exam (`start` returns the one already there): a second click, or a second
page that finds the ranking out of date, follows the running job instead of starting another. A change of scores
asks for the kept ranking with `ask_refresh`: one more may wait while one runs (the running one may have read the
results before the change), never two waiting.
"""

from flask import current_app, has_request_context, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core import events, policy
from core.extensions import db
from core.models import now_utc
from exam.models import Exam
from jobs import JobError, register, submit, waiting
from jobs.models import Job, JobState
from reports import items, ranking
from reports.models import RankSet

ITEM_ANALYSIS = "reports.item-analysis"
RANKING = "reports.ranking"
ACTIVE = (JobState.QUEUED, JobState.RUNNING, JobState.RETRYING)


def active(kind: str, exam: Exam) -> Job | None:
    """The job of this kind for the exam that waits or runs, if any."""
    return db.session.scalar(
        select(Job)
        .where(Job.kind == kind, Job.state.in_(ACTIVE), Job.params["exam_id"].as_integer() == exam.id)
        .order_by(Job.id)
        .limit(1)
    )


def start(kind: str, exam: Exam, user=None) -> tuple[Job, bool]:
    """The job of this kind for the exam: the one that waits or runs, or a new one (in the caller's transaction,
    dispatched when it commits). Returns (job, started). The exam's row is locked first (FOR NO KEY UPDATE on
    PostgreSQL, which lets attempts of the exam be written meanwhile), so two requests never both start one."""
    db.session.execute(select(Exam.id).where(Exam.id == exam.id).with_for_update(key_share=True))
    job = active(kind, exam)
    if job is not None:
        return job, False
    return submit(kind, {"exam_id": exam.id}, user=user), True


def ask_refresh(exam: Exam, user=None) -> Job:
    """The kept ranking's job that waits for a worker, or a new one: debounced, so that the result pages of a
    deadline burst and the regrades of a key correction ask for one recomputation, not one each. The exam's row is
    locked only when none waits (as in `start`)."""
    job = waiting(RANKING, exam.id)
    if job is not None:
        return job
    db.session.execute(select(Exam.id).where(Exam.id == exam.id).with_for_update(key_share=True))
    return waiting(RANKING, exam.id) or submit(RANKING, {"exam_id": exam.id}, user=user)


def _path(endpoint: str, **values) -> str:
    """A URL for the job's result, with or without a request (a worker has none)."""
    if has_request_context():
        return url_for(endpoint, **values)
    with current_app.test_request_context():
        return url_for(endpoint, **values)


def _exam(ctx) -> Exam:
    exam = db.session.get(Exam, ctx.params.get("exam_id"))
    if exam is None:
        raise JobError(_("The exam no longer exists."))
    return exam


@register(ITEM_ANALYSIS, _l("Item analysis"), cancellable=True)
def _item_analysis(ctx):
    """Compute and keep the item analysis (one transaction: stopping it keeps the previous analysis)."""
    exam = _exam(ctx)
    starter = ctx.job.created_by
    if starter is not None and (  # the rights of the person who asked, as they are now
        not policy.can(starter, "reports.items") or policy.conflict(starter, exam_id=exam.id, now=now_utc())
    ):
        raise JobError(_("You may no longer see this exam's item analysis."))
    kept = items.refresh(exam, now_utc(), progress=ctx.progress)
    return {"message": _("The item analysis was computed from %(n)d candidates.", n=kept.attempts),
            "url": _path("reports.exam_items", code=exam.code)}  # fmt: skip


def _rank_again(exam: Exam, **kwargs) -> None:
    """A release (overdue attempts finalized) or a key correction (attempts regraded) changes a whole exam's
    results at once: a large exam's kept ranking is recomputed by a job now, before anyone opens it (a smaller
    exam's is recomputed by the page that reads it, in a fraction of a second). Each finalized attempt
    (`attempt_finalized`, the deadline burst) is not listened to: the first page that reads the ranking starts
    the job, so a burst costs one recomputation, not one per submit."""
    kept = db.session.get(RankSet, exam.id)
    if kept is None or kept.ranked <= current_app.config["REPORTS_LIVE_RANKING_LIMIT"]:
        return
    if kept.fingerprint != ranking.results_fingerprint(exam):
        start(RANKING, exam, user=kwargs.get("actor"))


events.result_released.connect(_rank_again)
events.key_corrected.connect(_rank_again)


@register(RANKING, _l("Ranking"), cancellable=False)
def _ranking(ctx):
    """Recompute the exam's kept ranking when its results changed (a no-op when it is current). The ranking is
    the whole exam's, whoever started the job: pages limit it to the viewer's scope when they read it."""
    exam = _exam(ctx)
    ctx.progress(0, 1)
    kept = ranking.kept_ranks(exam, now_utc())
    ctx.progress(1, 1)
    return {"message": _("%(n)d candidates ranked.", n=kept.ranked),
            "url": _path("reports.exam_ranking", code=exam.code)}  # fmt: skip
