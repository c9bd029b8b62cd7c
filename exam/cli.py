"""`flask exams …`: publish, prepare papers, finalize overdue attempts, regrade, verify scores, and exams as JSON
files."""

import json
import sys
import time
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError

from accounts.cli import cli_actor
from core.errors import DomainError
from core.extensions import db
from core.models import now_utc
from exam import conflicts, files, scoring, verification
from exam import jobs as exam_jobs
from exam.models import Exam
from jobs.cli import run_here


@click.group("exams", help="Exams: publish, prepare, finalize, regrade, verify scores, export and import.")
def exams_cli():
    pass


def _exam(code: str) -> Exam:
    exam = db.session.scalar(select(Exam).where(Exam.code == code))
    if exam is None:
        raise click.ClickException(f"No exam with code {code!r}.")
    return exam


def _run(action):
    try:
        result = action()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc.message)) from exc
    db.session.commit()
    return result


@exams_cli.command("publish")
@click.argument("code")
@click.option("--accept-conflicts", is_flag=True, help="Publish although candidates in conflict are undecided.")
@with_appcontext
def publish(code, accept_conflicts):
    """Check an exam's rules, publish it and draw every candidate's paper (with a progress bar). Candidates in
    conflict of interest (rights over the exam's pool) must be decided on the exam's page first, unless
    --accept-conflicts."""
    exam = _exam(code)
    actor = cli_actor()
    _run(lambda: conflicts.publish(actor, exam, now_utc(), accept_conflicts=accept_conflicts, draw=False))
    job = run_here(exam_jobs.PREPARE_PAPERS, {"exam_id": exam.id}, user=actor, label=f"{code}: drawing papers")
    click.echo(f"Exam {code} published; {job.result.get('drawn', 0)} paper(s) drawn.")


@exams_cli.command("prepare")
@click.argument("code")
@with_appcontext
def prepare(code):
    """Draw the papers of candidates who have none yet, with a progress bar (run before the start; safe to repeat,
    and after a drawing that stopped half-way)."""
    exam = _exam(code)
    job = run_here(exam_jobs.PREPARE_PAPERS, {"exam_id": exam.id}, user=cli_actor(), label=f"{code}: drawing papers")
    click.echo(f"{job.result.get('drawn', 0)} paper(s) drawn for {code}.")


@exams_cli.command("finalize-overdue")
@click.option(
    "--every",
    type=click.FloatRange(min=1),
    default=None,
    help="Keep running, sweeping every this many seconds (not needed where `flask jobs worker` runs: docs/jobs.md).",
)
@with_appcontext
def finalize_overdue(every):
    """Finalize attempts left open past their deadline, once. The job workers do it every minute by themselves
    (the periodic work exam.finalize-overdue); this is for operators, or a setup without workers (cron, --every)."""
    while True:
        try:
            count = exam_jobs.finalize_overdue_each(now_utc())
        except (OperationalError, InterfaceError) as exc:  # the database is away: try again at the next sweep
            db.session.rollback()
            if every is None:
                raise click.ClickException(f"The database is not reachable: {exc.orig}") from exc
            click.echo(f"The database is not reachable; trying again in {every:g} s.", err=True)
            count = None
        if count or every is None:
            click.echo(f"{count} overdue attempt(s) finalized.")
        if every is None:
            return
        time.sleep(every)


@exams_cli.command("regrade")
@click.argument("code")
@with_appcontext
def regrade(code):
    """Grade every ended attempt of an exam again (after a key correction)."""
    exam = _exam(code)
    changed = _run(lambda: scoring.regrade(cli_actor(), exam, now_utc()))
    for attempt, old, new in changed:
        click.echo(f"attempt {attempt.id} ({attempt.user.username}): {old} -> {new}")
    click.echo(f"Regraded; {len(changed)} score(s) changed.")


@exams_cli.command("verify")
@click.argument("codes", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Verify every exam.")
@with_appcontext
def verify(codes, all_):
    """Grade every ended attempt again from the stored paper, answers, key corrections and grader's points, and
    print every stored score that differs. Writes nothing. Exit status 1 on any difference."""
    if bool(codes) == all_:
        raise click.UsageError("Name one or more exam codes, or give --all.")
    try:
        exams = None if all_ else [_exam(code) for code in dict.fromkeys(codes)]
        summary = verification.verify_scores(exams, on_difference=lambda d: click.echo(str(d)))
    finally:
        db.session.rollback()  # nothing is written; and nothing this run loaded is kept
    click.echo(
        f"{summary.attempts} attempt(s), {summary.items} item(s) checked, {len(summary.differences)} difference(s)."
    )
    if summary.differences:
        sys.exit(1)


@exams_cli.command("export")
@click.argument("code")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def export(code, output):
    """Write an exam's definition as JSON (format: docs/exam-file.md)."""
    Path(output).write_text(json.dumps(files.export_exam(_exam(code)), ensure_ascii=False, indent=2), encoding="utf-8")
    click.echo(f"Exam {code} written to {output}.")


@exams_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--code", help="Give the imported exam this code (default: the file's).")
@with_appcontext
def import_(file, code):
    """Create a draft exam from a JSON exam file. Exit status 1 on any problem; nothing is written then."""
    try:
        data = json.loads(Path(file).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        click.echo(f"Not a JSON exam file: {exc}", err=True)
        sys.exit(1)
    try:
        exam = files.import_exam(cli_actor(), data, now_utc(), code=code)
    except DomainError as exc:
        db.session.rollback()
        click.echo(str(exc.message), err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"Exam {exam.code} imported as a draft.")
