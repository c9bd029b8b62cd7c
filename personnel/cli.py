"""`flask cadres import-lrmx`: .lrmx forms from files, folders and zips, checked, shown, then imported by a job;
`flask personal-data rotate-keys`: every encrypted value under the first key of QE_DATA_KEYS."""

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from accounts.cli import cadres_cli, cli_actor, import_as_job
from accounts.models import Rank
from core.crypto import UnreadableValue, rotate_all
from core.extensions import db
from core.models import local_today
from jobs import files
from jobs.models import StoredFile
from personnel import batches
from personnel.importing import Options, plan_batch
from personnel.jobs import LRMX_IMPORT
from personnel.lrmx import MAX_FILE_BYTES, MAX_TOTAL_BYTES
from personnel.views import FIELD_LABELS


def _gather(paths) -> list[tuple[str, bytes]]:
    """The files named, and the .lrmx/.lrm/.zip files under the folders named, each bounded before it is read."""
    chosen = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            chosen += sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (".lrmx", ".lrm", ".zip")
            )
        else:
            chosen.append(path)
    items, total = [], 0
    for path in chosen:
        size = path.stat().st_size
        limit = MAX_TOTAL_BYTES if path.suffix.lower() == ".zip" else MAX_FILE_BYTES
        if size > limit or total + size > MAX_TOTAL_BYTES:
            raise click.ClickException(f"{path}: too large ({size} bytes); nothing was imported.")
        total += size
        items.append((str(path), path.read_bytes()))
    return items


@cadres_cli.command("import-lrmx")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--dry-run", is_flag=True, help="Check the forms and show what would change; write nothing.")
@click.option("--unit", "unit_code", help="The unit (its code) of people not yet in QualExam.")
@click.option("--rank", type=click.Choice([r.value for r in Rank]), help="Their rank when the post names none.")
@click.option("--passwords-out", type=click.Path(dir_okay=False, writable=True),
              help="Write new cadres' one-time passwords to this .xlsx instead of printing them.")  # fmt: skip
@with_appcontext
def import_lrmx(paths, dry_run, unit_code, rank, passwords_out):
    """Import 干部任免审批表 forms (.lrmx files, folders of them, zips): every form or none. Exit status 1 on any
    problem, each named with its file and field."""
    from accounts.services import find_unit
    from core.errors import DomainError

    actor = cli_actor()
    try:
        unit = find_unit(unit_code) if unit_code else None
    except DomainError as exc:
        raise click.ClickException(str(exc.message)) from exc
    items = _gather(paths)
    plan = plan_batch(actor, items, Options(unit=unit, rank=rank), local_today())
    for issue in plan.issues:
        click.echo(str(issue), err=True)
    if plan.issues:
        click.echo(f"{len(plan.issues)} problem(s) found; nothing was imported.", err=True)
        sys.exit(1)
    for row in plan.preview()["rows"]:
        changes = "; ".join(
            f"{FIELD_LABELS[k]}: {old or '—'} → {new or '—'}" for k, (old, new) in row["changes"].items()
        )
        extra = [f"+{len(row['degrees'])} degree(s)"] if row["degrees"] else []
        extra += [f"+{len(row['assessments'])} assessment(s)"] if row["assessments"] else []
        click.echo("\t".join([row["status"], row["number"], row["name"], row["file"], changes, " ".join(extra)]))
    counts = plan.counts()
    summary = f"{counts['new']} new, {counts['updated']} to update, {counts['unchanged']} unchanged"
    if dry_run:
        click.echo(f"{summary}; nothing was written (dry run).")
        return
    params = {"unit": unit.id if unit else None, "rank": rank, "fingerprint": plan.preview()["fingerprint"]}
    job = import_as_job(LRMX_IMPORT, batches.pack(items), "lrmx-batch.zip", actor, params=params)
    click.echo(f"Imported: {summary}.")
    stored = db.session.scalar(select(StoredFile).where(StoredFile.job_id == job.id,
                                                        StoredFile.name == "initial-passwords.xlsx"))  # fmt: skip
    if stored is None:
        return
    workbook = stored.data
    files.discard(stored)
    db.session.commit()
    if passwords_out:
        Path(passwords_out).write_bytes(workbook)
        click.echo(f"New cadres' initial passwords written to {passwords_out}.")
        return
    import io

    from openpyxl import load_workbook

    click.echo("Initial passwords of the new cadres (shown once):")
    for number, name, _unit, password in load_workbook(io.BytesIO(workbook), read_only=True).active.iter_rows(
        min_row=2, values_only=True
    ):
        click.echo(f"{number}\t{name}\t{password}")


@click.group("personal-data", help="Personal data at rest: rotate its keys.")
def personal_data_cli():
    pass


@personal_data_cli.command("rotate-keys")
@with_appcontext
def rotate_keys():
    """Re-encrypt every encrypted value (ID and phone numbers, photos, stored files) under the first key of
    QE_DATA_KEYS, and re-index the ID numbers under the first key of QE_INDEX_KEYS. Run it after putting new keys
    first; drop the old keys only once it has finished."""
    from accounts.personal import reindex_all

    try:
        values, unreadable = rotate_all(db.session)
    except UnreadableValue as exc:  # a profile's value: never dropped; its key must come back into QE_DATA_KEYS
        message = f"{exc}: put the key that wrote it back into QE_DATA_KEYS and run this again."
        raise click.ClickException(message) from exc
    indexed = reindex_all()
    db.session.commit()
    click.echo(f"{values} value(s) re-encrypted under the first data key; {indexed} ID number(s) re-indexed.")
    if unreadable:
        click.echo(f"{unreadable} file(s) or photo(s) no listed key decrypts were left as they are (stored files "
                   "expire within a week; a photo can be uploaded again).", err=True)  # fmt: skip
