"""tamper-evident audit chain: every event hashed with the previous event's hash; DELETE (and TRUNCATE) refused

Revision ID: c3a9e2d41f07
Revises: 5a0d1e7c3b21
Create Date: 2026-12-03 10:30:00

Existing events are chained in id order, all with the migration's time as their `chained_at` (the time they joined
the chain). The hash is computed by a frozen copy of core.audit_chain.canonical (form 1): a later form must not
change what this migration wrote.

The database now refuses DELETE on SQLite too (a BEFORE DELETE trigger), and TRUNCATE on PostgreSQL (a statement
trigger). As with 0011's UPDATE trigger, a user who appears in the log can no longer be deleted, on either database:
the foreign key's SET NULL is an update of the event, and is refused. Accounts are deactivated, never deleted, by
the app.
"""

import hashlib
import json
import warnings
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import SAWarning

revision = "c3a9e2d41f07"
down_revision = "5a0d1e7c3b21"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
# Rebuilding the table on SQLite reflects the tables it refers to; the expression index on users (lower(username))
# cannot be reflected there, and need not be.
IGNORED = "Skipped unsupported reflection of expression-based index"

_events = sa.table(
    "audit_events",
    sa.column("id", sa.Integer),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor_id", sa.Integer),
    sa.column("action", sa.String),
    sa.column("target", sa.String),
    sa.column("ip", sa.String),
    sa.column("detail", sa.JSON),
    sa.column("seq", sa.Integer),
    sa.column("chained_at", sa.DateTime(timezone=True)),
    sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
)

_SQLITE_NO_UPDATE = (
    "CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only (UPDATE refused)'); END"
)
_SQLITE_NO_DELETE = (
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only (DELETE refused)'); END"
)
_PG_NO_UPDATE_OR_DELETE = (
    "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
)
_PG_NO_TRUNCATE = (
    "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _hash(seq, prev_hash, row, chained_at) -> str:
    """Form 1 of the canonical serialisation (core.audit_chain.canonical), frozen."""
    payload = {
        "form": 1,
        "seq": seq,
        "prev": prev_hash,
        "at": _utc(row.at).isoformat(timespec="microseconds"),
        "chained_at": chained_at.isoformat(timespec="microseconds"),
        "actor": row.actor_id,
        "action": row.action,
        "target": row.target,
        "ip": row.ip,
        "detail": row.detail,
    }
    data = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(data.encode()).hexdigest()


def _backfill(bind) -> None:
    sqlite = bind.dialect.name == "sqlite"
    chained_at = datetime.now(UTC)
    stored_chained_at = chained_at.replace(tzinfo=None) if sqlite else chained_at
    rows = bind.execute(sa.select(_events).order_by(_events.c.id)).all()
    prev, updates = GENESIS, []
    for seq, row in enumerate(rows, start=1):
        digest = _hash(seq, prev, row, chained_at)
        updates.append({"key": row.id, "seq": seq, "chained_at": stored_chained_at, "prev_hash": prev, "hash": digest})
        prev = digest
    if updates:
        bind.execute(
            _events.update()
            .where(_events.c.id == sa.bindparam("key"))
            .values(
                seq=sa.bindparam("seq"),
                chained_at=sa.bindparam("chained_at"),
                prev_hash=sa.bindparam("prev_hash"),
                hash=sa.bindparam("hash"),
            ),
            updates,
        )


def upgrade():
    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    if postgresql:
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
    else:
        op.execute("DROP TRIGGER audit_events_append_only")
    with warnings.catch_warnings(), op.batch_alter_table("audit_events", schema=None) as batch_op:
        warnings.filterwarnings("ignore", IGNORED, SAWarning)
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("chained_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    _backfill(bind)
    with warnings.catch_warnings(), op.batch_alter_table("audit_events", schema=None) as batch_op:
        warnings.filterwarnings("ignore", IGNORED, SAWarning)
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("chained_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_events_seq"), ["seq"])
        batch_op.create_unique_constraint(batch_op.f("uq_audit_events_hash"), ["hash"])
    if postgresql:
        op.execute(_PG_NO_UPDATE_OR_DELETE)
        op.execute(_PG_NO_TRUNCATE)
    else:
        op.execute(_SQLITE_NO_UPDATE)
        op.execute(_SQLITE_NO_DELETE)


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
    else:
        op.execute("DROP TRIGGER audit_events_no_delete")
        op.execute("DROP TRIGGER audit_events_append_only")
    with warnings.catch_warnings(), op.batch_alter_table("audit_events", schema=None) as batch_op:
        warnings.filterwarnings("ignore", IGNORED, SAWarning)
        batch_op.drop_constraint(batch_op.f("uq_audit_events_hash"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_audit_events_seq"), type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("chained_at")
        batch_op.drop_column("seq")
    op.execute(_PG_NO_UPDATE_OR_DELETE if postgresql else _SQLITE_NO_UPDATE)
