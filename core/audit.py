"""The audit log: who did what security-relevant thing, when, and from where."""

import logging
from datetime import datetime

from flask import has_request_context, request
from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

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
