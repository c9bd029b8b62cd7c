"""Running one job: claim it, run its handler with a `Context`, record the outcome exactly once."""

import logging
import secrets
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import update

from core.crypto import UnreadableValue
from core.extensions import db
from core.models import now_utc
from jobs import engine, registry
from jobs.models import Job, JobState, StoredFile
from jobs.registry import JobError

log = logging.getLogger("qualexam.jobs")

#: The reasons the runner and the sweep record, in English; the pages show them in the reader's language
#: (error_text). An exception's own text stays in the server's log: it may name tables and values.
INTERNAL_ERROR = "An internal error stopped the job; the server's log has the details."
GAVE_UP = "The job was stopped after its last try: its worker was lost or it kept failing."
WORKER_LOST = "The worker running the job stopped; the job will be tried again."
STARTER_INACTIVE = "The person who started the job can no longer sign in; the job did not run."
UNREADABLE = "The job's data cannot be decrypted with the keys this server has (QE_DATA_KEYS): nothing was done."

#: Write live progress at most this often (seconds); the last step is always written.
PROGRESS_EVERY = 0.5


def error_text(error: str | None) -> str | None:
    """A job's failure in the reader's words: the runner's own reasons translated; a handler's JobError as it was
    written (in the language of the person who started the job)."""
    known = {
        INTERNAL_ERROR: _("An internal error stopped the job; the server's log has the details."),
        GAVE_UP: _("The job was stopped after its last try: its worker was lost or it kept failing."),
        WORKER_LOST: _("The worker running the job stopped; the job will be tried again."),
        STARTER_INACTIVE: _("The person who started the job can no longer sign in; the job did not run."),
        UNREADABLE: _(
            "The job's data cannot be decrypted with the keys this server has (QE_DATA_KEYS): nothing was done."
        ),
    }
    return known.get(error, error)


