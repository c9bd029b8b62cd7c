"""The audit log's hash chain: events linked as they are written, by concurrent writers too; `flask audit verify`
names the first broken link after rows are deleted, edited, forged or reordered behind the app's back (triggers
off, as a database superuser can); `flask audit head` and anchors; the migration chains existing events."""

import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text

from core import audit, audit_chain
from core.models import now_utc
from tests.factories import make_user


def _write(db, n, start=0):
    user = make_user()
    db.session.flush()
    for i in range(start, start + n):
        audit.record(f"test.event{i % 3}", actor=user, target=f"user:{user.id}", detail={"n": i, "名": "张三"})
    db.session.commit()


def _rows(db):
    db.session.expire_all()
    return db.session.scalars(select(audit.AuditEvent).order_by(audit.AuditEvent.seq)).all()


@contextmanager
def _superuser(db):
    """A connection on which the guard triggers do not fire: what a database superuser (or the owner, who can
    drop a trigger) has. PostgreSQL: session_replication_role; SQLite: the triggers dropped and made again."""
    db.session.commit()
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            if conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar():
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            else:  # the table's owner
                conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            yield conn
            conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
            return
        sql = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'"
        triggers = conn.execute(text(sql)).all()
        assert len(triggers) == 2  # UPDATE and DELETE refused
        for name, _sql in triggers:
            conn.execute(text(f'DROP TRIGGER "{name}"'))
        try:
            yield conn
        finally:
            for _name, sql in triggers:
                conn.execute(text(sql))
    db.session.expire_all()


def _verify(runner, *args):
    return runner.invoke(args=["audit", "verify", "--no-record", *args])


def test_events_are_linked_in_order_and_verify(app, db, runner):
    _write(db, 5)
    rows = _rows(db)
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == audit_chain.GENESIS
    for before, after in zip(rows, rows[1:], strict=False):
        assert after.prev_hash == before.hash and after.chained_at >= before.chained_at
    assert all(r.hash == audit_chain.event_hash(r) for r in rows)
    assert rows[0].detail == {"n": 0, "名": "张三"}
    result = _verify(runner)
    assert result.exit_code == 0, result.output
    assert "Intact: 5 events" in result.output and rows[-1].hash in result.output


def test_the_app_cannot_write_its_own_chain_fields(app, db):
    """Whatever a caller puts in seq or hash, the flush overwrites it: the app cannot forge a link."""
    _write(db, 2)
    forged = audit.AuditEvent(action="test.forged", seq=1, prev_hash="f" * 64, hash="e" * 64, at=now_utc())
    db.session.add(forged)
    db.session.commit()
    assert forged.seq == 3 and forged.prev_hash == _rows(db)[1].hash and forged.hash == audit_chain.event_hash(forged)


def test_head_prints_the_hash_time_and_count(app, db, runner):
    assert "empty" in runner.invoke(args=["audit", "head"]).output
    _write(db, 3)
    head = _rows(db)[-1]
    out = runner.invoke(args=["audit", "head"]).output
    assert f"head {head.hash}" in out and f"event id {head.id}, position 3" in out and "3 events" in out
    assert head.chained_at.strftime("%Y-%m-%dT%H:%M:%S") in out


def test_verify_records_its_result_in_the_log(app, db, runner):
    _write(db, 3)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    last = _rows(db)[-1]
    assert last.action == "audit.verified" and last.seq == 4
    assert last.detail == {"events": 3, "head": 3, "intact": True}


def _break_line(result):
    assert result.exit_code == 1, result.output
    return result.output


def test_a_deleted_event_is_a_gap_named_at_the_event_after_it(app, db, runner):
    _write(db, 5)
    third, fourth = _rows(db)[2:4]
    with _superuser(db) as conn:
        conn.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": third.id})
    out = _break_line(_verify(runner))
    assert f"BROKEN at event id {fourth.id} (position 4)" in out and "missing" in out and "expected position 3" in out


def test_an_edited_event_is_named_by_its_hash(app, db, runner):
    _write(db, 5)
    second = _rows(db)[1]
    with _superuser(db) as conn:
        conn.execute(text("UPDATE audit_events SET target = 'user:999' WHERE id = :id"), {"id": second.id})
    out = _break_line(_verify(runner))
    assert f"BROKEN at event id {second.id} (position 2)" in out and "does not match its content" in out


