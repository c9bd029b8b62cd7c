"""`flask archive …`: maintenance of the learning archives."""

import click
from flask.cli import with_appcontext

from archive import figures
from core.extensions import db


@click.group("archive", help="Learning archives: maintenance.")
def archive_cli():
    pass


@archive_cli.command("rebuild-figures")
@with_appcontext
def rebuild_figures():
    """Recompute every cadre's figures per year (hours, reading, assessment) from the records. The services keep
    them up to date; this repairs them after data was changed outside the app (a restore, a hand-made fix)."""
    rows = figures.rebuild()
    db.session.commit()
    click.echo(f"{rows} cadre-year figure row(s) rebuilt.")
