"""`flask results …`: finalize what is due, and an exam's results' state."""

import click
from flask.cli import AppGroup
from sqlalchemy import select

from core.extensions import db
from core.models import now_utc
from exam.models import Exam
from results import lifecycle
from results.jobs import finalize_due_now

results_cli = AppGroup("results", help="The score lifecycle of official exams.")


@results_cli.command("finalize-due")
def finalize_due():
    """Make final the results whose notice period has ended and that have no open appeal."""
    done, held = finalize_due_now(now_utc())
    for code in done:
        click.echo(f"{code}: final")
    for code, why in held.items():
        click.echo(f"{code}: not final ({why})")
    if not done and not held:
        click.echo("Nothing is due.")


@results_cli.command("status")
@click.argument("code")
def status(code):
    """The state of an exam's results, its history and its notices."""
    exam = db.session.scalar(select(Exam).where(Exam.code == code))
    if exam is None:
        raise click.ClickException(f"No exam {code}.")
    now = now_utc()
    current = lifecycle.state(exam, now)
    if current is None:
        click.echo(f"{code}: not official (results released by hand)")
        return
    click.echo(f"{code}: {current}")
    for change in lifecycle.history(exam):
        who = change.actor.username if change.actor else "-"
        click.echo(f"  {change.at:%Y-%m-%d %H:%M} {change.from_state} -> {change.to_state} by {who} {change.note}")
    notice = lifecycle.current_notice(exam)
    if notice is not None:
        click.echo(f"  notice {notice.serial} (version {notice.version}) ends {notice.ends_at:%Y-%m-%d %H:%M} UTC")
