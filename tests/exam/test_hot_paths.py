"""The hot paths of a sitting, counted in SQL statements (a statement is a round trip to the database): a save is
one statement that checks and writes (the token is known to the process: accounts.identity); grading costs the same
whatever the paper's length."""

from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from accounts.identity import IdentityCache
from accounts.services import create_api_token
from core.extensions import db as database
from core.models import now_utc
from exam import attempts
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
    # The process's clock stands still: the auth epoch's once-a-second read never falls into a counted request.
    app.extensions["auth_identities"] = IdentityCache(clock=lambda: 0.0)
    exam, user = make_open_exam(code="HOT1", qtypes=("single", "multiple", "truefalse", "fill", "essay"))
    auth = {"Authorization": f"Bearer {create_api_token(user, 'test', now_utc())}"}
    db.session.commit()
    paper = client.post("/api/v1/exams/HOT1/attempts", headers=auth, json={}).get_json()
    return paper, auth


def test_a_save_is_one_statement_once_the_attempt_and_the_token_are_known(client, sitting):
    paper, auth = sitting
    url = f"/api/v1/attempts/{paper['id']}/answers/1"
    assert client.put(url, headers=auth, json={"value": 0, "seq": 1}).status_code == 200  # reads the paper once
    with statements() as sent:
        response = client.put(url, headers=auth, json={"value": 1, "seq": 2})
    assert response.status_code == 200 and response.get_json()["accepted"] is True
    assert len(sent) == 1, "\n".join(sent)
    assert sent[0].startswith("INSERT INTO answers")
    # An older save changes nothing and says so (a third statement reads what is stored: not the hot path).
    with statements() as sent:
        stale = client.put(url, headers=auth, json={"value": 2, "seq": 1}).get_json()
    assert stale["accepted"] is False and stale["seq"] == 2
    # The same save sent again (its first answer was lost on the way back): stored, and said so.
    again = client.put(url, headers=auth, json={"value": 1, "seq": 2}).get_json()
    assert again["accepted"] is True and again["seq"] == 2


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
        attempt = attempts.start_attempt(exam, user, now)
        db.session.commit()
        attempt = db.session.get(Attempt, attempt.id)
        with statements() as sent:
            attempts.submit(attempt, now)
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


def scanned_tables(sent_with_params) -> list[tuple[str, str]]:
    """(statement, table) for each table of BIG_TABLES a statement's plan reads by a full scan.

    SQLite: EXPLAIN QUERY PLAN says `SCAN <table>` for a full scan (`SEARCH` is by index). PostgreSQL: with
    sequential scans priced out (enable_seqscan off), a plan still holds a `Seq Scan` only where no index serves;
    a tiny test table would otherwise be scanned whatever its indexes."""
    found = []
    with database.engine.connect() as conn:
        for statement, params in sent_with_params:
            if not statement.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
                continue
            if conn.dialect.name == "sqlite":
                rows = conn.connection.dbapi_connection.execute("EXPLAIN QUERY PLAN " + statement, params).fetchall()
                found += [(statement[:100], r[-1].split()[1]) for r in rows if r[-1].startswith("SCAN ")]
                continue
            with conn.begin() as tx:
                conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
                plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, params).scalar()
                tx.rollback()
            nodes = [plan[0]["Plan"]]
            while nodes:
                node = nodes.pop()
                nodes += node.get("Plans", [])
                if node["Node Type"] == "Seq Scan":
                    found.append((statement[:100], node["Relation Name"]))
    return [(statement, table) for statement, table in found if table in BIG_TABLES]


def test_the_hot_queries_use_indexes(app, client, db, sitting):
    """Every statement of a save, a reload, a submit, a result and the finalizer's sweep finds its rows in the tables
    that grow by index (bench/RESULTS.md has the plans on a generated district)."""
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
            attempts.overdue_attempts(now_utc())
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
    assert len(sent) > 10
    assert scanned_tables(sent) == []


def test_a_start_asks_eligibility_in_one_statement_and_reads_the_attempts_once(app, client, db):
    """The start storm's request: who may sit is one statement (asked by the route and again by the service), the
    candidate's attempts are read once, and the new attempt's facts need no second read of its row."""
    app.extensions["auth_identities"] = IdentityCache(clock=lambda: 0.0)
    _exam, user = make_open_exam(code="HOT2", qtypes=("single", "truefalse", "essay"))
    auth = {"Authorization": f"Bearer {create_api_token(user, 'test', now_utc())}"}
    db.session.commit()
    client.get("/api/v1/exams", headers=auth)  # the token becomes known to the process, as in a candidate's day
    with statements() as sent:
        response = client.post("/api/v1/exams/HOT2/attempts", headers=auth, json={})
    assert response.status_code == 200 and len(response.get_json()["items"]) == 3
    text = "\n".join(sent)
    assert not any(s.startswith("SELECT units.path") for s in sent), text  # the rule's units are inside the question
    eligibility = [s for s in sent if "exam_candidates.included" in s]
    assert len(eligibility) == 2 and all("EXISTS" in s for s in eligibility), text  # the route's, the service's
    assert sum(s.startswith(("SELECT attempts.", "SELECT count(attempts.")) for s in sent) == 1, text
    # 23 before: eligibility three statements twice, the attempts read twice, the new attempt's row again. Here
    # the exam's first start also marks the exam (two statements) and the token's first use is written; the exam's
    # proctoring settings are read once (issue 25: its networks and camera, and what the start records).
    assert len(sent) <= 18, text
    assert sum(s.startswith("SELECT proctoring_settings.") for s in sent) == 1, text


def test_a_submit_records_the_end_and_leaves_the_grading_to_the_job(app, client, db, sitting, queued_jobs):
    """The deadline burst's request: a submit records the end and asks for the exam's grading job, and grades
    nothing itself (no points written, no archive record, no kept ranking read). Once the process knows the exam's
    total (any earlier grading or result of it), the job's grading reads no section or rule."""
    from exam.models import Exam
    from exam.review import exam_total
    from jobs import engine

    paper, auth = sitting
    with app.app_context():
        exam_total(db.session.scalar(select(Exam).where(Exam.code == "HOT1")))  # as an earlier submit would
    with statements() as sent:
        response = client.post(f"/api/v1/attempts/{paper['id']}/submit", headers=auth)
    assert response.status_code == 200 and response.get_json()["status"] == "submitted"
    assert response.get_json()["result"]["grading"] is True
    text = "\n".join(sent)
    grading = (
        "INSERT INTO answers",
        "archive_exam_results",
        "exam_rank_sets",
        "FROM exam_sections",
        "FROM section_rules",
    )
    assert not any(word in s for s in sent for word in grading), text
    assert len(sent) <= 9, text
    with statements() as sent:
        engine.run_pending()
    text = "\n".join(sent)
    assert any(s.startswith("INSERT INTO answers") for s in sent), text  # the job graded it
    assert not any("FROM exam_sections" in s or "FROM section_rules" in s for s in sent), text
