"""`flask reports …`: compute an exam's item analysis (for exams too large to compute on opening the page)."""

import click
from flask.cli import AppGroup
from sqlalchemy import select

from core.extensions import db
from exam.models import Exam
from jobs.cli import run_here
from reports.jobs import ITEM_ANALYSIS
from reports.models import ExamAnalysis

reports_cli = AppGroup("reports", help="Reports: item analysis.")


@reports_cli.command("analyse")
@click.argument("code")
def analyse(code: str) -> None:
    """Compute and keep the item analysis of exam CODE (as the page's job, showing its progress)."""
    exam = db.session.scalar(select(Exam).where(Exam.code == code))
    if exam is None:
        raise click.ClickException(f"no exam {code}")
    run_here(ITEM_ANALYSIS, {"exam_id": exam.id})  # with a progress bar; recorded in the jobs list
    kept = db.session.get(ExamAnalysis, exam.id)
    click.echo(f"{code}: {kept.attempts} candidates, {len(kept.data['items'])} questions, "
               f"{kept.data['flagged']} flagged")  # fmt: skip
