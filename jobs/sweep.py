"""The minute's sweep, run by one worker at a time in the whole installation (a lock in the engine's store).

1. Jobs that were committed but never reached the engine (the process died between the commit and the dispatch: the
   jobs table is the outbox) are dispatched again, as are retries whose scheduled try was lost with its worker.
2. Jobs whose worker stopped beating (killed mid-job) are taken back and tried again, or failed after the last try.
3. Expired files go.
4. The registered periodic work (the finalizer of overdue attempts) runs when it is due.
"""

import logging
import time
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from core.extensions import db
from core.models import now_utc
from jobs import engine, files, registry, runner
from jobs.models import Job, JobState

log = logging.getLogger("qualexam.jobs")


def run(now=None) -> dict:
    now = now or now_utc()
    stale_after = current_app.config.get("JOBS_STALE_SECONDS", 120)
    redispatch_after = current_app.config.get("JOBS_REDISPATCH_SECONDS", 300)
    report = {"redispatched": 0, "recovered": 0, "files": 0, "periodic": []}
    clock = time.time()

    waiting = db.session.scalars(
        select(Job.id).where(
            Job.state.in_([JobState.QUEUED, JobState.RETRYING]), Job.created_at < now - timedelta(seconds=30)
        )  # fmt: skip
    ).all()
    for job_id in waiting:
        last = engine.last_dispatch(job_id)
        if last is None or clock - last > redispatch_after:
            engine.dispatch(job_id)
            report["redispatched"] += 1

    running = db.session.execute(select(Job.id, Job.runner, Job.started_at).where(Job.state == JobState.RUNNING)).all()
    for job_id, holder, started_at in running:
        signs = [(engine.progress_of(job_id) or {}).get("at"), engine.last_beat(job_id),
                 started_at.timestamp() if started_at else None]  # fmt: skip
        last_sign = max((t for t in signs if t is not None), default=0)
        if clock - last_sign < stale_after:
            continue
        taken = db.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.runner == holder, Job.state == JobState.RUNNING)
            .values(state=JobState.RETRYING, runner=None, error=runner.WORKER_LOST)  # fmt: skip
        )
        db.session.commit()
        if taken.rowcount == 1:
            log.warning("job %s: its worker stopped beating; trying it again", job_id)
            engine.clear_progress(job_id)
            engine.dispatch(job_id)  # the run's claim fails it when its tries are used up
            report["recovered"] += 1

    report["files"] = files.remove_expired(now)
    db.session.commit()

    for work in registry.periodic_work():
        if engine.periodic_due(work.name, work.every, clock):
            try:
                work.func(now_utc())
                db.session.commit()
                report["periodic"].append(work.name)
            except Exception:
                db.session.rollback()
                log.exception("periodic work %s failed", work.name)
    return report
