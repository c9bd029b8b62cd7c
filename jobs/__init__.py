"""Long work on a job engine (Huey): publishing, item analysis, rankings, exports, imports, PDF batches, the finalizer.

How a package uses it:

    from jobs import JobError, register, submit

    @register("reports.item-analysis", _l("Item analysis"))
    def _analyse(ctx):              # ctx: jobs.runner.Context
        exam = db.session.get(Exam, ctx.params["exam_id"])
        for i, item in enumerate(ctx.steps(items)): ...
        return {"message": ..., "url": ...}

    job = submit("reports.item-analysis", {"exam_id": exam.id}, user=current_user)   # in the request's transaction
    return redirect(url_for("jobs.detail", job_id=job.id))                         # the live progress page

`submit` writes the job in the caller's transaction; the engine hears of it when that transaction commits.
"""

import logging

from flask import Blueprint
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from core.extensions import db
from jobs.models import Job, JobState, StoredFile  # noqa: F401
from jobs.registry import JobError, periodic, register  # noqa: F401

bp = Blueprint("jobs", __name__, url_prefix="/jobs")

_PENDING = "qualexam.jobs.pending"


def submit(kind: str, params: dict | None = None, user=None, max_attempts: int | None = None) -> Job:
    """Ask for a job: a row in the current transaction, dispatched to the engine after it commits."""
    from flask import current_app

    from jobs import registry

    if registry.kind(kind) is None:
        raise ValueError(f"unknown job kind {kind!r}")
    job = Job(kind=kind, params=params or {}, state=JobState.QUEUED,
              created_by_id=getattr(user, "id", None),
              max_attempts=max_attempts or current_app.config.get("JOBS_MAX_ATTEMPTS", 3))  # fmt: skip
    db.session.add(job)
    db.session.flush()
    db.session().info.setdefault(_PENDING, []).append(job.id)
    return job


def waiting(kind: str, exam_id: int) -> Job | None:
    """The job of this kind for the exam that waits for a worker (queued, or retrying after a failed try), if any:
    work asked for often (a deadline burst's grading, a ranking made stale by every new score) asks for one job
    while one waits, not one each."""
    return db.session.scalar(
        select(Job)
        .where(Job.kind == kind, Job.state.in_([JobState.QUEUED, JobState.RETRYING]),
               Job.params["exam_id"].as_integer() == exam_id)
        .order_by(Job.id)
        .limit(1)
    )  # fmt: skip


@event.listens_for(Session, "after_commit")
def _dispatch_after_commit(session):
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    from jobs import engine

    for job_id in pending:
        try:
            engine.dispatch(job_id)
        except Exception:  # the queue is down: the change and its job are committed; the sweep dispatches it later
            logging.getLogger("qualexam.jobs").exception("job %s: the engine could not be told; the sweep will", job_id)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session):
    session.info.pop(_PENDING, None)


def cancel_job(job: Job) -> None:
    """Stop a job: one that waits is cancelled at once; one that runs stops at its next progress step, and rolls
    back what it did (the runner records it cancelled)."""
    from sqlalchemy import update

    from core.models import now_utc
    from jobs import engine

    waiting = db.session.execute(
        update(Job)
        .where(Job.id == job.id, Job.state.in_([JobState.QUEUED, JobState.RETRYING]))
        .values(state=JobState.CANCELLED, finished_at=now_utc())  # fmt: skip
    )
    if waiting.rowcount != 1:
        engine.request_cancel(job.id)


def init_app(app) -> None:
    from jobs import engine

    engine.build(app)


from jobs import views  # noqa: E402,F401
