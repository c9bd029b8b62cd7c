"""The machinery of the ORM guards that keep records unchanged except through documented paths.

A domain registers its rules here (`on_flush`, `on_statement`); one pair of session listeners runs them for every
flush and for every statement sent through a session (bulk `update()`/`delete()` and Core `insert()` never reach a
flush). A documented path that may change guarded values enters `allowing(path)` for its duration: the rules ask
`allowed(path)`. The database's own guards (triggers, in migrations) refuse with a message starting with
`REFUSAL_PREFIX`; `is_refusal` recognises them, so that no error page mistakes one for an outage (core/errors.py).
The audit log's own guards predate this module and stay in core/audit.py.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

#: How the database triggers' refusals begin (SQLite's RAISE(ABORT, …), PostgreSQL's RAISE EXCEPTION … USING
#: ERRCODE = 'insufficient_privilege'). Deliberately free of the words core.errors reads as "busy" or "locked".
REFUSAL_PREFIX = "immutable record:"
#: The SQLSTATE of the PostgreSQL refusals (insufficient_privilege, class 42: a 500, never a retryable 503).
REFUSAL_SQLSTATE = "42501"


class RecordIsImmutable(RuntimeError):
    """Code tried to change, through the ORM, a record that only a documented path may change: a bug (500)."""


_FlushRule = Callable[[Session], None]
_StatementRule = Callable[[object], None]
_flush_rules: list[_FlushRule] = []
_statement_rules: list[_StatementRule] = []
_paths: ContextVar[tuple[str, ...]] = ContextVar("qualexam_guard_paths", default=())


def on_flush(rule: _FlushRule) -> _FlushRule:
    """Register `rule(session)`, run before every flush; it raises RecordIsImmutable to refuse."""
    _flush_rules.append(rule)
    return rule


def on_statement(rule: _StatementRule) -> _StatementRule:
    """Register `rule(orm_execute_state)`, run for every INSERT, UPDATE and DELETE sent through a session."""
    _statement_rules.append(rule)
    return rule


@contextmanager
def allowing(path: str) -> Iterator[None]:
    """Mark the running code (this thread or task) as the documented path `path` until the block ends."""
    token = _paths.set((*_paths.get(), path))
    try:
        yield
    finally:
        _paths.reset(token)


def allowed(path: str) -> bool:
    return path in _paths.get()


def changed_columns(obj) -> set[str]:
    """The names of the column attributes of a persistent object whose value changed since it was loaded."""
    state = inspect(obj)
    return {attr.key for attr in state.mapper.column_attrs if state.attrs[attr.key].history.has_changes()}


def committed_value(obj, name: str):
    """An attribute's value as stored in the database (before this session changed it)."""
    state = inspect(obj)
    history = state.attrs[name].history
    if history.deleted:
        return history.deleted[0]
    if history.unchanged:
        return history.unchanged[0]
    if not history.has_changes() or state.key is None:
        return getattr(obj, name)
    # Changed before its old value was ever loaded (an expired attribute): the database has it.
    stmt = select(getattr(type(obj), name)).where(*(c == v for c, v in zip(state.mapper.primary_key, state.identity)))
    with state.session.no_autoflush:
        return state.session.execute(stmt).scalar()


def statement_table(state) -> str | None:
    """The name of the table an INSERT, UPDATE or DELETE sent through a session writes to (ORM or Core)."""
    return getattr(getattr(state.statement, "table", None), "name", None)


def statement_columns(state) -> set[str]:
    """The column names an UPDATE (or an INSERT's ON CONFLICT DO UPDATE) sets, from its values and parameters."""

    def name(key) -> str:
        return key if isinstance(key, str) else getattr(key, "key", None) or getattr(key, "name", str(key))

    stmt, names = state.statement, set()
    for values in (getattr(stmt, "_values", None), dict(getattr(stmt, "_ordered_values", None) or ())):
        names.update(name(k) for k in values or ())
    to_set = getattr(getattr(stmt, "_post_values_clause", None), "update_values_to_set", None) or ()
    names.update(name(key) for key in (to_set.keys() if isinstance(to_set, dict) else (k for k, _v in to_set)))
    if state.is_update or state.is_insert:  # rows given as parameters: session.execute(update(Model), [{…}, …])
        params = state.parameters
        for row in params if isinstance(params, list) else [params or {}]:
            names.update(row)
    return names


@event.listens_for(Session, "before_flush")
def _run_flush_rules(session, _context, _instances):
    for rule in _flush_rules:
        rule(session)


@event.listens_for(Session, "do_orm_execute")
def _run_statement_rules(state):
    if state.is_insert or state.is_update or state.is_delete:
        for rule in _statement_rules:
            rule(state)


def is_refusal(exc: BaseException) -> bool:
    """Is `exc` (a DBAPIError, or its driver's error) one of the database guards refusing a change?"""
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) not in (None, REFUSAL_SQLSTATE):
        return False
    return REFUSAL_PREFIX in str(orig)
