"""`flask reports …`: compute an exam's item analysis (for exams too large to compute on opening the page)."""

import click
from flask.cli import AppGroup
from sqlalchemy import select

from core.extensions import db
from core.models import now_utc
from exam.models import Exam
from reports import items

reports_cli = AppGroup("reports", help="Reports: item analysis.")


@reports_cli.command("analyse")
@click.argument("code")
def analyse(code: str) -> None:
    """Compute and keep the item analysis of exam CODE."""
    exam = db.session.scalar(select(Exam).where(Exam.code == code))
    if exam is None:
        raise click.ClickException(f"no exam {code}")
    kept = items.refresh(exam, now_utc())
    db.session.commit()
    click.echo(f"{code}: {kept.attempts} candidates, {len(kept.data['items'])} questions, "
               f"{kept.data['flagged']} flagged")  # fmt: skip