class _Heartbeat:
    """A run's heartbeat, on a thread of its own: a handler inside one long query (a ranking, a workbook read) is
    not taken for dead by the sweep, which takes back only jobs whose run stopped beating (its worker was killed)."""

    def __init__(self, job_id: int, every: float):
        huey = engine.engine()
        self._stop = threading.Event()

        def run():
            while True:
                try:
                    huey.put(f"job-beat:{job_id}", time.time())
                except Exception:  # the store is briefly down: the next beat tries again
                    log.warning("job %s: heartbeat not written", job_id)
                if self._stop.wait(every):
                    return

        self._thread = threading.Thread(target=run, name=f"job-{job_id}-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


class Cancelled(Exception):
    """Raised inside a handler by `Context.progress` when someone asked to stop the job."""


class Retry(Exception):
    """The job failed and will be tried again (Huey schedules the next try with back-off)."""


class Context:
    """What a handler gets: its job's parameters, a progress reporter, and a place for files."""

    def __init__(self, job: Job, runner: str, on_progress: Callable[[int, int | None], None] | None = None):
        self.job = job
        self.params = dict(job.params or {})
        self.runner = runner
        self.done = 0
        self.total: int | None = None
        self.message: str | None = None
        self.started = time.time()
        self._written = 0.0
        self._on_progress = on_progress
        self._kind = registry.kind(job.kind)
        self._drill_delay = float(current_app.config.get("JOBS_DRILL_DELAY") or 0)

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        """Report `done` of `total` steps; stops the job here when a cancellation was asked for (if it may stop)."""
        self.done = done
        if total is not None:
            self.total = total
        if message is not None:
            self.message = message
        if self._on_progress:
            self._on_progress(self.done, self.total)
        now = time.time()
        last = self.total is not None and self.done >= self.total
        if now - self._written >= PROGRESS_EVERY or last:
            self._written = now
            engine.put_progress(self.job.id, self.done, self.total, self.message, self.started)
            if self._kind.cancellable and engine.cancel_requested(self.job.id):
                raise Cancelled()
        if self._drill_delay:  # QE_JOBS_DRILL_DELAY: fault drills slow each step down to kill a worker mid-job
            time.sleep(self._drill_delay)

    def steps(self, iterable, total: int | None = None, every: int = 1):
        """Iterate, reporting progress after each `every` items."""
        if total is None:
            try:
                total = len(iterable)
            except TypeError:
                total = None
        self.progress(0, total)
        n = 0
        for n, item in enumerate(iterable, 1):
            yield item
            if n % every == 0:
                self.progress(n, total)
        self.progress(n, total if total is not None else n)

    def save_file(self, name: str, mimetype: str, data: bytes, days: int = 7, secret: bool = False) -> StoredFile:
        """Keep a download of this job (in the job's transaction), readable by the job's owner and the district's
        admins; a `secret` file (one-time passwords) by its owner only."""
        from jobs import files

        return files.store(data, name, mimetype, purpose="secret" if secret else "download",
                           owner_id=self.job.created_by_id, job_id=self.job.id,
                           expires_in=timedelta(days=days))  # fmt: skip


def execute(job_id: int, on_progress=None) -> str | None:
    """Run job `job_id` if it waits; return its state afterwards (None when another run holds it or it is over).

    The claim is a conditional UPDATE, so of two deliveries of the same job (a sweep's re-dispatch racing a slow
    queue) only one runs it; the completion is a conditional UPDATE on the same runner token in the handler's own
    transaction, so the work and the record that it was done commit together or not at all."""
    token = secrets.token_hex(8)
    now = now_utc()
    claimed = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state.in_([JobState.QUEUED, JobState.RETRYING]))
        .values(state=JobState.RUNNING, runner=token, attempts=Job.attempts + 1, started_at=now)
    )
    db.session.commit()
    if claimed.rowcount != 1:
        return None
    job = db.session.get(Job, job_id)
    kind = registry.kind(job.kind)
    if kind is None:
        return _finish(job_id, token, JobState.FAILED, error=f"unknown job kind {job.kind!r}")
    if job.attempts > job.max_attempts:
        return _finish(job_id, token, JobState.FAILED, error=GAVE_UP)
    if job.created_by is not None and not job.created_by.active:
        return _finish(job_id, token, JobState.FAILED, error=STARTER_INACTIVE)
    ctx = Context(job, token, on_progress)
    engine.put_progress(job_id, 0, None, None, ctx.started)
    heart = _Heartbeat(job_id, float(current_app.config.get("JOBS_HEARTBEAT_SECONDS", 30)))
    try:
        result = kind.handler(ctx) or {}
        finished = db.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.runner == token, Job.state == JobState.RUNNING)
            .values(
                state=JobState.DONE,
                finished_at=now_utc(),
                result=result,
                done=ctx.done,
                total=ctx.total if ctx.total is not None else ctx.done,
                error=None,
            )  # fmt: skip
        )
        if finished.rowcount != 1:  # the sweep took the job back (this run looked dead): its own run decides
            db.session.rollback()
            return None
        db.session.commit()
        engine.clear_progress(job_id)
        return JobState.DONE
    except Cancelled:
        db.session.rollback()
        return _finish(job_id, token, JobState.CANCELLED, done=ctx.done, total=ctx.total)
    except JobError as exc:
        db.session.rollback()
        return _finish(job_id, token, JobState.FAILED, error=str(exc), done=ctx.done, total=ctx.total)
    except UnreadableValue:  # a key dropped while the job's file waited: no retry brings it back
        db.session.rollback()
        log.exception("job %s (%s) read data no configured key decrypts", job_id, job.kind)
        return _finish(job_id, token, JobState.FAILED, error=UNREADABLE, done=ctx.done, total=ctx.total)
    except Exception as exc:
        db.session.rollback()
        log.exception("job %s (%s) failed on try %s", job_id, job.kind, job.attempts)
        if job.attempts < job.max_attempts:
            _finish(job_id, token, JobState.RETRYING, error=INTERNAL_ERROR, done=ctx.done, total=ctx.total)
            raise Retry(f"job {job_id} failed on try {job.attempts}") from exc
        return _finish(job_id, token, JobState.FAILED, error=INTERNAL_ERROR, done=ctx.done, total=ctx.total)
    finally:
        heart.stop()


def _finish(job_id: int, token: str, state: str, error: str | None = None, done: int = 0, total=None) -> str | None:
    values = {"state": state, "error": error, "done": done, "total": total}
    if state != JobState.RETRYING:
        values["finished_at"] = now_utc()
    else:
        values["runner"] = None
    changed = db.session.execute(update(Job).where(Job.id == job_id, Job.runner == token).values(**values))
    db.session.commit()
    if state != JobState.RETRYING:
        engine.clear_progress(job_id)
    return state if changed.rowcount == 1 else None
