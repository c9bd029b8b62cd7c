"""The job engine: Huey (docs/jobs.md says why), configured from QE_JOBS_URL.

- `sqlite:///path` (the default: instance/jobs.sqlite3): no server; the web processes and `flask jobs worker` on one
  machine share the file. What `make run` uses.
- `redis://host:6379/0` or `postgresql://…`: any number of workers on any number of nodes.
- `immediate` (tests): a job runs in the process that asked for it, right after the asking transaction commits.
- `memory` (tests): jobs wait in memory until the test runs them (`run_pending`).

Besides the queue, the engine's store keeps each running job's live progress and heartbeat, and the cancellation
flags: small values written often, kept out of the application's database on purpose.
"""

import time
from pathlib import Path
from urllib.parse import urlsplit

from flask import current_app
from huey import Huey, MemoryHuey, PostgresHuey, RedisHuey, SqliteHuey, crontab

#: Huey's own back-off: a failed try waits RETRY_DELAY seconds, each further one RETRY_BACKOFF times longer.
RETRY_DELAY = 5
RETRY_BACKOFF = 3
EXTENSION = "qualexam.jobs"
#: A sweep's lease: a worker killed mid-sweep holds it at most this long (seconds), then another sweeps.
SWEEP_LEASE = 600


def build(app) -> Huey:
    """Create the app's engine and its two tasks: `run_job(job_id)` and the minute's sweep."""
    url = app.config.get("JOBS_URL") or "sqlite:///" + app.instance_path + "/jobs.sqlite3"
    name = app.config.get("JOBS_QUEUE_NAME", "qualexam")
    if url == "immediate":
        huey = MemoryHuey(name, immediate=True)
    elif url == "memory":
        huey = MemoryHuey(name)
    elif url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        path.parent.mkdir(parents=True, exist_ok=True)
        huey = SqliteHuey(name, filename=str(path), timeout=30)
    elif url.startswith(("redis://", "rediss://", "unix://")):
        huey = RedisHuey(name, url=url)
    elif urlsplit(url).scheme in ("postgres", "postgresql"):
        huey = PostgresHuey(name, dsn=url.replace("postgres://", "postgresql://", 1))
    else:
        raise ValueError(f"QE_JOBS_URL: unknown scheme in {url!r} (sqlite:///…, redis://…, postgresql://…)")
    retries = app.config.get("JOBS_MAX_ATTEMPTS", 3) - 1

    @huey.task(name="qualexam.run_job", retries=retries, retry_delay=RETRY_DELAY, retry_backoff=RETRY_BACKOFF)
    def run_job(job_id: int) -> None:
        from jobs import runner

        with app.app_context():
            runner.execute(job_id)

    @huey.periodic_task(crontab(minute="*"), name="qualexam.sweep")
    def sweep_task() -> None:
        from jobs import sweep

        with app.app_context():
            if not take_lease("qualexam.sweep", SWEEP_LEASE):
                return  # another worker (another node) is sweeping this minute
            try:
                sweep.run()
            finally:
                release_lease("qualexam.sweep")

    huey.qe_run_job = run_job
    huey.qe_sweep = sweep_task
    app.extensions[EXTENSION] = huey
    return huey


def engine() -> Huey:
    return current_app.extensions[EXTENSION]


def dispatch(job_id: int) -> None:
    """Tell the engine about a committed job (called after the commit: jobs.submit)."""
    huey = engine()
    huey.put(f"job-dispatched:{job_id}", time.time())
    huey.qe_run_job(job_id)


def run_pending(limit: int = 100) -> int:
    """Run what waits in the queue, in this process (tests with QE_JOBS_URL=memory; `flask jobs run-pending`)."""
    huey = engine()
    ran = 0
    while ran < limit:
        task = huey.dequeue()
        if task is None:
            break
        huey.execute(task)
        ran += 1
    return ran


# ---------------------------------------------------------------- live progress, heartbeat, cancellation


def put_progress(job_id: int, done: int, total: int | None, message: str | None, started: float) -> None:
    engine().put(f"job-progress:{job_id}", {"done": done, "total": total, "message": message, "started": started,
                                            "at": time.time()})  # fmt: skip


def progress_of(job_id: int) -> dict | None:
    """{"done", "total", "message", "started", "at"} as the running job last wrote it, or None."""
    return engine().get(f"job-progress:{job_id}", peek=True)


def clear_progress(job_id: int) -> None:
    huey = engine()
    for key in (f"job-progress:{job_id}", f"job-cancel:{job_id}", f"job-beat:{job_id}"):
        huey.delete(key)


def request_cancel(job_id: int) -> None:
    engine().put(f"job-cancel:{job_id}", True)


def cancel_requested(job_id: int) -> bool:
    return bool(engine().get(f"job-cancel:{job_id}", peek=True))


def last_dispatch(job_id: int) -> float | None:
    return engine().get(f"job-dispatched:{job_id}", peek=True)


def periodic_due(name: str, every: int, now: float) -> bool:
    """True once per `every` seconds for `name`, across all workers (the sweep holds the lock while it asks)."""
    huey = engine()
    last = huey.get(f"periodic-last:{name}", peek=True)
    if last is not None and now - last < every - 1:
        return False
    huey.put(f"periodic-last:{name}", now)
    return True


def take_lease(name: str, seconds: int) -> bool:
    """One holder at a time across all workers, for at most `seconds` (a holder killed mid-way blocks no one for
    longer). Huey's own task lock has no expiry on SQLite, PostgreSQL or Redis before 7.4, so the lease records when
    it was taken. Two workers taking over an expired lease at the same instant can both win: the sweep's steps are
    conditional updates, safe to run twice."""
    huey = engine()
    key = f"lease:{name}"
    now = time.time()
    if huey.put_if_empty(key, now):
        return True
    taken = huey.get(key, peek=True)
    if taken is not None and now - float(taken) < seconds:
        return False
    huey.delete(key)
    return bool(huey.put_if_empty(key, now))


def release_lease(name: str) -> None:
    engine().delete(f"lease:{name}")


def last_beat(job_id: int) -> float | None:
    """When the run of a job last beat (jobs.runner's heartbeat thread), whatever its handler was doing."""
    return engine().get(f"job-beat:{job_id}", peek=True)