def test_an_edited_event_with_its_hash_recomputed_breaks_the_next_link(app, db, runner):
    _write(db, 5)
    second, third = _rows(db)[1:3]
    fake = SimpleNamespace(**{c: getattr(second, c) for c in ("seq", "prev_hash", "at", "chained_at", "actor_id")})
    fake.__dict__.update(action="password.reset", target=second.target, ip=second.ip, detail=second.detail)
    with _superuser(db) as conn:
        conn.execute(
            text("UPDATE audit_events SET action = 'password.reset', hash = :h WHERE id = :id"),
            {"h": audit_chain.event_hash(fake), "id": second.id},
        )
    out = _break_line(_verify(runner))
    assert f"BROKEN at event id {third.id} (position 3)" in out and "previous-hash does not match" in out


def _insert(conn, **values):
    columns = ", ".join(values)
    conn.execute(text(f"INSERT INTO audit_events ({columns}) VALUES ({', '.join(':' + c for c in values)})"), values)


def _stored_time(db, value):
    return value.replace(tzinfo=None) if db.engine.dialect.name == "sqlite" else value


def test_a_back_dated_forged_row_is_caught(app, db, runner):
    """A row slipped in with an old date: with a made-up hash it fails its hash; with a correct hash and a
    back-dated chaining time it is out of order; with the chain's real order it is caught only by an anchor."""
    _write(db, 4)
    head = _rows(db)[-1]
    old = now_utc() - timedelta(days=30)
    forged = dict(
        id=900, seq=5, prev_hash=head.hash, at=old, chained_at=old, actor_id=None, action="exam.key_corrected",
        target="exam:QE1", ip="10.0.0.1", detail=None,
    )  # fmt: skip
    with _superuser(db) as conn:
        _insert(conn, **{**forged, "at": _stored_time(db, old), "chained_at": _stored_time(db, old), "hash": "a" * 64})
    out = _break_line(_verify(runner))
    assert "BROKEN at event id 900 (position 5)" in out and "does not match its content" in out

    with _superuser(db) as conn:
        conn.execute(text("DELETE FROM audit_events WHERE id = 900"))
        good_hash = audit_chain.event_hash(SimpleNamespace(**forged))
        _insert(conn, **{**forged, "at": _stored_time(db, old), "chained_at": _stored_time(db, old), "hash": good_hash})
    out = _break_line(_verify(runner))
    assert "BROKEN at event id 900 (position 5)" in out and "out of order" in out


def test_reordered_events_are_caught_at_the_first_position_moved(app, db, runner):
    _write(db, 5)
    second, third = _rows(db)[1:3]
    with _superuser(db) as conn:  # the two rows swap places (through a free position: seq is unique)
        conn.execute(text("UPDATE audit_events SET seq = 100 WHERE id = :id"), {"id": second.id})
        conn.execute(text("UPDATE audit_events SET seq = 2 WHERE id = :id"), {"id": third.id})
        conn.execute(text("UPDATE audit_events SET seq = 3 WHERE id = :id"), {"id": second.id})
    out = _break_line(_verify(runner))
    assert f"BROKEN at event id {third.id} (position 2)" in out


def test_an_anchor_catches_a_truncated_tail_and_a_rewritten_chain(app, db, runner):
    """Removing the newest events leaves a chain that is whole in itself: only a head kept outside finds it."""
    _write(db, 5)
    anchor = _rows(db)[-1].hash
    assert _verify(runner, "--anchor", anchor).exit_code == 0
    with _superuser(db) as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq >= 4"))
    assert _verify(runner).exit_code == 0  # the chain alone cannot tell
    result = _verify(runner, "--anchor", anchor)
    assert result.exit_code == 1 and f"ANCHOR NOT FOUND: {anchor}" in result.output


