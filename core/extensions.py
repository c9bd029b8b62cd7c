"""The Flask extensions, created unbound here and bound to an app in create_app()."""

import sqlite3

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

# Named constraints so migrations can drop and alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
#: Rate limits of public pages (certificate verification); counted where RATELIMIT_STORAGE_URI says.
limiter = Limiter(get_remote_address)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """SQLite's settings, on every new connection.

    - Foreign keys, ON DELETE CASCADE included, are enforced only when asked: ask, so the embedded database keeps
      the same integrity as PostgreSQL. (Migrations switch it off while they rebuild tables: migrations/env.py.)
    - Write-ahead logging: readers never wait for the writer (autosaves go on while a report is read), and a
      commit appends to the log instead of rewriting pages. It is a property of the file, kept once set.
    - `synchronous=FULL` stays SQLite's default: a commit is on disk before "saved" is answered, as on PostgreSQL
      (NORMAL would be faster and could lose the last commits on a power cut).
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()
