"""`flask accounts …`, `flask units …` and `flask cadres …`: first admin, API tokens, the unit tree, cadre import
and the import templates."""

import io
import sys
from datetime import timedelta
from pathlib import Path

import click
from flask.cli import with_appcontext
from openpyxl import load_workbook
from sqlalchemy import select

from accounts import importing, services, system, unit_importing
from accounts.jobs import CADRE_IMPORT, UNIT_IMPORT
from accounts.models import LABELS, RoleAssignment, Unit, UnitKind, User
from core.errors import DomainError
from core.extensions import db
from core.imports import exit_on_issues
from core.models import local_today, now_utc
from core.policy import API_SCOPES, Role
from jobs import files
from jobs.cli import run_here
from jobs.models import StoredFile


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
@click.option(
    "--api-only",
    is_flag=True,
    help="A token for the JSON API only, accepted even before the account has changed its one-time password "
    "(audited as minted by the first system administrator).",
)
@with_appcontext
def token(username, name, api_only):
    """Mint a personal API token for USERNAME (printed once on standard output; only its hash is kept).

    An account that must still change its one-time password (an imported cadre, a reset) cannot use an ordinary
    token until it has done so on the web (403 password_change_required): the command says so on standard error.
    --api-only mints, deliberately and audited, a token that reaches the JSON API (/api/v1/) only and works at
    once. Either is revoked when the password changes or is reset."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"No account {username!r}.")
    if api_only:
        value = _domain(lambda: services.create_api_only_token(cli_actor(), user, name, now_utc()))
    else:
        value = _domain(lambda: services.create_api_token(user, name, now_utc()))
    db.session.commit()
    if api_only:
        click.echo(
            f"API-only token for {username}: it reaches /api/v1/ only. Its minting is in the audit log.", err=True
        )
    elif user.must_change_password:
        click.echo(
            f"Warning: {username} has not yet changed the one-time password. This token is refused "
            "(403 password_change_required) until they do so on the web; then it is revoked with the old password, "
            "so mint it after the change, or use --api-only for a script.",
            err=True,
        )
    if not user.active:
        click.echo(f"Warning: the account {username} is disabled; the token works only once it is enabled.", err=True)
    click.echo(value)


def _domain(call):
    """Run a service call for the CLI: its refusal becomes the command's error message (exit status 1)."""
    try:
        return call()
    except DomainError as exc:
        raise click.ClickException(str(exc.message)) from exc


@accounts_cli.command("system-account")
@click.argument("username")
@click.option("--name", default="", help="Which system this is, e.g. 人事系统.")
@click.option("--unit", "units", multiple=True, help="Unit code: the account reaches this unit's subtree only "
              "(repeatable). Without it, the whole district.")  # fmt: skip
@with_appcontext
def system_account(username, name, units):
    """Create an account for another system (the personnel system): it never logs in on the web and reaches the
    admin API (/api/v1/admin/) only through tokens minted with `flask accounts system-token`."""
    found = [_domain(lambda code=code: services.find_unit(code)) for code in units]
    account = _domain(lambda: system.create_account(cli_actor(), username, name, found, now_utc()))
    db.session.commit()
    scope = ", ".join(f"{u.code} {u.name}" for u in found) or "the whole district"
    click.echo(f"System account {account.username} created; it reaches {scope}.")


@accounts_cli.command("system-token")
@click.argument("username")
@click.option("--scope", "scopes", multiple=True, required=True,
              help="What the token may do (repeatable, or space-separated): " + ", ".join(API_SCOPES))  # fmt: skip
@click.option("--name", default="", help="What the token is for.")
@with_appcontext
def system_token(username, scopes, name):
    """Mint a token of the system account USERNAME with these scopes (printed once on standard output; only its
    hash is kept). It reaches the admin API only, and there only what its scopes and the account's roles allow."""
    account = _domain(lambda: system.find_account(username))
    value = _domain(lambda: system.mint_token(cli_actor(), account, name, scopes, now_utc()))
    db.session.commit()
    click.echo(f"Token for {account.username} minted; its minting is in the audit log.", err=True)
    click.echo(value)


@accounts_cli.command("system-tokens")
@with_appcontext
def system_tokens():
    """List the system accounts, their scope of units and their tokens (never the tokens' values)."""
    for account in system.accounts():
        units = ", ".join(r.unit.code for r in account.roles if r.unit is not None) or "district"
        state = "" if account.active else " (disabled)"
        click.echo(f"{account.username}  {account.name}  [{units}]{state}")
        for token in system.tokens_of(account):
            used = token.last_used_at.isoformat(timespec="minutes") if token.last_used_at else "never used"
            revoked = f"  revoked {token.revoked_at.isoformat(timespec='minutes')}" if token.revoked_at else ""
            click.echo(f"  #{token.id}  {token.name}  {token.scopes}  {used}{revoked}")


@accounts_cli.command("revoke-system-token")
@click.argument("token_id", type=int)
@with_appcontext
def revoke_system_token(token_id):
    """Revoke a system account's token by its number (from `flask accounts system-tokens`); audited."""
    token = _domain(lambda: system.revoke_token(cli_actor(), token_id, now_utc()))
    db.session.commit()
    click.echo(f"Token #{token.id} ({token.name}) of {token.user.username} revoked.")


@accounts_cli.command("disable-system-account")
@click.argument("username")
@with_appcontext
def disable_system_account(username):
    """Disable the system account USERNAME: every token of it stops within a second (kept for the record); audited."""
    _set_system_active(username, False)


