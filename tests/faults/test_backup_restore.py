"""Backup and restore of the whole system, the documented way (`flask backup create` / `flask backup restore`,
README "Operations"): the demo district with its archives, exam results and a question image is backed up while
the app could be serving, restored into an empty database and an empty instance folder, and comes back the same:
every row of every table, every archive page and ranking as an admin sees them, and the files. The restored system
then works (new rows get new ids, the audit log is still append-only), and a restore refuses a database that is
not empty and an archive that is damaged."""

import io
import re
import secrets
import subprocess
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import select, text

from tests.faults.conftest import ROOT, VENV_BIN, app_env, flask_cli

pytestmark = pytest.mark.faults

#: A CSRF token as Flask-WTF signs it (itsdangerous: payload.timestamp.signature).
CSRF_TOKEN = re.compile(r'"[\w-]{20,}\.[\w-]{4,}\.[\w-]{20,}"')
IMAGE = b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(64)


def _database(kind, pg_cluster, tmp_path, name):
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / f'{name}.db'}"
    return pg_cluster.create_database(f"{name}_{secrets.token_hex(3)}")


def _snapshot(app) -> dict:
    """Every table's rows in primary-key order."""
    from core.extensions import db

    with app.app_context():
        out = {}
        for table in db.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            out[table.name] = [tuple(row) for row in db.session.execute(select(table).order_by(*order))]
        version = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return {"tables": out, "version": version}


def _pages(app) -> dict:
    """The archive page of every cadre and the ranking of every exam, as the demo's system admin sees them."""
    from accounts.models import Cadre, User
    from core.extensions import db
    from exam.models import Exam

    with app.app_context():
        usernames = db.session.scalars(select(User.username).join(Cadre).order_by(User.username)).all()
        codes = db.session.scalars(select(Exam.code).order_by(Exam.code)).all()
    client = app.test_client()
    assert client.post_form("/login", {"username": "admin", "password": "demo2026qe"}).status_code == 302
    pages = {}
    for path in [f"/archive/cadres/{u}" for u in usernames] + [f"/reports/exams/{c}/ranking" for c in codes]:
        response = client.get(path)  # a ranking is 404 until its exam has results to rank
        body = CSRF_TOKEN.sub('"csrf"', response.get_data(as_text=True))  # each session's own
        pages[path] = (response.status_code, body)
    assert sum(status == 200 for status, _ in pages.values()) > len(usernames)  # archives and some rankings
    return pages


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_restore_into_an_empty_database_gives_the_same_system(kind, pg_cluster, tmp_path):
    from tests.conftest import _make_app

    source_url = _database(kind, pg_cluster, tmp_path, "source")
    source_dir = tmp_path / "source-instance"
    env = app_env(source_url, source_dir, QE_ALLOW_DEMO="1")
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "demo", "load")
    (source_dir / "question_images").mkdir(parents=True, exist_ok=True)
    (source_dir / "question_images" / "a1.png").write_bytes(IMAGE)
    (source_dir / "secret_key").write_text("the-source-secret-key")
    (source_dir / "imports").mkdir()
    (source_dir / "imports" / "pending.xlsx").write_bytes(b"a preview, not yet imported")
    archive = tmp_path / "qualexam-backup.tar.gz"
    flask_cli(env, "backup", "create", str(archive))
    assert archive.stat().st_mode & 0o077 == 0  # personal data and the secret key: the owner's eyes only
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert "instance/imports/pending.xlsx" not in names and "instance/question_images/a1.png" in names

    target_url = _database(kind, pg_cluster, tmp_path, "target")
    target_dir = tmp_path / "target-instance"
    target_env = app_env(target_url, target_dir)
    out = flask_cli(target_env, "backup", "restore", str(archive))
    assert "Restored" in out
    flask_cli(target_env, "db", "upgrade")  # what the README says to run next: nothing to do here

    source, target = _make_app(source_url, source_dir), _make_app(target_url, target_dir)
    before, after = _snapshot(source), _snapshot(target)
    assert sum(len(rows) for rows in before["tables"].values()) > 500  # the demo district, not an empty shell
    assert before["tables"]["archive_exam_results"] and before["tables"]["archive_entries"]
    for name, rows in before["tables"].items():
        assert after["tables"][name] == rows, f"table {name} differs after the restore"
    assert after["version"] == before["version"]
    assert _pages(target) == _pages(source)
    assert (target_dir / "question_images" / "a1.png").read_bytes() == IMAGE
    assert (target_dir / "secret_key").read_text() == "the-source-secret-key"
    assert (target_dir / "secret_key").stat().st_mode & 0o077 == 0

    # The restored system works: new rows get fresh ids (sequences came along), the audit log stays append-only.
    from core import audit, audit_chain
    from core.extensions import db
    from core.models import now_utc
    from tests.factories import make_unit

    # The audit chain came along with its rows (compared above) and goes on from the restored head.
    with target.app_context():
        head = audit_chain.head(db.session)
        make_unit()
        audit.record("backup.checked", target="restore", at=now_utc())
        db.session.commit()
        chain = audit_chain.verify(db.session)
        assert head.count > 0 and chain.intact and chain.last_seq == head.seq + 1, chain.breaks
        db.session.rollback()
        with pytest.raises(Exception, match="(?i)append-only|audit"), db.engine.begin() as conn:
            conn.execute(text("UPDATE audit_events SET action = 'x'"))
        db.session.remove()
        db.engine.dispose()
    with source.app_context():
        db.engine.dispose()

    # Restoring again would merge into live data: refused, and nothing changes.
    again = subprocess.run([str(VENV_BIN / "flask"), "--app", "app", "backup", "restore", str(archive)], cwd=ROOT,  # noqa: S603
                           env=target_env, capture_output=True, text=True)  # fmt: skip
    assert again.returncode != 0 and "not empty" in again.stderr


