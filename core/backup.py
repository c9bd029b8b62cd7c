"""Backing up and restoring the whole system: the database and the instance folder's files, in one archive.

`flask backup create FILE` writes a .tar.gz holding:

- ``manifest.json``: when, from which schema revision, which database kind, and a SHA-256 for every member;
- ``database.dump`` (PostgreSQL: ``pg_dump --format=custom``, one consistent snapshot taken while the app serves)
  or ``database.sqlite`` (SQLite's online backup API, also consistent while in use);
- ``instance/…``: question images and the secret key file (a SECRET_KEY set in the environment is not in it: keep
  it with the rest of the configuration). Files are copied after the database snapshot, so every file the snapshot
  refers to is in the archive (images are written before the rows that use them are committed). Files waiting for
  an import's confirmation and the downloads of jobs live in the database (``stored_files``), so they are in its
  dump; they expire within a day (a week for most downloads).

`flask backup restore FILE` checks the archive first (every member listed and its checksum right, nothing
unlisted), puts the files into the instance folder, then loads the database into an *empty* one (it refuses one
with tables: a restore never merges into live data) in one transaction. Run `flask db upgrade` afterwards when the
code is newer than the backup.

The archive holds personal data and the secret key: it is written readable by its owner only (0600).
"""

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import inspect, text

from core.extensions import db

FORMAT = 1
#: Folders and files of the instance folder that a backup carries (relative to it).
INSTANCE_MEMBERS = ("question_images", "secret_key")


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pg_command(url, program: str) -> tuple[list[str], dict]:
    """`program` with the database as a libpq URI (host, port, user, name and query such as sslmode, as the app
    connects), the password passed in the environment rather than on the command line (which `ps` shows)."""
    libpq = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return [shutil.which(program) or program, "--no-password", f"--dbname={libpq}"], env


def _run(args: list[str], env: dict) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {done.stderr.strip() or done.returncode}")


def _schema_revision() -> str | None:
    try:
        return db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # no schema yet
        db.session.rollback()
        return None


def dump_database(url, dest_dir: Path) -> str:
    """Write a consistent snapshot of the database into dest_dir; return the member's name."""
    if url.get_backend_name() == "postgresql":
        args, env = _pg_command(url, "pg_dump")
        out = dest_dir / "database.dump"
        _run([*args, "--format=custom", "--no-owner", "--no-privileges", f"--file={out}"], env)
        return out.name
    if url.get_backend_name() == "sqlite":
        out = dest_dir / "database.sqlite"
        with closing(sqlite3.connect(url.database)) as src, closing(sqlite3.connect(out)) as dst:
            src.backup(dst)  # the online backup API: a consistent copy while others write
        return out.name
    raise BackupError(f"Backing up a {url.get_backend_name()} database is not supported.")


def create_backup(out: Path) -> dict:
    """Back up the app's database and instance files into the archive `out`; return its manifest."""
    url = db.engine.url  # as Flask-SQLAlchemy resolved it (a relative SQLite path lies in the instance folder)
    instance = Path(current_app.instance_path)
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="qe-backup-") as tmp:
        work = Path(tmp)
        members = [dump_database(url, work)]
        for name in INSTANCE_MEMBERS:
            src = instance / name
            if src.is_dir():
                shutil.copytree(src, work / "instance" / name, ignore=shutil.ignore_patterns("*.tmp"))
            elif src.is_file():
                (work / "instance").mkdir(exist_ok=True)
                shutil.copy2(src, work / "instance" / name)
        members += sorted(str(p.relative_to(work)) for p in (work / "instance").rglob("*") if p.is_file())
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": url.get_backend_name(),
            "schema_revision": _schema_revision(),
            "files": {name: _sha256(work / name) for name in members},
        }
        partial = out.with_name(f".{out.name}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            data = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size, info.mtime, info.mode = len(data), int(datetime.now(UTC).timestamp()), 0o600
            tar.addfile(info, io.BytesIO(data))
            for name in members:
                tar.add(work / name, arcname=name, recursive=False)
        os.replace(partial, out)  # whole or not at all
    return manifest


def _unpack(archive: Path, dest: Path) -> dict:
    """Unpack and check an archive: the manifest, every listed member present with its checksum, nothing else."""
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            tar.extractall(dest, filter="data")  # refuses absolute paths, .., links out of dest, devices
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(f"{archive} is not a readable backup archive: {exc}") from exc
    try:
        manifest = json.loads((dest / "manifest.json").read_text())
        files = dict(manifest["files"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{archive} has no readable manifest.json.") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"Backup format {manifest.get('format')!r} is not {FORMAT}.")
    for name, digest in files.items():
        path = dest / name
        if not path.is_file() or _sha256(path) != digest:
            raise BackupError(f"{name} is missing from the archive or damaged (its checksum differs).")
    unlisted = {str(p.relative_to(dest)) for p in dest.rglob("*") if not p.is_dir()} - set(files) - {"manifest.json"}
    if unlisted:
        raise BackupError(f"The archive holds files its manifest does not list: {', '.join(sorted(unlisted)[:5])}.")
    return manifest


def database_has_tables() -> bool:
    return bool(inspect(db.engine).get_table_names())


def restore_backup(archive: Path) -> dict:
    """Restore an archive made by create_backup into this app's (empty) database and instance folder."""
    url = db.engine.url
    instance = Path(current_app.instance_path)
    with tempfile.TemporaryDirectory(prefix="qe-restore-") as tmp:
        work = Path(tmp)
        manifest = _unpack(Path(archive), work)
        if manifest["database"] != url.get_backend_name():
            raise BackupError(
                f"The backup is of a {manifest['database']} database; this app uses {url.get_backend_name()}."
            )
        if database_has_tables():
            raise BackupError("The database is not empty: restore into a new, empty database.")
        # The files first: copying them again is harmless, so a restore that fails later can simply be re-run.
        for name in manifest["files"]:
            relative = Path(name).relative_to("instance") if name.startswith("instance/") else None
            if relative is None or relative.parts[0] not in INSTANCE_MEMBERS:
                continue  # only what a backup carries goes into the instance folder
            target = instance / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(work / name, target)
            if relative.name == "secret_key":
                target.chmod(0o600)
        db.session.remove()
        db.engine.dispose()
        if url.get_backend_name() == "postgresql":
            args, env = _pg_command(url, "pg_restore")
            # One transaction: a restore that fails leaves the database as empty as it was.
            _run([*args, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
                  str(work / "database.dump")], env)  # fmt: skip
        else:
            with (
                closing(sqlite3.connect(work / "database.sqlite")) as src,
                closing(sqlite3.connect(url.database)) as dst,
            ):
                src.backup(dst)
    return manifest


def _or_fail(action, path: Path) -> dict:
    try:
        return action(path)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("backup", help="Back up and restore the database and the instance files.")
def backup_cli():
    pass


@backup_cli.command("create")
@click.argument("out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@with_appcontext
def create_command(out):
    """Write a backup archive (.tar.gz) of the database and the instance files to OUT."""
    manifest = _or_fail(create_backup, out)
    click.echo(f"Backup written to {out}: {len(manifest['files'])} files, schema {manifest['schema_revision']}.")


@backup_cli.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def restore_command(archive):
    """Restore ARCHIVE into this app's empty database and its instance folder."""
    manifest = _or_fail(restore_backup, archive)
    click.echo(
        f"Restored the backup of {manifest['created_at']} (schema {manifest['schema_revision']}). "
        "Run `flask db upgrade` if this code is newer."
    )
