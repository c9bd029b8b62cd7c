"""`flask accounts …` and `flask cadres …`: first admin, cadre import and its template."""

import sys
from datetime import timedelta
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from accounts import importing, services
from accounts.models import RoleAssignment, User
from core.errors import DomainError
from core.extensions import db
from core.imports import exit_on_issues
from core.models import local_today, now_utc
from core.policy import Role


@click.group("accounts", help="Manage accounts.")
def accounts_cli():
    pass


@accounts_cli.command("create-admin")
@click.argument("username")
@click.option("--name", help="Display name (defaults to the username).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of prompting.")
@with_appcontext
def create_admin(username, name, password_stdin):
    """Create a system administrator (the first account of a production install)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        services.create_admin(username, password, name, now_utc())
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc.message)) from exc
    db.session.commit()
    click.echo(f"System administrator {username} created.")


@accounts_cli.command("prune-logins")
@click.option("--days", default=90, show_default=True, help="Keep this many days of login records.")
@with_appcontext
def prune_logins(days):
    """Delete old login attempts and ended login sessions (run it from cron)."""
    attempts, sessions = services.prune_login_records(now_utc() - timedelta(days=days))
    db.session.commit()
    click.echo(f"Deleted {attempts} login attempt(s) and {sessions} ended session(s) older than {days} days.")


@accounts_cli.command("token")
@click.argument("username")
@click.option("--name", default="cli", help="What the token is for.")
@with_appcontext
def token(username, name):
    """Mint a personal API token for USERNAME (printed once; only its hash is kept)."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"No account {username!r}.")
    value = services.create_api_token(user, name, now_utc())
    db.session.commit()
    click.echo(value)


@click.group("cadres", help="Import cadres and write the import template.")
def cadres_cli():
    pass


def cli_actor() -> User:
    """The CLI acts as the first system administrator, so imports are audited against a real account."""
    actor = db.session.scalar(
        select(User).join(RoleAssignment).where(RoleAssignment.role == Role.SYSTEM_ADMIN).order_by(User.id)
    )
    if actor is None:
        raise click.ClickException("No system administrator exists yet: run `flask accounts create-admin` first.")
    return actor


@cadres_cli.command("template")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def template(output):
    """Write the .xlsx import template."""
    Path(output).write_bytes(importing.build_template(cli_actor()))
    click.echo(f"Template written to {output}")


@cadres_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check the file and report; write nothing.")
@click.option(
    "--passwords-out",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the one-time initial passwords to this .xlsx instead of printing them.",
)
@with_appcontext
def import_cadres(file, dry_run, passwords_out):
    """Import cadres from an .xlsx file: all rows or none. Exit status 1 on any error."""
    actor = cli_actor()
    with open(file, "rb") as fh:
        result = importing.parse_cadre_workbook(fh, actor, local_today())
    exit_on_issues(result.issues)
    if dry_run:
        click.echo(f"{len(result.rows)} cadre(s) would be imported; nothing was written (dry run).")
        return
    try:
        credentials = importing.commit_cadre_import(actor, result, now_utc())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        click.echo(str(exc.message), err=True)
        sys.exit(1)
    if passwords_out:
        Path(passwords_out).write_bytes(importing.build_credentials_workbook(credentials))
        click.echo(f"{len(credentials)} cadre(s) imported; initial passwords written to {passwords_out}.")
    else:
        click.echo(f"{len(credentials)} cadre(s) imported. Initial passwords (shown once):")
        for c in credentials:
            click.echo(f"{c.employee_number}\t{c.name}\t{c.password}")
