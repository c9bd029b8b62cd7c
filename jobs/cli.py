"""`flask jobs …`: run a worker, list jobs, sweep by hand; and `run_here` for the other packages' commands."""

import sys

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from core.extensions import db
from jobs import engine, registry, runner, sweep
from jobs.models import Job, JobState
from jobs.runner import error_text


@click.group("jobs", help="Long work: run a worker, list recent jobs, sweep stuck jobs.")
def jobs_cli():
    pass


@jobs_cli.command("worker")
@click.option("--workers", "-w", default=2, show_default=True, help="Threads in this worker process.")
@click.option("--no-periodic", is_flag=True, help="Leave the minute's sweep to other workers (it runs once anyway).")
@click.option("--quiet", is_flag=True, help="Log warnings only.")
@with_appcontext
def worker(workers, no_periodic, quiet):
    """Run jobs as they come (one process; start several, on any nodes, against the same QE_JOBS_URL)."""
    import logging

    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    huey = engine.engine()
    if huey.immediate:
        raise click.ClickException("QE_JOBS_URL=immediate runs jobs where they are asked for: no worker to start.")
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=not no_periodic,
                                    check_worker_health=True)  # fmt: skip
    consumer.run()


@jobs_cli.command("list")
@click.option("--limit", default=20, show_default=True)
@with_appcontext
def list_jobs(limit):
    """The newest jobs with their state and progress."""
    for job in db.session.scalars(select(Job).order_by(Job.id.desc()).limit(limit)):
        progress = f"{job.done}/{job.total}" if job.total else str(job.done)
        line = f"{job.id:>6}  {job.kind:<28} {job.state:<10} {progress:>12}  {job.created_at:%Y-%m-%d %H:%M}"
        click.echo(line + (f"  {error_text(job.error)}" if job.error else ""))


@jobs_cli.command("sweep")
@with_appcontext
def sweep_now():
    """Run the minute's sweep once, here (dispatch lost jobs, take back jobs of dead workers, periodic work)."""
    report = sweep.run()
    click.echo(f"dispatched again: {report['redispatched']}, taken back: {report['recovered']}, "
               f"files removed: {report['files']}, periodic: {', '.join(report['periodic']) or '-'}")  # fmt: skip


class _Bar:
    """A click progress bar that learns its length from the job's first report."""

    def __init__(self, label: str):
        self.label = label
        self.bar = None
        self.shown = 0

    def __call__(self, done: int, total: int | None) -> None:
        if self.bar is None and total:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr,
                                         show_eta=True, show_percent=True, show_pos=True)  # fmt: skip
            self.bar.__enter__()
        if self.bar is not None and done > self.shown:
            self.bar.update(done - self.shown)
            self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def run_here(kind: str, params: dict, user=None, label: str | None = None) -> Job:
    """Run a job in this process with a progress bar on the terminal (the command line's long work). The job is
    recorded like any other: it shows in the jobs page, and its files wait there for download."""
    known = registry.kind(kind)
    if known is None:
        raise click.ClickException(f"unknown job kind {kind!r}")
    job = Job(kind=kind, params=params, state=JobState.QUEUED, created_by_id=getattr(user, "id", None),
              max_attempts=1)  # fmt: skip
    db.session.add(job)
    db.session.commit()  # not dispatched: this process runs it
    bar = _Bar(label or str(known.label))
    try:
        runner.execute(job.id, on_progress=bar)
    finally:
        bar.close()
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    if job.state != JobState.DONE:
        raise click.ClickException(f"job {job.id} {job.state}: {error_text(job.error) or ''}")
    return job
