"""A database that cannot be reached gives a clear, retryable 503 (never a 500), and nothing half-written.

The real outage (PostgreSQL stopped under a running gunicorn) is in tests/faults; these run in-process against a
PostgreSQL address where nothing listens, so the error is the driver's own.
"""

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from accounts.services import create_api_token
from core.models import now_utc
from exam.models import Answer
from tests.conftest import _make_app
from tests.factories import make_open_exam

DEAD = "postgresql+psycopg://postgres@127.0.0.1:9/nowhere?connect_timeout=2"


@pytest.fixture
def dead_client(tmp_path):
    app = _make_app(DEAD, tmp_path / "instance")
    with app.app_context():
        yield app.test_client()
        from core.extensions import db

        db.engine.dispose()


def test_a_page_says_briefly_unavailable_with_retry_after(dead_client):
    with dead_client.session_transaction() as session:  # a logged-in browser: its user is read from the database
        session["_user_id"] = "some-session-key"
    response = dead_client.get("/admin/cadres")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    page = response.get_data(as_text=True)
    assert "暂时无法访问" in page and "没有丢失" in page
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert response.headers["Cache-Control"] == "no-store"


def test_the_api_answers_a_json_503_the_exam_page_retries(dead_client):
    response = dead_client.put(
        "/api/v1/attempts/1/answers/1", json={"value": 0, "seq": 1}, headers={"Authorization": "Bearer qe_whatever"}
    )
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "unavailable"
    assert response.get_json()["error"]["retry_after"] == 5
    assert response.headers["Retry-After"] == "5"


def _attempt_with_broken_commit(client, db, monkeypatch, code, error):
    """A candidate's attempt (id, token headers); from now on every commit raises `error`."""
    _exam, user = make_open_exam(code=code, qtypes=("single",))
    headers = {"Authorization": f"Bearer {create_api_token(user, 'test', now_utc())}"}
    db.session.commit()
    attempt_id = client.post(f"/api/v1/exams/{code}/attempts", headers=headers, json={}).get_json()["id"]

    def broken_commit():
        raise error

    monkeypatch.setattr(db.session, "commit", broken_commit)
    return attempt_id, headers


def test_a_save_whose_commit_fails_is_told_503_and_is_not_stored(client, db, monkeypatch):
    """The connection breaks at the commit: the candidate is not told "saved", and nothing is kept."""
    import psycopg

    lost = psycopg.OperationalError("server closed the connection unexpectedly")  # no SQLSTATE: the link is gone
    broken = sa_exc.OperationalError("COMMIT", {}, lost)
    attempt_id, headers = _attempt_with_broken_commit(client, db, monkeypatch, "OUT1", broken)
    response = client.put(f"/api/v1/attempts/{attempt_id}/answers/1", headers=headers, json={"value": 0, "seq": 1})
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "unavailable"
    monkeypatch.undo()
    db.session.rollback()
    assert db.session.scalars(select(Answer).where(Answer.attempt_id == attempt_id)).all() == []
    again = client.put(f"/api/v1/attempts/{attempt_id}/answers/1", headers=headers, json={"value": 0, "seq": 1})
    assert again.status_code == 200 and again.get_json()["accepted"]  # sent again, it lands


def test_other_database_errors_stay_500(client, db, monkeypatch, app):
    """An integrity error is a bug, not an outage: sending it again will not help."""
    broken = sa_exc.IntegrityError("COMMIT", {}, Exception("duplicate key"))
    attempt_id, headers = _attempt_with_broken_commit(client, db, monkeypatch, "OUT2", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.put(f"/api/v1/attempts/{attempt_id}/answers/1", headers=headers, json={"value": 0, "seq": 1})
    assert response.status_code == 500


def test_only_outages_count_as_unavailable():
    """A lost connection, a refused one, a locked SQLite file: retry. No such table, bad SQL: a bug, a 500."""
    import sqlite3

    import psycopg

    from core.errors import is_database_unavailable

    def wrapped(orig, cls=sa_exc.OperationalError):
        return cls("SELECT 1", {}, orig)

    assert is_database_unavailable(wrapped(psycopg.OperationalError("server closed the connection unexpectedly")))
    assert is_database_unavailable(wrapped(sqlite3.OperationalError("database is locked")))
    assert is_database_unavailable(sa_exc.TimeoutError("QueuePool limit reached"))
    assert not is_database_unavailable(wrapped(sqlite3.OperationalError("no such table: exams")))
    assert not is_database_unavailable(wrapped(sqlite3.IntegrityError("UNIQUE failed"), sa_exc.IntegrityError))


@pytest.mark.fresh_app
def test_a_missing_table_is_a_500_not_a_503(client, db, app):
    from sqlalchemy import text

    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/__broken")
    def broken():
        db.session.execute(text("SELECT * FROM no_such_table"))

    assert client.get("/__broken").status_code == 500
