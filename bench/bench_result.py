"""Reading the result after the submit, in process: the API's attempt (`GET /api/v1/attempts/<id>`) and the
candidate's result page (`GET /my/attempts/<id>/result`, with their standing), at N graded attempts of one exam.

    .venv/bin/python bench/bench_result.py [--db sqlite|postgresql|both] [--candidates 2000] [--reads 200]

The exam (ten single-choice questions, results shown at once) is sat by N candidates; their attempts are started
by the engine and then marked submitted and graded in one statement each (random scores and times: the reads
need graded rows, not the grading). Each of `--reads` candidates (every tenth) reads both, through Flask's test
client: server time in process, what gunicorn adds is not in it. Two rounds: `stale` (no kept ranking yet: the
first reads after a burst of submits) and `kept` (the exam ranked once). The SQL statements per read are counted.
"""

import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta

from common import ROOT, bench_main, make_database, percentile
from flask_migrate import upgrade
from sqlalchemy import event, update

PASSWORD = "Bench-Result-2026"  # noqa: S105


def build(url: str):
    from common import bench_keys

    from app import create_app
    from config import Config

    cfg = type("BenchResultConfig", (Config,), {
        "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "SESSION_COOKIE_SECURE": False,
        "RATELIMIT_ENABLED": False, "JOBS_URL": "memory", **bench_keys(),
    })  # fmt: skip
    cfg.from_env = classmethod(lambda cls, path: {})
    app = create_app(cfg)
    app.instance_path = tempfile.mkdtemp(prefix="qe-bench-result-")
    return app


def generate(app, n: int, rng: random.Random) -> tuple[str, list[tuple[int, str]]]:
    """The exam, N candidates with graded attempts; returns (exam code, [(attempt id, username)])."""
    from bench_exam import NO_LOGIN, fill_bank
    from werkzeug.security import generate_password_hash

    from accounts.models import Cadre, RoleAssignment, User
    from accounts.services import create_unit
    from core.extensions import db
    from core.models import now_utc
    from core.policy import Role
    from exam import definition, publishing
    from exam.attempts import start_attempt
    from exam.models import Attempt

    now = now_utc()
    top = create_unit("TOP", "区委组织部", "party_committee", None)
    admin = User(username="bench", name="bench", must_change_password=False, active=True, password_hash=NO_LOGIN)
    admin.roles.append(RoleAssignment(role=Role.SYSTEM_ADMIN))
    db.session.add(admin)
    bank = fill_bank(admin, "RESBANK", top, now)
    password = generate_password_hash(PASSWORD)
    users = []
    for i in range(n):
        user = User(username=f"R{i:05d}", name=f"考生{i}", must_change_password=False, active=True,
                    password_hash=password)  # fmt: skip
        db.session.add(user)
        db.session.add(Cadre(user=user, unit=top, gender="male", birth_date=date(1990, 1, 1), rank="section_chief",
                             position="科员", education="bachelor", political_status="cpc_member"))  # fmt: skip
        users.append(user)
    values = {"title": "成绩读取基准", "subject": "政治理论", "instructions": "", "paper_mode": "drawn",
              "duration_minutes": 60, "opens_at": now - timedelta(hours=2), "closes_at": now + timedelta(hours=6),
              "attempts_allowed": 1, "pass_mark": 6, "shuffle_questions": True, "shuffle_options": True,
              "mc_policy": "partial", "release_policy": "immediate", "review_policy": "score",
              "focus_loss_limit": None}  # fmt: skip
    exam = definition.create_exam(admin, "RES1", values, now)
    definition.set_eligibility(admin, exam, {"unit_ids": [top.id]}, now)
    section = definition.add_section(admin, exam, "一、单选题", "single", 1, now)
    definition.add_rule(admin, section, now, bank=bank, count=10)
    db.session.commit()
    publishing.publish(admin, exam, now)
    db.session.commit()
    started = now - timedelta(hours=1)
    out = []
    for user in users:
        attempt = start_attempt(exam, user, started)
        out.append((attempt.id, user.username))
    db.session.commit()
    from exam.integrity import rescoring

    with rescoring("regrade"):  # the engine's guard lets scores change only on a grading path
        for attempt_id, _name in out:
            score = rng.randint(0, 10)
            db.session.execute(
                update(Attempt)
                .where(Attempt.id == attempt_id)
                .values(status="submitted", ended_at=started + timedelta(seconds=rng.randint(600, 3000)), score=score,
                        fully_graded=True, passed=score >= 6)
            )  # fmt: skip
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
    return "RES1", out


def run(kind: str, args) -> dict:
    from core.extensions import db

    url, drop = make_database(kind)
    rng = random.Random(23)
    app = build(url)
    try:
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            t = time.perf_counter()
            code, attempts = generate(app, args.candidates, rng)
            generated = time.perf_counter() - t
            sent = [0]

            def count(*_args):
                sent[0] += 1

            event.listen(db.engine, "before_cursor_execute", count)
        readers = attempts[:: max(1, len(attempts) // args.reads)][: args.reads]
        clients = []
        for attempt_id, username in readers:
            client = app.test_client()
            token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").get_data(as_text=True))[1]
            response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
            assert response.status_code == 302, response.get_data(as_text=True)[:500]
            clients.append((attempt_id, client))
        out = {"db": kind, "candidates": args.candidates, "reads": len(readers), "generate_s": generated}
        for label in ("stale", "kept"):
            if label == "kept":
                with app.app_context():
                    from core.models import now_utc
                    from exam.models import Exam
                    from reports import ranking

                    exam = db.session.scalar(db.select(Exam).where(Exam.code == code))
                    ranking.kept_ranks(exam, now_utc())
                    db.session.commit()
            for name, path in (("api", "/api/v1/attempts/{}"), ("page", "/my/attempts/{}/result")):
                times, statements = [], 0
                for attempt_id, client in clients:
                    sent[0] = 0
                    t = time.perf_counter()
                    response = client.get(path.format(attempt_id))
                    times.append((time.perf_counter() - t) * 1000)
                    statements += sent[0]
                    assert response.status_code == 200, (path, response.status_code)
                out[f"{label}_{name}"] = {"median": percentile(times, 50), "p95": percentile(times, 95),
                                          "statements": statements / len(clients)}  # fmt: skip
        return out
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop()


def report(results: list[dict]) -> str:
    lines = ["| database | round | read | median ms | p95 ms | statements |", "|---|---|---|---|---|---|"]
    for r in results:
        for label in ("stale", "kept"):
            for name in ("api", "page"):
                m = r[f"{label}_{name}"]
                lines.append(f"| {r['db']} | {label} | {name} | {m['median']:.1f} | {m['p95']:.1f} | "
                             f"{m['statements']:.1f} |")  # fmt: skip
    first = results[0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return "\n".join([
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · reading the result (commit {commit or '?'})", "",
        f"`bench/bench_result.py`: {first['candidates']} graded attempts of one exam, {first['reads']} candidates "
        "each reading the API's attempt and the result page, in process (Flask's test client).", "", *lines, "",
    ])  # fmt: skip


def add_arguments(parser) -> None:
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--reads", type=int, default=200)


if __name__ == "__main__":
    sys.exit(bench_main(__doc__, run, report, add_arguments))
