"""Fixtures: one migrated database per run (SQLite, or PostgreSQL when TEST_DATABASE_URL says so), emptied after
every test; `app`, `client`, `runner`, `db` and `auth` as in Flask's tutorial."""

import copy
import os
import re
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import make_url, select, text

from app import create_app
from config import TestConfig

ROOT = Path(__file__).resolve().parent.parent


def _postgres_database(base_url: str):
    """Create a throwaway database on the server of `base_url`; return (url, drop) or raise if unreachable."""
    import psycopg

    url = make_url(base_url)
    name = f"qe_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin_dsn = url.set(drivername="postgresql", database=url.database or "postgres").render_as_string(
        hide_password=False
    )
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False), drop


_DB_STATE: dict = {}


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "real_demo: loads the demo district for real, not from the run's snapshot (tests/conftest.py)"
    )
    base = os.environ.get("TEST_DATABASE_URL", "")
    if base.startswith("postgres"):
        try:
            url, drop = _postgres_database(base)
        except Exception as exc:  # server down, bad credentials, driver missing
            reason = f"PostgreSQL at TEST_DATABASE_URL is not reachable: {exc}"
            if os.environ.get("TEST_REQUIRE_DB"):
                raise pytest.UsageError(reason) from exc
            _DB_STATE["skip"] = reason
            return
        _DB_STATE.update(url=url, drop=drop, kind="postgresql")
    else:
        tmp = Path(tempfile.mkdtemp(prefix="qe-test-"))
        _DB_STATE.update(url=f"sqlite:///{tmp / 'test.db'}", kind="sqlite", tmp=tmp)


def pytest_report_header(config):
    if "skip" in _DB_STATE:
        return f"database: SKIPPED ({_DB_STATE['skip']})"
    return f"database: {_DB_STATE.get('kind')} {make_url(_DB_STATE['url']).render_as_string()}"


def pytest_collection_modifyitems(config, items):
    if "skip" in _DB_STATE:
        marker = pytest.mark.skip(reason=_DB_STATE["skip"])
        for item in items:
            item.add_marker(marker)


def pytest_unconfigure(config):
    if "drop" in _DB_STATE:
        _DB_STATE.pop("drop")()


