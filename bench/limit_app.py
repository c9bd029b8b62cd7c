"""The limit app: the least a server can do to answer the load driver's requests, served as QualExam is served.

    LIMIT_DB=sqlite:////tmp/limit.db LIMIT_DATA=/tmp/limit.json gunicorn -c gunicorn.conf.py limit_app:app

Tokens are looked up in a dict read at start (`LIMIT_DATA`: {"tokens": {token: user_id}, "paper": [items],
"exam": {the exam as the list shows it}}); the list of exams is one read of the candidate's attempts; a start is one
upsert of the attempt row (the paper is the same bytes for everyone); a save is one upsert of the answer with the
same "highest sequence wins" rule; a submit is one update; a result is one read. Each statement is its own
transaction, on a connection kept per thread: sqlite3 in autocommit, or (LIMIT_DB=postgresql://…) psycopg, one
BEGIN … COMMIT around the statement as QualExam's request has. No sessions, no CSRF, no templates, no ORM, no
grading: what QualExam does beyond this is what its ratio to this app measures.
"""

import json
import os
import sqlite3
import threading
from pathlib import Path

from flask import Flask, Response, abort, request

DB = os.environ.get("LIMIT_DB", "sqlite:////tmp/qe-limit.db")
DATA = json.loads(Path(os.environ["LIMIT_DATA"]).read_text(encoding="utf-8")) if os.environ.get("LIMIT_DATA") else {}
TOKENS: dict[str, int] = DATA.get("tokens", {})
PAPER = json.dumps(DATA.get("paper", []), ensure_ascii=False)
EXAM: dict = DATA.get("exam", {})
POSTGRES = DB.startswith("postgresql")
P = "%s" if POSTGRES else "?"

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS limit_attempts (id {pk}, user_id INTEGER NOT NULL UNIQUE, status VARCHAR(16) NOT NULL)",
    "CREATE TABLE IF NOT EXISTS limit_answers (attempt_id INTEGER NOT NULL, position INTEGER NOT NULL, "
    "value TEXT, seq INTEGER NOT NULL, PRIMARY KEY (attempt_id, position))",
]

_local = threading.local()


def connect():
    if POSTGRES:
        import psycopg

        return psycopg.connect(DB.replace("postgresql+psycopg://", "postgresql://"))
    conn = sqlite3.connect(DB.removeprefix("sqlite:///"), timeout=15, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    return conn


def conn():
    """One connection per thread, kept (the least a pool can do)."""
    c = getattr(_local, "conn", None)
    if c is None:
        c = _local.conn = connect()
    return c


def run(sql: str, args=()):
    """One statement in its own transaction; its rows."""
    c = conn()
    if POSTGRES:
        with c.transaction():
            cur = c.execute(sql.replace("?", P), args)
            return cur.fetchall() if cur.description else []
    cur = c.execute(sql, args)  # autocommit: the statement is its own transaction
    return cur.fetchall()


def setup() -> None:
    pk = "SERIAL PRIMARY KEY" if POSTGRES else "INTEGER PRIMARY KEY"
    for statement in SCHEMA:
        run(statement.format(pk=pk))
    conn().close()  # built in gunicorn's master (preload): each worker thread opens its own
    del _local.conn


app = Flask(__name__)


def user_id() -> int:
    uid = TOKENS.get(request.headers.get("Authorization", "")[7:])
    if uid is None:
        abort(401)
    return uid


def reply(body: str) -> Response:
    return Response(body, mimetype="application/json")


@app.get("/api/v1/exams")
def exams():
    rows = run("SELECT id, status FROM limit_attempts WHERE user_id = ?", (user_id(),))
    in_progress = next((attempt_id for attempt_id, status in rows if status == "in_progress"), None)
    listed = {**EXAM, "attempts_used": len(rows), "attempt_in_progress": in_progress}
    return reply(json.dumps([listed], ensure_ascii=False))


@app.post("/api/v1/exams/<code>/attempts")
def start(code):
    uid = user_id()
    (attempt_id,) = run(
        "INSERT INTO limit_attempts (user_id, status) VALUES (?, 'in_progress') "
        "ON CONFLICT (user_id) DO UPDATE SET status = limit_attempts.status RETURNING id",
        (uid,),
    )[0]
    return reply(f'{{"id": {attempt_id}, "status": "in_progress", "answers": {{}}, "items": {PAPER}}}')


@app.put("/api/v1/attempts/<int:attempt_id>/answers/<int:position>")
def save(attempt_id, position):
    user_id()
    body = request.get_json()
    rows = run(
        "INSERT INTO limit_answers (attempt_id, position, value, seq) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (attempt_id, position) DO UPDATE SET value = excluded.value, seq = excluded.seq "
        "WHERE limit_answers.seq < excluded.seq RETURNING seq",
        (attempt_id, position, json.dumps(body["value"], ensure_ascii=False), body["seq"]),
    )
    accepted = "true" if rows else "false"
    return reply(f'{{"position": {position}, "seq": {body["seq"]}, "accepted": {accepted}}}')


@app.post("/api/v1/attempts/<int:attempt_id>/submit")
def submit(attempt_id):
    user_id()
    run("UPDATE limit_attempts SET status = 'submitted' WHERE id = ?", (attempt_id,))
    return reply('{"status": "submitted"}')


@app.get("/api/v1/attempts/<int:attempt_id>")
def result(attempt_id):
    user_id()
    rows = run("SELECT status FROM limit_attempts WHERE id = ?", (attempt_id,))
    if not rows:
        abort(404)
    return reply(f'{{"id": {attempt_id}, "status": "{rows[0][0]}"}}')


setup()