def test_the_database_refuses_delete_and_truncate(app, db):
    """Both databases refuse DELETE (SQLite's used to allow it); PostgreSQL refuses TRUNCATE too."""
    from sqlalchemy.exc import DatabaseError

    _write(db, 3)
    statements = ["DELETE FROM audit_events", "DELETE FROM audit_events WHERE seq = 3"]
    if db.engine.dialect.name == "postgresql":
        statements += ["TRUNCATE audit_events", "TRUNCATE audit_events CASCADE"]
    for statement in statements:
        with pytest.raises(DatabaseError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
    assert len(_rows(db)) == 3


def test_a_person_in_the_log_cannot_be_deleted(app, db):
    """The consequence, on both databases: the foreign key's SET NULL would rewrite the events, and is refused."""
    from sqlalchemy.exc import DatabaseError

    _write(db, 1)
    with pytest.raises(DatabaseError, match="append-only"):
        db.session.execute(text("DELETE FROM users"))
    db.session.rollback()


def _concurrent_writers(app, threads, transactions, per_transaction):
    """`threads` connections at once, each writing `transactions` transactions of `per_transaction` events (with
    a pause between two events of one transaction, so that the transactions overlap)."""
    from core.extensions import db

    barrier, errors = threading.Barrier(threads), []

    def work(k):
        try:
            with app.app_context():
                barrier.wait()
                for t in range(transactions):
                    for i in range(per_transaction):
                        audit.record("test.concurrent", target=f"w{k}", detail={"t": t, "i": i})
                        db.session.flush()
                        time.sleep(0.002)
                    db.session.commit()
                db.session.remove()
        except Exception as exc:  # reported below, with the thread's number
            errors.append((k, repr(exc)))

    workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    return errors


def test_concurrent_writers_make_one_valid_chain(app, db, runner):
    _write(db, 2)  # a head to build on
    threads = 4 if db.engine.dialect.name == "postgresql" else 3  # the pool: 4 connections
    errors = _concurrent_writers(app, threads, transactions=6, per_transaction=3)
    assert errors == []
    rows = _rows(db)
    assert len(rows) == 2 + threads * 6 * 3 and [r.seq for r in rows] == list(range(1, len(rows) + 1))
    result = _verify(runner)
    assert result.exit_code == 0, result.output


def test_verification_streams_and_checks_a_window(app, db):
    _write(db, 12)
    rows = _rows(db)
    whole = audit_chain.verify(db.session, batch=5)
    assert whole.intact and whole.checked == 12 and whole.last_hash == rows[-1].hash
    window = audit_chain.verify(db.session, start=9)
    assert window.intact and window.checked == 5  # the baseline (8) and 9 to 12
    with _superuser(db) as conn:
        conn.execute(text("UPDATE audit_events SET ip = '1.2.3.4' WHERE seq IN (3, 10)"))
    assert [b.seq for b in audit_chain.verify(db.session).breaks] == [3, 10]
    assert [b.seq for b in audit_chain.verify(db.session, start=9).breaks] == [10]


# The migration: events written before the chain existed get their links in id order.


def test_the_migration_chains_the_events_already_there(old_database, tmp_path):
    from flask_migrate import downgrade, upgrade

    from core.extensions import db
    from tests.conftest import ROOT, _make_app

    migrations = str(ROOT / "migrations")
    app = _make_app(old_database, tmp_path / "instance")
    user = "INSERT INTO users (id, username, name, password_hash, active, must_change_password, created_at) "
    user += "VALUES (7, 'alice', '李主任', 'x', true, false, :at)"
    event = "INSERT INTO audit_events (id, at, actor_id, action, target, ip, detail) "
    event += "VALUES (:id, :at, :actor, 'role.granted', 'user:7', '10.0.0.1', :detail)"
    old_events = [  # out of time order, as the demo's are
        ("2026-11-02 08:00:00", 7, '{"role": "grader", "unit": null}'),
        ("2026-11-01 09:30:00.250000", None, None),
        ("2026-11-03 10:00:00", 7, '{"名单": ["张三", 1.5]}'),
    ]
    with app.app_context():
        upgrade(directory=migrations, revision="5a0d1e7c3b21")
        zone = "+00:00" if db.engine.dialect.name == "postgresql" else ""
        with db.engine.begin() as conn:
            conn.execute(text(user), {"at": "2026-11-01 00:00:00" + zone})
            for i, (at, actor, detail) in enumerate(old_events, start=1):
                conn.execute(text(event), {"id": i * 10, "at": at + zone, "actor": actor, "detail": detail})
        upgrade(directory=migrations, revision="c3a9e2d41f07")
        db.engine.dispose()  # the columns changed under the pooled connections
        rows = db.session.execute(select(audit.AuditEvent.id, audit.AuditEvent.seq)).all()
        assert sorted(rows) == [(10, 1), (20, 2), (30, 3)]
        result = audit_chain.verify(db.session)
        assert result.intact and result.checked == 3
        audit.record("test.after", at=now_utc())
        db.session.commit()
        assert audit_chain.verify(db.session).intact
        db.session.remove()  # the migration's connection would wait for this one's transaction
        downgrade(directory=migrations, revision="5a0d1e7c3b21")
        upgrade(directory=migrations, revision="c3a9e2d41f07")
        assert audit_chain.verify(db.session).intact
        db.session.remove()
        db.engine.dispose()
