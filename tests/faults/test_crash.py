"""App crash mid-exam: candidates keep saving while a gunicorn worker, and then the master, is killed with
SIGKILL (no cleanup, no graceful shutdown). Every save the server acknowledged is in the database, each candidate
still has one attempt, which resumes with the remaining time the server's deadline gives, and no answer is
stored twice."""

import time
from datetime import UTC, datetime

import pytest

from tests.faults.conftest import (
    Node,
    SavingCrowd,
    app_env,
    assert_nothing_acknowledged_is_lost,
    exam_database,
    start_all,
    stored_answers,
)

pytestmark = pytest.mark.faults

CODE = "CRASH"


@pytest.fixture
def exam_db(pg_cluster, tmp_path):
    return exam_database(pg_cluster, tmp_path / "instance", CODE, n_candidates=12, qtypes=SavingCrowd.PAPER)[:3]


def _deadlines(cluster, database) -> dict:
    with cluster.connect(database) as conn:
        return dict(conn.execute("SELECT id, deadline_at FROM attempts").fetchall())


def _assert_resumes_with_the_right_time(candidates, deadlines):
    for c in candidates:
        paper = c.start(CODE)  # resumes: Candidate.start asserts the same attempt comes back
        deadline = deadlines[c.attempt_id]
        deadline = deadline if deadline.tzinfo else deadline.replace(tzinfo=UTC)
        expected = (deadline - datetime.now(UTC)).total_seconds()
        assert abs(paper["seconds_left"] - expected) <= 5, (paper["seconds_left"], expected)


def test_kill_9_of_workers_loses_no_acknowledged_save(pg_cluster, exam_db, tmp_path):
    name, url, tokens = exam_db
    node = Node(app_env(url, tmp_path / "instance"), tmp_path / "gunicorn.log").start()
    try:
        candidates, positions = start_all(tokens, [node.host], CODE)
        deadlines = _deadlines(pg_cluster, name)
        master = node.proc.pid
        with SavingCrowd(candidates, positions) as crowd:
            crowd.wait_for_acks(150)
            killed = [node.kill_worker()]
            crowd.wait_for_acks(150)  # the master has put a new worker in its place; saving goes on
            killed.append(node.kill_worker())
            crowd.wait_for_acks(150)
        assert node.proc.pid == master and not set(killed) & set(node.worker_pids())
        stored = stored_answers(pg_cluster, name)
        checked = assert_nothing_acknowledged_is_lost(candidates, stored)
        assert checked["exact"] == checked["acks"] >= 450  # every acknowledgement checked, none overwritten
        assert _deadlines(pg_cluster, name) == deadlines  # a crash gives nobody more or less time
        _assert_resumes_with_the_right_time(candidates, deadlines)
    finally:
        node.stop()


def test_kill_9_of_the_master_then_restart_loses_no_acknowledged_save(pg_cluster, exam_db, tmp_path):
    name, url, tokens = exam_db
    env = app_env(url, tmp_path / "instance")
    node = Node(env, tmp_path / "gunicorn.log").start()
    restarted = None
    try:
        candidates, positions = start_all(tokens, [node.host], CODE)
        deadlines = _deadlines(pg_cluster, name)
        with SavingCrowd(candidates, positions) as crowd:
            crowd.wait_for_acks(150)
            node.kill_master()  # the whole server is gone: the candidates' saves are refused and queued
            time.sleep(1)
            restarted = Node(env, tmp_path / "gunicorn.log", port=node.port).start()
            crowd.wait_for_acks(150)  # the queued saves went through to the new server
        refused = sum(c.outcomes.get("conn", 0) for c in candidates)
        assert refused > 0, "no save was sent while the server was down: the test did not test the crash"
        stored = stored_answers(pg_cluster, name)
        checked = assert_nothing_acknowledged_is_lost(candidates, stored)
        assert checked["exact"] == checked["acks"] >= 300
        assert _deadlines(pg_cluster, name) == deadlines
        _assert_resumes_with_the_right_time(candidates, deadlines)
    finally:
        node.stop()
        if restarted:
            restarted.stop()
