"""A job worker killed with SIGKILL while it draws an exam's papers (exam.prepare-papers), on PostgreSQL for both
the app and the queue: the batches it committed stay, the sweep takes the job back, the next worker draws only the
rest, and every candidate ends with exactly one paper."""

import os
import secrets
import signal
import subprocess
import time

import psycopg
import pytest

from tests.faults.conftest import ROOT, VENV_BIN, app_env, flask_cli

pytestmark = pytest.mark.faults

CANDIDATES = 450  # two batches of 200 committed, and a last one


def _seed(database_url: str, jobs_url: str, instance) -> int:
    """An open exam of CANDIDATES cadres, published, its drawing asked for (dispatched to the queue); the job's id."""
    flask_cli(app_env(database_url, instance), "db", "upgrade")
    from datetime import timedelta

    from app import create_app
    from config import TestConfig
    from core.extensions import db
    from core.models import now_utc
    from core.policy import Role
    from exam import jobs, publishing
    from tests.exam.test_engine import fill_bank, make_exam
    from tests.factories import make_bank, make_cadre, make_unit, make_user

    cfg = type("FaultConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": database_url, "JOBS_URL": jobs_url})
    app = create_app(cfg)
    app.instance_path = str(instance)
    with app.app_context():
        bank = make_bank(code="QB")
        fill_bank(bank, n=8)
        unit = make_unit(code="TOWN")
        for _ in range(CANDIDATES):
            make_cadre(unit=unit)
        now = now_utc()
        exam = make_exam(bank, code="PREP", opens_at=now - timedelta(hours=1), closes_at=now + timedelta(hours=3),
                         eligibility={"unit_ids": [unit.id]})  # fmt: skip
        admin = make_user(roles=(Role.ORG_ADMIN,))
        publishing.publish(admin, exam, now, draw=False)
        job_id = jobs.prepare_later(exam, admin).id
        db.session.commit()  # dispatched to the queue on PostgreSQL: no worker runs yet
        from jobs import engine

        engine.engine().storage.close()  # the queue's connection, closed now (not left to the collector)
        db.session.remove()
        db.engine.dispose()
    return job_id


def _worker(env: dict, log) -> subprocess.Popen:
    command = [str(VENV_BIN / "flask"), "--app", "app", "jobs", "worker", "-w", "1", "--no-periodic"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: S603


def _counts(conn) -> tuple[int, int, int]:
    """(papers, candidates with a paper, questions' exposure in all)."""
    row = conn.execute("SELECT count(*), count(DISTINCT user_id) FROM papers").fetchone()
    exposure = conn.execute("SELECT coalesce(sum(exposure_count), 0) FROM questions").fetchone()[0]
    return row[0], row[1], exposure


def _wait(predicate, timeout: float, what: str, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


def test_kill_9_of_the_worker_mid_drawing_keeps_its_batches_and_the_next_one_draws_the_rest(pg_cluster, tmp_path):
    name = f"prep_{secrets.token_hex(3)}"
    url = pg_cluster.create_database(name)
    jobs_url = pg_cluster.create_database(name + "_jobs").replace("postgresql+psycopg://", "postgresql://")
    instance = tmp_path / "instance"
    job_id = _seed(url, jobs_url, instance)
    env = app_env(url, instance, QE_JOBS_URL=jobs_url, QE_JOBS_DRILL_DELAY="0.01", QE_JOBS_STALE_SECONDS="2")
    conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    log = (tmp_path / "worker.log").open("w")

    first = _worker(env, log)
    try:
        _wait(lambda: _counts(conn)[0] >= 200, 120, "the first batch's commit")
        os.killpg(first.pid, signal.SIGKILL)  # no cleanup: the job stays "running", its last batch uncommitted
    finally:
        first.wait(timeout=30)
    papers, people, exposure = _counts(conn)
    assert papers in (200, 400) and people == papers and exposure == papers * 3, (papers, people, exposure)
    assert conn.execute("SELECT state FROM jobs WHERE id = %s", (job_id,)).fetchone()[0] == "running"

    second = _worker(env, log)
    try:
        time.sleep(2.5)  # the dead worker's heartbeat is older than QE_JOBS_STALE_SECONDS now
        flask_cli(env, "jobs", "sweep")  # the minute's sweep, now: the job is taken back and dispatched again
        state = _wait(
            lambda: (s := conn.execute("SELECT state, attempts, result FROM jobs WHERE id = %s", (job_id,)).fetchone())
            and s[0] in ("done", "failed") and s,
            120, "the job's second run", step=0.2,
        )  # fmt: skip
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(timeout=30)
    assert state[0] == "done" and state[1] == 2 and state[2]["drawn"] == CANDIDATES - papers, state
    assert _counts(conn) == (CANDIDATES, CANDIDATES, CANDIDATES * 3)  # one paper each, each counted once
    conn.close()
    log.close()
