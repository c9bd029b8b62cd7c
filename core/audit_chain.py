"""The audit log's hash chain: new events linked as they are flushed, the chain verified, its head printed.

Each event stores its position `seq` (1, 2, 3 … without gaps), the previous event's hash and a SHA-256 over its own
content, position and that previous hash. How writers are serialised, and what the chain proves and does not:
docs/audit-chain.md.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import click
from flask.cli import with_appcontext
from sqlalchemy import func, inspect, select, text

from core.audit import AuditEvent, record
from core.extensions import db
from core.models import now_utc

#: The previous hash of the first event.
GENESIS = "0" * 64
#: The canonical form's version, hashed with every event: a future form can never be taken for this one.
FORM = 1
#: PostgreSQL's transaction-level advisory lock that serialises the chain's writers ("QEAUDIT").
LOCK_KEY = 0x51454155444954
#: What the page verifies on every view: the newest events (the whole chain is `flask audit verify`'s work).
LIVE_WINDOW = 200

#: What `verify` finds wrong, in the words of the CLI (the page has its own, translated).
PROBLEMS = {
    "gap": "events are missing before it (gap)",
    "previous": "its previous-hash does not match the hash of the event before it",
    "hash": "its hash does not match its content (altered)",
    "order": "it is out of order (chained earlier than the event before it)",
}

_COLUMNS = (
    AuditEvent.id,
    AuditEvent.seq,
    AuditEvent.at,
    AuditEvent.chained_at,
    AuditEvent.actor_id,
    AuditEvent.action,
    AuditEvent.target,
    AuditEvent.ip,
    AuditEvent.detail,
    AuditEvent.prev_hash,
    AuditEvent.hash,
)


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(e) -> bytes:
    """The bytes an event's hash is taken over: every field but the id (a surrogate) and the hash itself, as JSON
    with sorted keys, no spaces and UTF-8 text. `e` is an AuditEvent or a row with the same names."""
    payload = {
        "form": FORM,
        "seq": e.seq,
        "prev": e.prev_hash,
        "at": _instant(e.at),
        "chained_at": _instant(e.chained_at),
        "actor": e.actor_id,
        "action": e.action,
        "target": e.target,
        "ip": e.ip,
        "detail": e.detail,
    }
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def event_hash(e) -> str:
    return hashlib.sha256(canonical(e)).hexdigest()


def _as_stored(detail):
    """The detail as the JSON column gives it back (string keys, lists for tuples): what is hashed is what is read."""
    return None if detail is None else json.loads(json.dumps(detail, allow_nan=False))


def link(session, events: Iterable[AuditEvent]) -> None:
    """Give the session's new events their places at the chain's head (called by the flush that inserts them).

    The head is read under a lock held until the transaction ends, so concurrent writers append one after the
    other and never fork the chain: on PostgreSQL an advisory lock, taken at this flush (as late as the events
    allow); on SQLite the database's write lock, taken by a statement that writes nothing before the head is
    read. The unique `seq` refuses a fork even if that ever failed.
    """
    events = sorted(events, key=lambda e: inspect(e).insert_order)
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        clock = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    else:
        conn.execute(text("UPDATE audit_events SET seq = seq WHERE 0 = 1"))
        clock = now_utc()
    head = conn.execute(
        select(AuditEvent.seq, AuditEvent.hash, AuditEvent.chained_at).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
    chained_at = max(clock, head.chained_at) if head else clock  # a clock stepped back never reorders the chain
    for e in events:
        e.at = e.at or now_utc()
        e.detail = _as_stored(e.detail)
        seq += 1
        e.seq, e.prev_hash, e.chained_at = seq, prev, chained_at
        e.hash = prev = event_hash(e)


@dataclass(frozen=True)
class Head:
    id: int
    seq: int
    hash: str
    at: datetime
    chained_at: datetime
    count: int


def head(session) -> Head | None:
    """The newest event of the chain and how many events the log holds."""
    row = session.execute(
        select(AuditEvent.id, AuditEvent.seq, AuditEvent.hash, AuditEvent.at, AuditEvent.chained_at)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return Head(row.id, row.seq, row.hash, row.at, row.chained_at, session.scalar(select(func.count(AuditEvent.id))))


@dataclass(frozen=True)
class Break:
    """A broken link: the event at which the chain stops being provably intact, and why."""

    event_id: int
    seq: int
    at: datetime
    problem: str  # a key of PROBLEMS
    #: gap: the first missing position; previous: the seq of the event before it.
    expected: int | None = None

    def describe(self) -> str:
        extra = f" (expected position {self.expected})" if self.problem == "gap" else ""
        return f"event id {self.id_text} at {_instant(self.at)}: {PROBLEMS[self.problem]}{extra}"

    @property
    def id_text(self) -> str:
        return f"{self.event_id} (position {self.seq})"


@dataclass
class Verification:
    start: int = 1
    checked: int = 0
    #: The last event checked: seq and hash.
    last_seq: int = 0
    last_hash: str | None = None
    breaks: list[Break] = field(default_factory=list)
    anchors_missing: list[str] = field(default_factory=list)

    @property
    def first_break(self) -> Break | None:
        return self.breaks[0] if self.breaks else None

    @property
    def intact(self) -> bool:
        return not self.breaks and not self.anchors_missing

    @property
    def intact_to(self) -> int:
        """The last position up to which the chain is intact (from `start`)."""
        return self.breaks[0].seq - 1 if self.breaks else self.last_seq


def verify(session, *, start: int = 1, anchors: Iterable[str] = (), batch: int = 5000) -> Verification:
    """Walk the chain in order from position `start` (streamed, `batch` rows at a time) and report every broken
    link and every anchor (a head hash kept outside the system) that is no longer in it.

    From `start` > 1, the event before it is the baseline: its own hash is checked, its link backwards is not.
    After a break the walk goes on from the broken event, so one removed event is one break, not all that follow.
    """
    result = Verification(start=start)
    wanted = {a.strip().lower() for a in anchors if a.strip()}
    query = select(*_COLUMNS).order_by(AuditEvent.seq)
    expected, prev_hash, prev_chained = 1, GENESIS, None
    baseline = start > 1
    if baseline:
        query = query.where(AuditEvent.seq >= start - 1)
    for row in session.connection().execute(query.execution_options(yield_per=batch)):
        # The first thing wrong is named: its place, then its content, then its link, then its time.
        problem = None
        if baseline:
            if row.seq != start - 1:
                problem, expected = "gap", start - 1
        elif row.seq != expected:
            problem = "gap" if row.seq > expected else "order"
        if problem is None and event_hash(row) != row.hash:
            problem = "hash"
        if problem is None and not baseline:
            if row.prev_hash != prev_hash:
                problem = "previous"
            elif prev_chained is not None and row.chained_at < prev_chained:
                problem = "order"
        baseline = False
        if problem:
            result.breaks.append(Break(row.id, row.seq, row.at, problem, expected if problem == "gap" else None))
        wanted.discard(row.hash)
        result.checked += 1
        expected, prev_hash, prev_chained = row.seq + 1, row.hash, row.chained_at
        result.last_seq, result.last_hash = row.seq, row.hash
    result.anchors_missing = sorted(wanted)
    return result


@dataclass(frozen=True)
class ChainState:
    """What the audit page shows: the head, the newest events verified now, the last full verification."""

    head: Head | None
    live: Verification | None
    last_full: AuditEvent | None


def state(session, window: int = LIVE_WINDOW) -> ChainState:
    """Cheap enough for every view of the page: a few indexed queries and at most `window` + 1 hashes."""
    top = head(session)
    if top is None:
        return ChainState(None, None, None)
    live = verify(session, start=max(1, top.seq - window + 1))
    last_full = session.scalar(
        select(AuditEvent).where(AuditEvent.action == "audit.verified").order_by(AuditEvent.seq.desc()).limit(1)
    )
    return ChainState(top, live, last_full)


@click.group("audit", help="Check the audit log's hash chain.")
def audit_cli():
    pass


@audit_cli.command("head")
@with_appcontext
def head_command():
    """Print the chain's head: keep a copy outside the system (print it, mail it) to anchor the log."""
    top = head(db.session)
    if top is None:
        click.echo("The audit log is empty.")
        return
    click.echo(f"head {top.hash}")
    click.echo(f"event id {top.id}, position {top.seq}, chained at {_instant(top.chained_at)}, {top.count} events")


