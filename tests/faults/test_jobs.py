"""A job engine worker killed (kill -9) in the middle of each kind of job, with the queue on Redis and on PostgreSQL:
the sweep takes the job back, a new worker runs it again, and its work is applied exactly once.

The worker is `flask jobs worker` as production runs it; `QE_JOBS_DRILL_DELAY` slows each progress step down so the
kill lands mid-job. The test process plays the web node: it submits the job and runs the sweep."""

import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.conftest import ROOT, VENV_BIN, app_env, flask_cli
from tests.faults.test_two_nodes import RedisServer

pytestmark = pytest.mark.faults


class Worker:
    def __init__(self, env: dict, log: Path):
        self.env = env
        self.log = log
        self.proc = None

    def start(self) -> "Worker":
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603
                [str(VENV_BIN / "flask"), "--app", "app", "jobs", "worker", "-w", "1", "--no-periodic"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        return self

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Scenario:
    name: str
    #: setup(app) -> job id: makes the data and submits the job (committed), in the app's context.
    setup: object
    #: check(app, job) asserts the job's work is there exactly once.
    check: object
    #: Kill the worker once the job reports this many steps done.
    kill_at: int = 5
    #: Load the demo district first (`flask demo load`).
    demo: bool = False
    #: Seconds the worker sleeps at each progress step (QE_JOBS_DRILL_DELAY): long enough for the kill to land.
    drill_delay: float = 0.05


def _item_analysis_setup(app):
    """The demo district (loaded by the test), and an item analysis of its exam with the most results."""
    from sqlalchemy import func, select

    from accounts.models import User
    from core.extensions import db
    from exam.models import Attempt
    from jobs import submit

    exam_id = db.session.execute(
        select(Attempt.exam_id).group_by(Attempt.exam_id).order_by(func.count().desc()).limit(1)
    ).scalar_one()
    admin = db.session.scalar(select(User).filter_by(username="admin"))
    job = submit("reports.item-analysis", {"exam_id": exam_id}, user=admin)
    db.session.commit()
    return job.id


def _item_analysis_check(app, job):
    from sqlalchemy import func, select

    from core.extensions import db
    from reports.models import ExamAnalysis

    kept = db.session.execute(select(ExamAnalysis.exam_id, func.count()).group_by(ExamAnalysis.exam_id)).all()
    assert [n for _exam, n in kept] == [1] and kept[0][0] == job.params["exam_id"]


def _busiest_exam():
    from sqlalchemy import func, select

    from core.extensions import db
    from exam.models import Attempt, Exam

    exam_id = db.session.execute(
        select(Attempt.exam_id).group_by(Attempt.exam_id).order_by(func.count().desc()).limit(1)
    ).scalar_one()
    return db.session.get(Exam, exam_id)


def _document_setup(kind: str, **params):
    def setup(app):
        from sqlalchemy import select

        from accounts.models import User
        from core.extensions import db
        from jobs import submit

        admin = db.session.scalar(select(User).filter_by(username="admin"))
        job = submit(kind, {**params, "exam": _busiest_exam().code}, user=admin)
        db.session.commit()
        return job.id

    return setup


def _one_document(app, job):
    from sqlalchemy import select

    from core.extensions import db
    from jobs.models import StoredFile

    kept = db.session.execute(select(StoredFile.job_id, StoredFile.size)).all()
    assert len(kept) == 1 and kept[0][0] == job.id and kept[0][1] > 0  # one file, not one per try


def _ranking_setup(app):
    from core.extensions import db
    from jobs import submit

    job = submit("reports.ranking", {"exam_id": _busiest_exam().id})
    db.session.commit()
    return job.id


def _ranking_check(app, job):
    from sqlalchemy import func, select

    from core.extensions import db
    from reports.models import RankEntry, RankSet

    kept = db.session.get(RankSet, job.params["exam_id"])
    entries = db.session.scalar(select(func.count()).select_from(RankEntry).where(RankEntry.exam_id == kept.exam_id))
    assert kept.ranked > 0 and entries == kept.ranked


QUESTIONS = 40


def _question_import_setup(app):
    """An author's Aiken file of 40 questions for a bank, imported by the job."""
    from core.extensions import db
    from core.policy import Role
    from jobs import files, submit
    from tests.factories import make_bank, make_user

    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    bank = make_bank(code="QF1", actor=admin)
    text = "\n\n".join(
        f"第{i}题：下列说法正确的是？\nA. 甲{i}\nB. 乙{i}\nC. 丙{i}\nANSWER: B" for i in range(QUESTIONS)
    )
    stored = files.store(text.encode(), f"{bank.code}.aiken", "text/plain", purpose="upload", owner_id=admin.id)
    job = submit("question_bank.import-questions", {"bank": bank.code, "upload": stored.token, "status": "draft"},
                 user=admin)  # fmt: skip
    db.session.commit()
    return job.id


def _question_import_check(app, job):
    from sqlalchemy import func, select

    from core.extensions import db
    from question_bank.models import Question

    assert db.session.scalar(select(func.count(Question.id))) == QUESTIONS


CADRES = 60
HEADERS = ["工号", "姓名", "性别", "出生日期", "单位", "职级", "职务", "学历", "政治面貌", "手机号码"]
_NAMES = ["李文博", "王思琪", "赵志强", "陈晓东", "刘佳怡", "杨子涵", "黄建华", "周梦洁", "吴国栋", "郑雨欣"]


def _cadre_import_setup(app):
    """A district admin's upload of 60 cadres, imported by the job (as the import page does past its inline limit)."""
    from datetime import date

    from core.extensions import db
    from core.policy import Role
    from jobs import files, submit
    from tests.factories import make_unit, make_user, workbook_bytes

    admin = make_user(roles=(Role.ORG_ADMIN,))
    make_unit("青山镇", code="QSZ", kind="town")
    rows = [[f"QF{i:04d}", _NAMES[i % len(_NAMES)], "男" if i % 2 else "女", date(1990, 1, 1 + i % 28), "QSZ",
             "科员", "", "大学本科", "中共党员", ""] for i in range(CADRES)]  # fmt: skip
    stored = files.store(workbook_bytes(HEADERS, rows), "cadres.xlsx", "application/octet-stream", purpose="upload",
                         owner_id=admin.id)  # fmt: skip
    job = submit("accounts.import-cadres", {"upload": stored.token}, user=admin)
    db.session.commit()
    return job.id


def _cadre_import_check(app, job):
    from sqlalchemy import func, select

    from accounts.models import Cadre, User
    from core.extensions import db
    from jobs.models import StoredFile

    assert db.session.scalar(select(func.count(Cadre.id))) == CADRES
    assert db.session.scalar(select(func.count(User.id)).where(User.username.like("QF%"))) == CADRES
    kept = db.session.execute(select(StoredFile.purpose, StoredFile.job_id)).all()
    assert kept == [("secret", job.id)]  # the upload went with the import; one file of passwords, not two


SCENARIOS: list[Scenario] = [
    Scenario("item-analysis", _item_analysis_setup, _item_analysis_check, kill_at=0, demo=True, drill_delay=2.0),
    Scenario("cadre-import", _cadre_import_setup, _cadre_import_check, kill_at=10),
    Scenario(
        "ranking-export",
        _document_setup("reports.export", export="ranking", filters={}),
        _one_document,
        kill_at=3,
        demo=True,
        drill_delay=0.3,
    ),
    Scenario("question-import", _question_import_setup, _question_import_check, kill_at=5),
    Scenario("kept-ranking", _ranking_setup, _ranking_check, kill_at=0, demo=True, drill_delay=2.0),
    Scenario("score-slips", _document_setup("reports.slips"), _one_document, kill_at=1, demo=True, drill_delay=1.0),
]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


def _app(database_url: str, jobs_url: str, instance: Path):
    from app import create_app
    from config import TestConfig

    cfg = type("JobsFaultConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": database_url, "JOBS_URL": jobs_url,
                                                  "JOBS_STALE_SECONDS": 2})  # fmt: skip
    app = create_app(cfg)
    app.instance_path = str(instance)
    return app


