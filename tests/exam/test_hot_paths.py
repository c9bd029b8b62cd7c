"""The hot paths of a sitting, counted in SQL statements (a statement is a round trip to the database): a save is
the token's lookup and one statement that checks and writes; grading costs the same whatever the paper's length."""

from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from accounts.services import create_api_token
from core.extensions import db as database
from core.models import now_utc
from exam import services
from exam.models import Answer, Attempt
from tests.factories import make_open_exam


@contextmanager
def statements():
    """Every SQL statement sent while the block runs (BEGIN and COMMIT are not statements here)."""
    sent: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        sent.append(" ".join(statement.split())[:300])

    engine = database.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def sitting(app, client, db):
    exam, user = make_open_exam(code="HOT1", qtypes=("single", "multiple", "truefalse", "fill", "essay"))
    auth = {"Authorization": f"Bearer {create_api_token(user, 'test', now_utc())}"}
    db.session.commit()
    paper = client.post("/api/v1/exams/HOT1/attempts", headers=auth, json={}).get_json()
    return paper, auth


def test_a_save_is_two_statements_once_the_attempt_is_known(client, sitting):
    paper, auth = sitting
    url = f"/api/v1/attempts/{paper['id']}/answers/1"
    assert client.put(url, headers=auth, json={"value": 0, "seq": 1}).status_code == 200  # reads the paper once
    with statements() as sent:
        response = client.put(url, headers=auth, json={"value": 1, "seq": 2})
    assert response.status_code == 200 and response.get_json()["accepted"] is True
    assert len(sent) == 2, "\n".join(sent)
    assert "api_tokens" in sent[0] and sent[1].startswith("INSERT INTO answers")
    # An older save changes nothing and says so (a third statement reads what is stored: not the hot path).
    with statements() as sent:
        stale = client.put(url, headers=auth, json={"value": 2, "seq": 1}).get_json()
    assert stale["accepted"] is False and stale["seq"] == 2


def test_the_one_statement_refuses_what_it_must(app, client, db, sitting):
    paper, auth = sitting
    url = f"/api/v1/attempts/{paper['id']}/answers/1"
    assert client.put(url, headers=auth, json={"value": 0, "seq": 1}).status_code == 200
    # Another candidate's token on this attempt: not found, nothing written.
    exam2, other = make_open_exam(code="HOT2")
    other_auth = {"Authorization": f"Bearer {create_api_token(other, 'test', now_utc())}"}
    db.session.commit()
    refused = client.put(url, headers=other_auth, json={"value": 2, "seq": 9})
    assert refused.status_code == 404
    # Submitted: the write finds no running attempt and the refusal says why.
    assert client.post(f"/api/v1/attempts/{paper['id']}/submit", headers=auth).status_code == 200
    ended = client.put(url, headers=auth, json={"value": 2, "seq": 10})
    assert ended.status_code == 409 and ended.get_json()["error"]["code"] == "attempt_ended"
    stored = db.session.scalar(select(Answer).where(Answer.attempt_id == paper["id"], Answer.position == 1))
    assert stored.seq == 1


def test_grading_costs_the_same_statements_whatever_the_paper_length(app, db):
    counts = []
    for code, qtypes in (("G1", ("single",)), ("G2", ("single", "multiple", "truefalse", "fill", "essay") * 2)):
        exam, user = make_open_exam(code=code, qtypes=qtypes)
        now = now_utc()
        attempt = services.start_attempt(exam, user, now)
        db.session.commit()
        attempt = db.session.get(Attempt, attempt.id)
        with statements() as sent:
            services.submit(attempt, now)
        counts.append(len(sent))
        assert db.session.scalar(select(func.count(Answer.id)).where(Answer.attempt_id == attempt.id)) == len(qtypes)
    assert counts[0] == counts[1], "\n".join(sent)


def test_the_paper_is_served_without_reading_its_questions_again(client, sitting):
    paper, auth = sitting
    with statements() as sent:
        again = client.get(f"/api/v1/attempts/{paper['id']}", headers=auth).get_json()
    assert again["items"] == paper["items"] and len(again["items"]) == 5
    assert not [s for s in sent if "question_versions" in s or "paper_items" in s], sent
    # The saved answers come back in the candidate's option order, from the same kept facts.
    single = next(i for i in paper["items"] if i["type"] == "single")
    client.put(
        f"/api/v1/attempts/{paper['id']}/answers/{single['position']}", headers=auth, json={"value": 1, "seq": 1}
    )
    answers = client.get(f"/api/v1/attempts/{paper['id']}", headers=auth).get_json()["answers"]
    assert answers[str(single["position"])]["value"] == 1


#: Tables that grow with the district (every attempt, answer, paper and person): a hot query never scans them.
BIG_TABLES = {"attempts", "answers", "papers", "paper_items", "api_tokens", "users", "cadres", "question_versions",
              "archive_exam_results", "audit_log", "exam_candidates"}  # fmt: skip


def query_plans(app, sent_with_params):
    """SQLite's plan of each statement sent: (statement, [plan detail lines])."""
    plans = []
    with database.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        for statement, params in sent_with_params:
            if not statement.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
                continue
            rows = raw.execute("EXPLAIN QUERY PLAN " + statement, params).fetchall()
            plans.append((statement, [r[-1] for r in rows]))
    return plans


@pytest.mark.skipif("os.environ.get('TEST_DATABASE_URL', '').startswith('postgres')", reason="SQLite's plans")
def test_the_hot_queries_use_indexes(app, client, db, sitting):
    """Every statement of a save, a reload, a submit, a result and the finalizer's sweep finds its rows by index
    (SQLite reports a full scan as `SCAN <table>`; `SEARCH` is by index). bench/RESULTS.md has PostgreSQL's."""
    paper, auth = sitting
    sent = []

    def record(_conn, _cursor, statement, parameters, _context, _many):
        if not _many:
            sent.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        base = f"/api/v1/attempts/{paper['id']}"
        client.put(f"{base}/answers/1", headers=auth, json={"value": 0, "seq": 1})
        client.get(base, headers=auth)
        client.post(f"{base}/submit", headers=auth)
        client.get(base, headers=auth)
        with app.app_context():
            services.overdue_attempts(now_utc())
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
    plans = query_plans(app, sent)
    assert len(plans) > 10
    scans = [(statement[:100], line) for statement, lines in plans for line in lines
             if line.startswith("SCAN ") and line.split()[1] in BIG_TABLES]  # fmt: skip
    assert scans == []