@accounts_cli.command("enable-system-account")
@click.argument("username")
@with_appcontext
def enable_system_account(username):
    """Enable the system account USERNAME again: its unrevoked tokens work again; audited."""
    _set_system_active(username, True)


def _set_system_active(username: str, active: bool) -> None:
    account = _domain(lambda: system.find_account(username))
    _domain(lambda: system.set_active(cli_actor(), account, active, now_utc()))
    db.session.commit()
    click.echo(f"System account {account.username} {'enabled' if active else 'disabled'}.")


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


def import_as_job(kind: str, data: bytes, name: str, actor: User, params: dict | None = None):
    """Run an import as a job here, with a progress bar: the file waits in the database as a web upload would, and
    the job writes every row or none (its reason printed, exit status 1, when the database refuses a row)."""
    stored = files.store(data, name, "application/octet-stream", purpose="upload", owner_id=actor.id)
    token = stored.token
    db.session.commit()
    try:
        return run_here(kind, {"upload": token, **(params or {})}, user=actor, label="Importing")
    except click.ClickException as exc:
        db.session.rollback()
        left = files.get(token, owner_id=actor.id, purpose="upload")
        if left is not None:  # the import failed: the file holds personal data, keep it no longer
            files.discard(left)
            db.session.commit()
        click.echo(exc.format_message(), err=True)
        sys.exit(1)


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
    """Import cadres from an .xlsx file: all rows or none, with a progress bar. Exit status 1 on any error."""
    actor = cli_actor()
    data = Path(file).read_bytes()
    result = importing.parse_cadre_workbook(io.BytesIO(data), actor, local_today())
    exit_on_issues(result.issues)
    if dry_run:
        click.echo(f"{len(result.rows)} cadre(s) would be imported; nothing was written (dry run).")
        return
    job = import_as_job(CADRE_IMPORT, data, "cadres.xlsx", actor)
    # The job kept the one-time passwords as its download (for the web page): hand them over here and drop them.
    [stored] = db.session.scalars(select(StoredFile).where(StoredFile.job_id == job.id))
    workbook = stored.data
    files.discard(stored)
    db.session.commit()
    rows = list(load_workbook(io.BytesIO(workbook), read_only=True).active.iter_rows(min_row=2, values_only=True))
    if passwords_out:
        Path(passwords_out).write_bytes(workbook)
        click.echo(f"{len(rows)} cadre(s) imported; initial passwords written to {passwords_out}.")
    else:
        click.echo(f"{len(rows)} cadre(s) imported. Initial passwords (shown once):")
        for number, name, _unit, password in rows:
            click.echo(f"{number}\t{name}\t{password}")


@click.group("units", help="The unit tree: create, list, import from .xlsx.")
def units_cli():
    pass


@units_cli.command("create")
@click.argument("name")
@click.option("--code", required=True, help="The unit's code (unique; cadre and bank imports name units by it).")
@click.option("--parent", help="The parent unit: its code, or its path of names from the top (区委/组织部).")
@click.option("--kind", type=click.Choice([k.value for k in UnitKind]), default=UnitKind.OTHER.value, show_default=True)
@with_appcontext
def create_unit(name, code, parent, kind):
    """Create a unit (a top-level unit without --parent). Audited."""
    actor = cli_actor()
    try:
        parent_unit = services.find_unit(parent) if parent else None
        unit = services.add_unit(
            actor, code, name, kind, parent_unit, now_utc(), sort_order=_next_sort_order(parent_unit)
        )
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc.message)) from exc
    db.session.commit()
    where = f" under {parent_unit.name} ({parent_unit.code})" if parent_unit else " at the top of the tree"
    click.echo(f"Unit {unit.name} ({unit.code}) created{where}.")


def _next_sort_order(parent: Unit | None) -> int:
    """After its siblings, so a unit made later is listed later."""
    siblings = parent.children if parent is not None else services.unit_tree()
    return max((u.sort_order for u in siblings if u.parent_id == (parent.id if parent else None)), default=-1) + 1


@units_cli.command("list")
@with_appcontext
def list_units():
    """Print the unit tree with codes and kinds (inactive units marked)."""
    units = services.unit_tree()
    if not units:
        click.echo("No units yet: `flask units create NAME --code CODE` or `flask units import FILE.xlsx`.")
        return
    width = max(len(u.code) for u in units)
    for u in units:
        inactive = "  (inactive)" if not u.is_active else ""
        click.echo(f"{u.code.ljust(width)}  {'  ' * u.depth}{u.name}  [{LABELS[UnitKind(u.kind)]}]{inactive}")
    click.echo(f"{len(units)} unit(s).")


@units_cli.command("template")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def unit_template(output):
    """Write the .xlsx unit import template (columns 单位代码, 单位名称, 上级单位, 单位类型)."""
    Path(output).write_bytes(unit_importing.build_unit_template())
    click.echo(f"Template written to {output}")


@units_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check the file and report; write nothing.")
@with_appcontext
def import_units(file, dry_run):
    """Import units from an .xlsx file: all rows or none, each creation audited. Exit status 1 on any error.

    Columns: code, name, parent (a code, or a path of names like 区委/组织部; a unit in the system or on an earlier
    row; empty for a top-level unit), kind (optional)."""
    actor = cli_actor()
    data = Path(file).read_bytes()
    result = unit_importing.parse_unit_workbook(data)
    exit_on_issues(result.issues)
    if dry_run:
        click.echo(f"{len(result.rows)} unit(s) would be imported; nothing was written (dry run).")
        return
    job = import_as_job(UNIT_IMPORT, data, "units.xlsx", actor)
    click.echo(f"{job.result['count']} unit(s) imported. `flask units list` shows the tree.")