@audit_cli.command("verify")
@click.option(
    "--anchor", "anchors", multiple=True, metavar="HASH", help="A head printed earlier: it must still be in the chain."
)
@click.option(
    "--record/--no-record",
    "record_result",
    default=True,
    show_default=True,
    help="Add the result to the log (the audit page shows it).",
)
@with_appcontext
def verify_command(anchors, record_result):
    """Walk the whole chain; name the first broken link. Exit status 1 on any break or missing anchor."""
    result = verify(db.session, anchors=anchors)
    db.session.rollback()  # the walk's read transaction ends before anything is written
    if result.checked == 0:
        click.echo("The audit log is empty.")
    elif result.breaks:
        first = result.first_break
        click.echo(f"BROKEN at {first.describe()}.", err=True)
        if len(result.breaks) > 1:
            click.echo(f"{len(result.breaks)} broken links in all; intact up to position {first.seq - 1}.", err=True)
    else:
        click.echo(f"Intact: {result.checked} events, head position {result.last_seq}, head {result.last_hash}.")
    for anchor in result.anchors_missing:
        click.echo(f"ANCHOR NOT FOUND: {anchor} is not in the chain (a rewritten or truncated log).", err=True)
    if record_result and result.checked:
        first = result.first_break
        detail = {"events": result.checked, "head": result.last_seq, "intact": result.intact}
        if first:
            detail.update(broken_at=first.seq, event=first.event_id, problem=first.problem)
        if anchors:
            detail.update(anchors=len(anchors), anchors_missing=len(result.anchors_missing))
        record("audit.verified", target=f"seq:{result.last_seq}", detail=detail, at=now_utc())
        db.session.commit()
    if not result.intact:
        raise SystemExit(1)
