"""Base column types and mixins shared by every domain's models."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import CheckConstraint, DateTime
from sqlalchemy.types import TypeDecorator


def now_utc() -> datetime:
    return datetime.now(UTC)


#: The district's calendar: ages, "under 35 on the exam day" and dates typed by people are Beijing dates.
LOCAL_ZONE = ZoneInfo("Asia/Shanghai")
#: The largest value an Integer column holds (PostgreSQL's int4): ids, positions, sequence numbers.
MAX_INT = 2**31 - 1


def local_today(now: datetime | None = None) -> date:
    """Today's date in Asia/Shanghai (the server itself may run on UTC)."""
    return (now or now_utc()).astimezone(LOCAL_ZONE).date()


class UTCDateTime(TypeDecorator):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite (no tz support) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column; pass an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def init_transactions(app) -> None:
    """One transaction per request: commit when the response is a success, roll back otherwise.

    Services flush and never commit, so a refused or failed request leaves nothing half-written. The commit
    happens before the response is sent: a client is never told "saved" about a write that did not commit.
    """
    from core.errors import database_unavailable, is_database_unavailable
    from core.extensions import db

    @app.after_request
    def _commit_or_rollback(response):
        if response.status_code >= 400:
            try:
                db.session.rollback()
            except Exception as exc:  # a broken connection: the response already says what went wrong
                if not is_database_unavailable(exc):
                    raise
                db.session.invalidate()
            return response
        try:
            db.session.commit()
        except Exception as exc:
            if not is_database_unavailable(exc):
                db.session.rollback()  # so that the error page can still read the user and their language
                raise
            return database_unavailable(exc)  # not committed: the client is told so, and sends it again
        return response


def tree_order(nodes, sort_key) -> list:
    """Nodes with `id` and `parent_id` in depth-first order, siblings by `sort_key` (units, categories)."""
    by_parent: dict = {}
    for node in nodes:
        by_parent.setdefault(node.parent_id, []).append(node)
    ordered: list = []

    def walk(parent_id):
        for node in sorted(by_parent.get(parent_id, []), key=sort_key):
            ordered.append(node)
            walk(node.id)

    walk(None)
    return ordered


def enum_check(column: str, values, name: str) -> CheckConstraint:
    """A check constraint: `column` holds one of `values` (an enum or any iterable of strings)."""
    allowed = ", ".join("'" + str(v) + "'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name)
