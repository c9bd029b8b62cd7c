"""The audit log: who did what security-relevant thing, when, and from where.

The log is append-only. The app offers no way to change or remove an event: the ORM refuses to flush a changed or
deleted `AuditEvent` (`_refuse_changes`), and the database refuses an UPDATE or DELETE (and, on PostgreSQL, a
TRUNCATE) of `audit_events` by a trigger (migrations 0011 and 0012), so neither a bug nor a hand-written statement
of the app's rewrites history. What the database's owner can still do (switch the triggers off) the hash chain
reveals: every event is linked into it as it is flushed (`core.audit_chain`, docs/audit-chain.md).
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime

from flask import has_request_context, request
from sqlalchemy import JSON, ForeignKey, Index, String, event, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.extensions import db
from core.models import UTCDateTime, now_utc

log = logging.getLogger("qualexam.audit")


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_action_at", "action", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    #: The user who acted; null for anonymous events such as a failed login.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    #: A dotted verb, e.g. "login.failed", "cadre.import", "password.reset".
    action: Mapped[str] = mapped_column(String(64))
    #: What was acted on, e.g. "user:42" or the username typed at the login form.
    target: Mapped[str | None] = mapped_column(String(128))
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict | None] = mapped_column(JSON)
    #: The event's position in the hash chain: 1, 2, 3 … without gaps (ids may have gaps, positions may not).
    seq: Mapped[int] = mapped_column(unique=True)
    #: When the event joined the chain (the database's clock, under the chain's lock): never earlier than the
    #: previous event's. `at` is the time the service gave, which concurrent requests may give out of order.
    chained_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The previous event's `hash` (64 zeros for the first event).
    prev_hash: Mapped[str] = mapped_column(String(64))
    #: SHA-256 of this event's content, position and `prev_hash` (core.audit_chain.event_hash).
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditLogIsAppendOnly(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _refuse_changes(session, _context, _instances):
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditLogIsAppendOnly(f"audit event {obj.id} cannot be changed or removed")
    pending = [obj for obj in session.new if isinstance(obj, AuditEvent)]
    if pending:
        from core import audit_chain

        audit_chain.link(session, pending)


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_changes(state):
    """The same for bulk statements (`update(AuditEvent)`, `delete(AuditEvent)`), which never reach a flush."""
    if (state.is_update or state.is_delete) and any(m.class_ is AuditEvent for m in state.all_mappers):
        raise AuditLogIsAppendOnly("audit events cannot be changed or removed")


def record(action: str, *, actor=None, target: str | None = None, detail: dict | None = None, at=None) -> AuditEvent:
    """Add an audit event to the session (committed with the request) and write it to the log."""
    ip = request.remote_addr if has_request_context() else None
    event = AuditEvent(
        at=at or now_utc(),
        actor_id=getattr(actor, "id", None),
        action=action,
        target=target,
        ip=ip,
        detail=detail,
    )
    db.session.add(event)
    log.info("audit %s actor=%s target=%s ip=%s %s", action, event.actor_id, target, ip, detail or "")
    return event


@dataclass(frozen=True)
class AuditFilter:
    """What the audit page searches by (accounts.queries.audit_events); every field optional. `actor` matches a
    username or name (part of it), `action` an action or its dotted prefix ("exam" finds "exam.published"),
    `target` part of the target, `ip` an address or its start; the dates are local days, both included."""

    actor: str = ""
    action: str = ""
    target: str = ""
    ip: str = ""
    since: date | None = None
    until: date | None = None


def known_actions() -> list[str]:
    """Every action the log holds, for the page's choice of action."""
    return list(db.session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))