class CSRFClient(FlaskClient):
    """A test client that can post forms the way a browser does: with the CSRF token of its session.

    Each request runs in an app context of its own (fresh `g`, fresh database session), as in production, even
    though the test itself holds one open: state never leaks from the test or an earlier request into a request.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)

    def csrf_token(self) -> str:
        html = self.get("/login", follow_redirects=True).get_data(as_text=True)
        match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def post_form(self, url, data=None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token())
        return self.post(url, data=data, **kwargs)


@pytest.fixture(scope="session")
def database_url():
    return _DB_STATE["url"]


@pytest.fixture(scope="session")
def _migrated(database_url, tmp_path_factory):
    """Build the schema once per run through the migrations, exactly as `flask db upgrade` does."""
    from flask_migrate import upgrade

    app = _make_app(database_url, tmp_path_factory.mktemp("instance"))
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        from core.extensions import db

        db.engine.dispose()
    return True


def _make_app(database_url, instance_path, **overrides):
    cfg = type("RunConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": database_url, **overrides})
    app = create_app(cfg)
    app.instance_path = str(instance_path)
    app.test_client_class = CSRFClient
    return app


def _empty_all_tables(db):
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            _empty_postgresql(conn, tables)
        return
    with db.engine.connect() as conn:
        # Units refer to units: the order alone cannot do it. The pragma holds only outside a transaction, and the
        # connection goes back to the pool (the next test's): switched on again after the commit.
        raw = conn.connection.dbapi_connection  # pragmas outside SQLAlchemy's transaction
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                # Only the tables the test filled (one query finds them): emptying all of them, and dropping and
                # making again every trigger, cost about 50 ms a test, a minute over the suite.
                filled = {row[0] for row in conn.execute(text(_filled_tables_probe(tables)))}
                if not filled:
                    return
                # The guard triggers (append-only audit log, immutable exam records) refuse these deletes; SQLite
                # cannot switch triggers off, so they are dropped and made again from their own SQL, in the same
                # transaction (SQLite's DDL is transactional: a failure leaves them in place).
                triggers = conn.execute(
                    text("SELECT name, sql, tbl_name FROM sqlite_master WHERE type = 'trigger'")
                ).all()
                triggers = [(name, sql) for name, sql, table in triggers if table in filled]
                for name, _sql in triggers:
                    conn.execute(text(f'DROP TRIGGER "{name}"'))
                for t in tables:
                    if t in filled:
                        conn.execute(text(f'DELETE FROM "{t}"'))
                for _name, sql in triggers:
                    conn.execute(text(sql))
        finally:
            raw.execute("PRAGMA foreign_keys=ON")


def _filled_tables_probe(tables) -> str:
    """SQL naming, of `tables`, those that have a row."""
    return " UNION ALL ".join(f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in tables)


def _empty_postgresql(conn, tables) -> None:
    """Empty what the test filled, and restart the sequences it advanced. TRUNCATE of every table costs about
    9 ms a table here (a third of a second a test); deleting from the few non-empty ones costs a few ms. Foreign
    keys are not enforced meanwhile (session_replication_role, a superuser's), so the order does not matter;
    without superuser rights everything is truncated as before."""
    if not conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar():
        # The owner may switch its own triggers off (the audit log refuses TRUNCATE), in this transaction only.
        for t in tables:
            conn.execute(text(f'ALTER TABLE "{t}" DISABLE TRIGGER USER'))
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        for t in tables:
            conn.execute(text(f'ALTER TABLE "{t}" ENABLE TRIGGER USER'))
        return
    filled = {row[0] for row in conn.execute(text(_filled_tables_probe(tables)))}
    conn.execute(text("SET LOCAL session_replication_role = replica"))
    for t in tables:
        if t in filled:
            conn.execute(text(f'DELETE FROM "{t}"'))
    advanced = conn.execute(text("SELECT schemaname, sequencename FROM pg_sequences WHERE last_value IS NOT NULL"))
    for schema, sequence in advanced.all():
        conn.execute(text(f'ALTER SEQUENCE "{schema}"."{sequence}" RESTART'))


#: What the app keeps per process between requests; emptied between tests, whose ids start again from 1.
PROCESS_CACHES = (
    "reports_cache",
    "exam_attempt_facts",
    "exam_versions",
    "exam_version_keys",
    "auth_identities",
    "exam_totals",
)


@pytest.fixture(scope="session")
def _shared_app(_migrated, database_url, tmp_path_factory):
    """One app for the run: building one costs about 90 ms (Werkzeug compiles every URL rule), a minute and a half
    over the suite. Each test gets it back as new: its configuration as built, an instance folder of its own, empty
    process caches and rate-limit counts, and empty tables."""
    app = _make_app(database_url, tmp_path_factory.mktemp("instance"))
    yield app, copy.deepcopy(dict(app.config))
    from core.extensions import db

    with app.app_context():
        db.engine.dispose()  # its pooled connections, closed before the run ends (and the database is dropped)


@pytest.fixture
def app(request, _shared_app, database_url, tmp_path):
    from core.extensions import db, limiter

    if request.node.get_closest_marker("fresh_app"):  # the test changes the app itself (adds routes)
        app = _make_app(database_url, tmp_path / "instance")
    else:
        app, config = _shared_app
        app.config.clear()
        app.config.update(copy.deepcopy(config))
        app.instance_path = str(tmp_path / "instance")
        for name in PROCESS_CACHES:
            app.extensions.pop(name, None)
    with app.app_context():
        limiter.reset()
        yield app
        db.session.remove()
        _empty_all_tables(db)
        if app is not _shared_app[0]:
            db.engine.dispose()


# ---------------------------------------------------------------- the demo district, loaded once a run

#: A snapshot is reused for a `now` up to this much later than its own (and on the same local day): the demo's
#: exams open an hour before its `now` and close 30 days after it, so minutes later it reads the same.
DEMO_SNAPSHOT_MAX_AGE = timedelta(minutes=20)


@dataclass
class _DemoSnapshot:
    """Every table's rows right after a real `district.load(now)`, in `metadata.sorted_tables` order."""

    now: datetime
    accounts: list
    tables: list = field(default_factory=list)  # [(Table, [row dict, ...]), ...], only the filled ones


_DEMO_SNAPSHOT: dict = {}  # dialect name -> _DemoSnapshot (one database per run, one dialect)
DEMO_LOAD_STATS = {"real": 0, "restored": 0, "real_seconds": 0.0, "restored_seconds": 0.0}


def _database_is_empty(conn, metadata) -> bool:
    probe = " UNION ALL ".join(f'SELECT 1 WHERE EXISTS (SELECT 1 FROM "{t.name}")' for t in metadata.sorted_tables)
    return conn.execute(text(probe)).first() is None


def _take_demo_snapshot(conn, metadata, now, accounts) -> _DemoSnapshot:
    snapshot = _DemoSnapshot(now=now, accounts=list(accounts))
    for table in metadata.sorted_tables:
        result = conn.execute(select(table).order_by(*table.primary_key.columns))
        rows = [{c.key: row._mapping[c] for c in table.c} for row in result]
        if rows:
            snapshot.tables.append((table, rows))
    return snapshot


def _restore_demo_snapshot(conn, snapshot: _DemoSnapshot) -> None:
    """Insert the snapshot's rows as they were (ids, hashes and timestamps included: the audit chain stays intact),
    with the guard triggers (which refuse, say, answers inserted into a submitted attempt) and the foreign keys
    out of the way while the rows go in; on PostgreSQL the sequences are then set past the copied ids."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        for table, rows in snapshot.tables:
            conn.execute(table.insert(), rows)
        conn.execute(text("SET LOCAL session_replication_role = origin"))
        serials = [
            (f'"{table.name}"', column.name, max(row[column.key] for row in rows))
            for table, rows in snapshot.tables
            for column in table.primary_key.columns
            if isinstance(rows[0][column.key], int)
        ]
        setvals = ", ".join(f"setval(pg_get_serial_sequence(:t{i}, :c{i}), :v{i})" for i in range(len(serials)))
        params = {f"{k}{i}": value for i, serial in enumerate(serials) for k, value in zip("tcv", serial, strict=True)}
        conn.execute(text(f"SELECT {setvals}"), params)  # NULL (and nothing set) for a key without a sequence
        return
    # SQLite: foreign keys checked at the commit (the rows are consistent by then); triggers cannot be switched off,
    # so they are dropped and made again from their own SQL, in this transaction (as _empty_all_tables does). pysqlite
    # opens the transaction only at a write: a write of nothing opens it first (the pragma holds only inside one,
    # and the DDL must not be committed on its own).
    conn.execute(text(f'UPDATE "{snapshot.tables[0][0].name}" SET rowid = rowid WHERE 0 = 1'))
    conn.execute(text("PRAGMA defer_foreign_keys = ON"))
    triggers = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
    for name, _sql in triggers:
        conn.execute(text(f'DROP TRIGGER "{name}"'))
    for table, rows in snapshot.tables:
        conn.execute(table.insert(), rows)
    for _name, sql in triggers:
        conn.execute(text(sql))


def _can_restore_demo(conn) -> bool:
    if conn.dialect.name != "postgresql":
        return True
    return bool(conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar())


def _demo_load(real_load, forced: bool):
    """`demo.district.load` under tests: the first call of the run loads the district for real and keeps a snapshot
    of every table; later calls into an empty database, for a `now` a few minutes later (same local day), get the
    snapshot's rows back (about 15 s saved a load on PostgreSQL). Tests marked `real_demo`, a `now` out of the
    snapshot's range or a database that is not empty get the real load (which then refreshes the snapshot)."""

    def load(now):
        from core.extensions import db
        from core.models import local_today

        db.session.flush()
        conn = db.session.connection()
        dialect = conn.dialect.name
        snapshot = _DEMO_SNAPSHOT.get(dialect)
        empty = _database_is_empty(conn, db.metadata)
        if (
            snapshot is not None
            and not forced
            and empty
            and snapshot.now <= now <= snapshot.now + DEMO_SNAPSHOT_MAX_AGE
            and local_today(now) == local_today(snapshot.now)
            and _can_restore_demo(conn)
        ):
            started = time.perf_counter()
            _restore_demo_snapshot(conn, snapshot)
            DEMO_LOAD_STATS["restored"] += 1
            DEMO_LOAD_STATS["restored_seconds"] += time.perf_counter() - started
            return list(snapshot.accounts)
        started = time.perf_counter()
        accounts = real_load(now)
        db.session.flush()
        DEMO_LOAD_STATS["real"] += 1
        DEMO_LOAD_STATS["real_seconds"] += time.perf_counter() - started
        if empty:
            _DEMO_SNAPSHOT[dialect] = _take_demo_snapshot(db.session.connection(), db.metadata, now, accounts)
        return accounts

    return load


@pytest.fixture(autouse=True)
def _demo_snapshot(request, monkeypatch):
    """Every way a test loads the demo district (`flask demo load`, `district.load(now)`, `demo_district`) goes
    through the run's snapshot; a test marked `real_demo` loads it for real."""
    from demo import district

    forced = request.node.get_closest_marker("real_demo") is not None
    monkeypatch.setattr(district, "load", _demo_load(district.load, forced))


@pytest.fixture
def demo_district(app, db):
    """The demo district, committed (a copy of the run's snapshot when there is one); returns its role accounts
    as (username, password, roles)."""
    from core.models import now_utc
    from demo import district

    accounts = district.load(now_utc())
    db.session.commit()
    return accounts


@pytest.fixture
def old_database(database_url, tmp_path):
    """A database of its own, for migrating up and down (not the suite's)."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    url, drop = _postgres_database(os.environ["TEST_DATABASE_URL"])
    yield url
    drop()


@pytest.fixture
def db(app):
    from core.extensions import db

    return db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class AuthActions:
    def __init__(self, client, app):
        self.client = client
        self.app = app

    def login(self, username, password=None):
        from tests.factories import PASSWORD

        return self.client.post_form("/login", {"username": username, "password": password or PASSWORD})

    def login_as(self, role, **kwargs):
        """Create a user holding `role` (see factories.make_user_with_role) and log in; returns the user."""
        from core.extensions import db
        from tests.factories import make_user_with_role

        user = make_user_with_role(role, **kwargs)
        db.session.commit()
        response = self.login(user.username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    def logout(self):
        return self.client.post_form("/logout")


@pytest.fixture
def auth(client, app):
    return AuthActions(client, app)


def pytest_sessionfinish(session, exitstatus):
    """In CI (TEST_FORBID_SKIPS=1) a skipped test is a failure: a silently skipped database or browser run
    must not pass for a green one."""
    if not os.environ.get("TEST_FORBID_SKIPS"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and session.exitstatus == 0:
        reporter.write_line(f"TEST_FORBID_SKIPS: {skipped} test(s) were skipped; failing the run.", red=True)
        session.exitstatus = 1


#: The instant the tests' fixed dates are written around (tests/exam/test_engine.T0: 2026-12-05 09:00 in Beijing).
FIXED_DATES_CLOCK = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock_before_t0():
    """For a test whose exams have fixed dates (T0) and whose code reads the wall clock (a page drawing papers for
    an exam still ahead, a roster frozen once the exam has closed): the clock is put back to the day before T0,
    and runs on from there, so that the test means on any day what it meant when written."""
    import time_machine

    with time_machine.travel(FIXED_DATES_CLOCK, tick=True):
        yield


@pytest.fixture
def queued_jobs(app):
    """The job engine as a queue in memory: jobs wait until the test runs them (jobs.engine.run_pending). Without
    it, jobs run right after the commit that asked for them (TestConfig.JOBS_URL = "immediate")."""
    from jobs import engine

    app.config["JOBS_URL"] = "memory"
    engine.build(app)
    yield engine.engine()
    app.config["JOBS_URL"] = "immediate"
    engine.build(app)


def pytest_terminal_summary(terminalreporter):
    if DEMO_LOAD_STATS["real"] or DEMO_LOAD_STATS["restored"]:
        s = DEMO_LOAD_STATS
        terminalreporter.write_line(
            f"demo district: {s['real']} real load(s) in {s['real_seconds']:.1f} s, "
            f"{s['restored']} copied back from the snapshot in {s['restored_seconds']:.1f} s"
        )