def test_a_damaged_archive_is_refused_before_anything_is_restored(pg_cluster, tmp_path):
    source_url = _database("sqlite", pg_cluster, tmp_path, "source")
    env = app_env(source_url, tmp_path / "source-instance")
    flask_cli(env, "db", "upgrade")
    archive = tmp_path / "backup.tar.gz"
    flask_cli(env, "backup", "create", str(archive))
    target_url = f"sqlite:///{tmp_path / 'target.db'}"
    target_env = app_env(target_url, tmp_path / "target-instance")

    def rewritten(name: str, change) -> Path:
        """The archive again, with `change(member, data)` deciding each member's bytes (None: as it was)."""
        out = tmp_path / name
        with tarfile.open(archive) as src, tarfile.open(out, "w:gz") as dst:
            for member in src.getmembers():
                data = change(member, src.extractfile(member).read())
                member.size = len(data)
                dst.addfile(member, io.BytesIO(data))
            if name == "planted.tar.gz":  # a file the manifest does not list, bound for the instance folder
                extra = tarfile.TarInfo("instance/question_images/planted.png")
                extra.size = len(IMAGE)
                dst.addfile(extra, io.BytesIO(IMAGE))
        return out

    zeroed = rewritten("damaged.tar.gz", lambda m, d: d[:-4096] + bytes(4096) if m.name == "database.sqlite" else d)
    planted = rewritten("planted.tar.gz", lambda m, d: d)
    refusals = {
        zeroed: "database.sqlite is missing from the archive or damaged",
        planted: "files its manifest does not list: instance/question_images/planted.png",
    }
    for bad, message in refusals.items():
        done = subprocess.run([str(VENV_BIN / "flask"), "--app", "app", "backup", "restore", str(bad)], cwd=ROOT,  # noqa: S603
                              env=target_env, capture_output=True, text=True)  # fmt: skip
        assert done.returncode != 0 and message in done.stderr, done.stderr
        assert not (tmp_path / "target.db").exists() or (tmp_path / "target.db").stat().st_size == 0
        assert not (tmp_path / "target-instance" / "question_images").exists()
