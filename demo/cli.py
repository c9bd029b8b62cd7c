"""`flask demo load`."""

import os

import click
from flask.cli import with_appcontext

from core.extensions import db
from core.models import now_utc
from demo import district


@click.group("demo", help="Demonstration data.")
def demo_cli():
    pass


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Do nothing (successfully) when the database already has accounts.")
@with_appcontext
def load(if_empty):
    """Fill an empty database with the demo district and print the demo accounts (QE_ALLOW_DEMO=1 only)."""
    if os.environ.get("QE_ALLOW_DEMO") != "1":
        raise click.ClickException(
            "The demo district has well-known passwords; set QE_ALLOW_DEMO=1 to load it (make run does)."
        )
    if not district.database_is_empty():
        if not if_empty:
            raise click.ClickException("The database is not empty; the demo district is only loaded into an empty one.")
        accounts = district.demo_accounts_in_use()
        click.echo("The database already has accounts; demo data not loaded.")
        if accounts:  # `make run` ends with them every time, not only the first
            click.echo("Demo accounts still on the demo password (username / password / roles):")
    else:
        accounts = district.load(now_utc())
        db.session.commit()
        click.echo("Demo district loaded. Accounts (username / password / roles):")
    for username, password, roles in accounts:
        click.echo(f"  {username:<10} {password:<12} {roles}")
