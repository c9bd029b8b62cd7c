"""A SQL expression that PostgreSQL and SQLite spell differently, for the report queries."""

from sqlalchemy import Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class epoch_seconds(FunctionElement):  # noqa: N801  (used like a SQL function)
    """Whole seconds since 1970 of a UTC timestamp column (the fraction of a second dropped)."""

    type = Integer()
    inherit_cache = True
    name = "epoch_seconds"


@compiles(epoch_seconds)
def _epoch_sqlite(element, compiler, **kw):  # SQLite keeps UTC timestamps as text
    return "CAST(strftime('%s', " + compiler.process(element.clauses, **kw) + ") AS INTEGER)"


@compiles(epoch_seconds, "postgresql")
def _epoch_postgresql(element, compiler, **kw):
    return "CAST(EXTRACT(EPOCH FROM date_trunc('second', " + compiler.process(element.clauses, **kw) + ")) AS BIGINT)"
