"""The WSGI entry point for production servers: `gunicorn -c gunicorn.conf.py wsgi:app` (see docs/scaling.md)."""

import os

from app import create_app
from core.extensions import db

app = create_app()


def _fresh_pool_after_fork() -> None:
    """A forked worker must never share its parent's database connections: start it with an empty pool. (The
    app opens none while it is built, so this is a guard, as SQLAlchemy advises for forking servers.)"""
    with app.app_context():
        db.engine.dispose(close=False)


os.register_at_fork(after_in_child=_fresh_pool_after_fork)