def _wait(app, job_id: int, until, timeout: float, what: str):
    from core.extensions import db
    from jobs import engine
    from jobs.models import Job

    deadline = time.monotonic() + timeout
    while True:
        with app.app_context():
            job = db.session.get(Job, job_id)
            live = engine.progress_of(job_id)
            if until(job, live):
                return job
            state = (job.state, job.error, live)
        assert time.monotonic() < deadline, f"job {job_id} never {what}: {state}"
        time.sleep(0.2)


@pytest.mark.parametrize("backend", ["redis", "postgresql"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_a_worker_killed_mid_job_leaves_the_work_done_once(scenario, backend, pg_cluster, redis_server, tmp_path):
    name = f"jobs_{secrets.token_hex(3)}"
    database_url = pg_cluster.create_database(name)
    instance = tmp_path / "instance"
    flask_cli(app_env(database_url, instance), "db", "upgrade")
    if scenario.demo:
        flask_cli(app_env(database_url, instance, QE_ALLOW_DEMO="1"), "demo", "load")
    if backend == "redis":
        jobs_url = redis_server.url
    else:
        queue = pg_cluster.create_database(f"{name}_queue")  # Huey's tables, beside the app's database
        jobs_url = queue.replace("postgresql+psycopg://", "postgresql://")
    app = _app(database_url, jobs_url, instance)
    from core.extensions import db
    from jobs import engine, sweep

    with app.app_context():
        engine.engine().flush()  # a queue of this test's own
        job_id = scenario.setup(app)
    env = app_env(database_url, instance, QE_JOBS_URL=jobs_url, QE_JOBS_DRILL_DELAY=str(scenario.drill_delay))
    first = Worker(env, tmp_path / "worker1.log").start()
    second = Worker(env, tmp_path / "worker2.log")
    try:
        _wait(app, job_id, lambda job, live: live and live["done"] >= scenario.kill_at, 90, "got going")
        first.kill()
        time.sleep(2.5)  # past JOBS_STALE_SECONDS: its heartbeat has stopped
        with app.app_context():
            assert sweep.run()["recovered"] == 1
        second.start()
        job = _wait(app, job_id, lambda job, live: job.finished, 180, "finished")
        assert (job.state, job.attempts) == ("done", 2), (job.state, job.error, (tmp_path / "worker2.log").read_text())
        with app.app_context():
            scenario.check(app, job)
    finally:
        first.stop()
        second.stop()
        with app.app_context():  # this process's connections, closed now (not left to the collector)
            engine.engine().storage.close()
            db.session.remove()
            db.engine.dispose()
