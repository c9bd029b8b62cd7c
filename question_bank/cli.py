"""`flask banks …` and `flask questions …`: banks, import, export and the import template."""

from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from accounts.cli import cli_actor, import_as_job
from accounts.models import Unit
from core.errors import DomainError
from core.extensions import db
from core.imports import exit_on_issues
from core.models import now_utc
from question_bank import services, transfer
from question_bank.formats import table
from question_bank.jobs import QUESTION_IMPORT, upload_name
from question_bank.models import Bank, Question, QuestionStatus


@click.group("banks", help="Question banks.")
def banks_cli():
    pass


@banks_cli.command("create")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--subject", required=True, help="e.g. 政治理论 or 岗位知识")
@click.option("--unit", "unit_code", help="Code of the owning unit (default: the top unit).")
@click.option("--description", default="")
@with_appcontext
def create_bank(code, name, subject, unit_code, description):
    """Create a question bank."""
    stmt = select(Unit).where(Unit.code == unit_code) if unit_code else select(Unit).order_by(Unit.path).limit(1)
    unit = db.session.scalar(stmt)
    if unit is None:
        if unit_code:
            raise click.ClickException(f"No unit {unit_code!r}; `flask units list` shows the codes.")
        raise click.ClickException(
            "No units exist yet: create one with `flask units create NAME --code CODE` "
            "or import them with `flask units import FILE.xlsx`."
        )
    try:
        services.create_bank(cli_actor(), code, name, subject, unit, description, now_utc())
    except DomainError as exc:
        raise click.ClickException(str(exc.message)) from exc
    db.session.commit()
    click.echo(f"Bank {code} created, owned by {unit.name} ({unit.code}).")


@click.group("questions", help="Import and export questions.")
def questions_cli():
    pass


def _bank(code: str) -> Bank:
    bank = db.session.scalar(select(Bank).where(Bank.code == code))
    if bank is None:
        raise click.ClickException(f"No bank with code {code!r}.")
    return bank


@questions_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--bank", "bank_code", required=True)
@click.option("--format", "fmt", type=click.Choice(transfer.FORMATS), help="Default: from the file name.")
@click.option("--status", type=click.Choice(["draft", "in_review", "active"]), default="draft", show_default=True)
@click.option("--dry-run", is_flag=True, help="Check the file and report; write nothing.")
@with_appcontext
def import_questions(file, bank_code, fmt, status, dry_run):
    """Import questions: all of the file or nothing. Exit status 1 on any error."""
    bank = _bank(bank_code)
    fmt = fmt or transfer.guess_format(file)
    if fmt is None:
        raise click.ClickException("Cannot tell the format from the file name; give --format.")
    data = Path(file).read_bytes()
    result = transfer.read_file(fmt, data, bank)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    exit_on_issues(result.issues)
    if dry_run:
        click.echo(f"{len(result.questions)} question(s) would be imported; nothing was written (dry run).")
        return
    actor = cli_actor()
    job = import_as_job(QUESTION_IMPORT, data, upload_name(bank, fmt), actor, {"bank": bank.code, "status": status})
    count = job.result["count"]
    click.echo(f"{count} question(s) imported into {bank.code}.")


@questions_cli.command("export")
@click.option("--bank", "bank_code", required=True)
@click.option("--format", "fmt", type=click.Choice(transfer.FORMATS), required=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True))
@click.option("--status", type=click.Choice([s.value for s in QuestionStatus]), help="Only questions in this status.")
@with_appcontext
def export_questions(bank_code, fmt, output, status):
    """Export a bank's questions; what the format cannot hold is listed on stderr."""
    bank = _bank(bank_code)
    stmt = select(Question).where(Question.bank_id == bank.id).order_by(Question.id)
    if status:
        stmt = stmt.where(Question.status == status)
    questions = list(db.session.scalars(stmt))
    data, skipped, written = transfer.export_questions(questions, fmt)
    Path(output).write_bytes(data)
    for line in skipped:
        click.echo(f"not exported: {line}", err=True)
    click.echo(f"{written} of {len(questions)} question(s) written to {output}.")


@questions_cli.command("template")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True))
def template(output):
    """Write the .xlsx import template."""
    Path(output).write_bytes(table.template())
    click.echo(f"Template written to {output}")
