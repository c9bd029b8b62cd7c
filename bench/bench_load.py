"""Load benchmark of whole exams: QualExam under gunicorn against the limit app, side by side, on each database.

    .venv/bin/python bench/bench_load.py [--db sqlite|postgresql|both] [--candidates 2000] [--write]

For each database: N cadres with API tokens and a published 100-question drawn exam (all objective types and two
essays, papers drawn at publishing), QualExam served by `gunicorn -c gunicorn.conf.py wsgi:app` with the finalizer
(`flask exams finalize-overdue --every 5`) beside it, and the load driver (bench/load_driver.py) running the start
storm, the steady autosave steps and the deadline burst against it; then the same driver against the limit app
(bench/limit_app.py) served by the same gunicorn settings on the same database server. At the end the database is
checked: every save that was acknowledged is stored with its value (`lost=0 mismatched=0`), and every attempt is
finalized and its objective answers graded.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta

from common import ROOT, bench_main, build_app, make_database
from flask_migrate import upgrade
from load_driver import Driver, Plan

VENV_BIN = ROOT / ".venv" / "bin"
EXAM = "LOAD1"
P99_TARGET_MS = 150


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- data


def generate(kind: str, n: int) -> dict:
    """A fresh database with the exam, its bank and N candidates with tokens; papers drawn at publishing."""
    from bench_exam import NO_LOGIN, SECTIONS, fill_bank

    from accounts.models import Cadre, RoleAssignment, Unit, User
    from accounts.services import create_api_token, create_unit
    from core.extensions import db
    from core.models import now_utc
    from core.policy import Role
    from exam import definition, publishing, review
    from exam.attempts import start_attempt
    from exam.models import Attempt

    url, drop = make_database(kind)
    app = build_app(url, tempfile.mkdtemp(prefix="qe-bench-instance-"))
    t = time.perf_counter()
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        now = now_utc()
        top = create_unit("TOP", "区委组织部", "party_committee", None)
        units = [create_unit(f"U{i:02d}", f"第{i}单位", "town", top) for i in range(20)]
        admin = User(username="bench", name="bench", must_change_password=False, active=True, password_hash=NO_LOGIN)
        admin.roles.append(RoleAssignment(role=Role.SYSTEM_ADMIN))
        db.session.add(admin)
        bank = fill_bank(admin, "LOADBANK", top, now)
        tokens = []
        for i in range(n):
            user = User(username=f"L{i:05d}", name=f"考生{i}", must_change_password=False, active=True,
                        password_hash=NO_LOGIN)  # fmt: skip
            db.session.add(user)
            db.session.add(Cadre(user=user, unit=units[i % len(units)], gender="male", birth_date=date(1993, 1, 1),
                                 rank="section_chief", position="科员", education="bachelor",
                                 political_status="cpc_member"))  # fmt: skip
            db.session.flush()
            tokens.append(create_api_token(user, "bench", now))
        values = {"title": "负载基准考试", "subject": "政治理论", "instructions": "", "paper_mode": "drawn",
                  "duration_minutes": 120, "opens_at": now - timedelta(minutes=5),
                  "closes_at": now + timedelta(hours=6), "attempts_allowed": 1, "pass_mark": 60,
                  "shuffle_questions": True, "shuffle_options": True, "mc_policy": "partial",
                  "release_policy": "immediate", "review_policy": "score", "focus_loss_limit": None}  # fmt: skip
        exam = definition.create_exam(admin, EXAM, values, now)
        definition.set_eligibility(admin, exam, {"unit_ids": [top.id]}, now)
        for title, qtype, count, points in SECTIONS:
            section = definition.add_section(admin, exam, title, qtype, points, now)
            definition.add_rule(admin, section, now, bank=bank, count=count)
        db.session.commit()
        assert publishing.publish(admin, exam, now) == n
        db.session.commit()
        if kind == "postgresql":
            db.session.execute(db.text("ANALYZE"))
            db.session.commit()
        # One candidate's paper as the API shows it, for the limit app to send to everyone (drawn, then dropped).
        first = db.session.scalar(db.select(User).where(User.username == "L00000"))
        attempt = start_attempt(exam, first, now)
        paper = review.paper(attempt)
        db.session.rollback()
        assert db.session.scalar(db.select(db.func.count(Attempt.id))) == 0
        unit_count = db.session.scalar(db.select(db.func.count(Unit.id)))
    return {"url": url, "drop": drop, "app": app, "tokens": tokens, "paper": paper, "units": unit_count,
            "generate_s": time.perf_counter() - t}  # fmt: skip


# ---------------------------------------------------------------- servers


class Server:
    """A gunicorn (and, for QualExam, the finalizer) in the background, stopped on exit."""

    def __init__(self, name: str, args: list[str], env: dict, cwd, extra: list[list[str]] = ()):
        self.name, self.port = name, free_port()
        self.env = {**os.environ, **env, "QE_BIND": f"127.0.0.1:{self.port}", "PYTHONUNBUFFERED": "1"}
        self.log = tempfile.NamedTemporaryFile("w", prefix=f"qe-bench-{name}-", suffix=".log", delete=False)  # noqa: SIM115
        cmd = [str(VENV_BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), *args]
        self.procs = [subprocess.Popen(cmd, env=self.env, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT)]
        for other in extra:
            self.procs.append(subprocess.Popen(other, env=self.env, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT))
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                if self.procs[0].poll() is not None:
                    raise RuntimeError(f"{self.name} did not start; see {self.log.name}") from None
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not listen in 60 s; see {self.log.name}")

    def __exit__(self, *exc):
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.log.close()


def drive(url: str, tokens: list[str], plan: Plan, set_close) -> tuple[Driver, float]:
    """Fix the exam's close at the end of the plan, then run the driver; returns it and the close (wall clock)."""
    import asyncio

    close_wall = datetime.now(UTC) + timedelta(seconds=plan.total_seconds())
    close_mono = time.monotonic() + plan.total_seconds()
    set_close(close_wall)
    driver = Driver(url, EXAM, tokens, plan)
    asyncio.run(driver.run(close_mono))
    return driver, close_wall


# ---------------------------------------------------------------- checks


def shown(qtype: str, order: list, value):
    if value is None:
        return None
    if qtype == "single":
        return order.index(value)
    if qtype == "multiple":
        return sorted(order.index(v) for v in value)
    return value


def compare(driver: Driver, stored: dict) -> dict:
    """`stored`: (attempt, position) -> (seq, value as the candidate's paper shows it)."""
    lost = mismatched = newer = 0
    for key, (seq, value) in driver.acknowledged.items():
        got = stored.get(key)
        if got is None or got[0] < seq:
            lost += 1
        elif got[0] > seq:
            newer += 1  # a later save of the same client landed, whose answer was lost on the way back
        elif got[1] != value:
            mismatched += 1
    return {"acknowledged": len(driver.acknowledged), "lost": lost, "mismatched": mismatched, "newer": newer}


def check_qualexam(app, driver: Driver, close_wall: datetime) -> dict:
    """Wait until the server has finalized every attempt (or 120 s past the close), then compare the answers."""
    from sqlalchemy import func, select

    from core.extensions import db
    from exam.models import Answer, Attempt, AttemptStatus, ExamSection, PaperItem

    with app.app_context():
        finalized_after = None
        while True:
            db.session.rollback()
            open_n = db.session.scalar(
                select(func.count(Attempt.id)).where(Attempt.status == AttemptStatus.IN_PROGRESS)
            )
            now = datetime.now(UTC)
            if open_n == 0:
                finalized_after = (now - close_wall).total_seconds()
                break
            if now > close_wall + timedelta(seconds=120):
                break
            time.sleep(0.5)
        items = {
            (r.id, r.position): (r.qtype, r.option_order or [])
            for r in db.session.execute(
                select(Attempt.id, PaperItem.position, ExamSection.qtype, PaperItem.option_order)
                .join(PaperItem, PaperItem.paper_id == Attempt.paper_id)
                .join(ExamSection, ExamSection.id == PaperItem.section_id)
            )
        }
        stored = {}
        ungraded = 0
        for r in db.session.execute(
            select(Answer.attempt_id, Answer.position, Answer.seq, Answer.value, Answer.points)
        ):
            qtype, order = items[(r.attempt_id, r.position)]
            if r.points is None and qtype != "essay":
                ungraded += 1
            if r.seq > 0:
                stored[(r.attempt_id, r.position)] = (r.seq, shown(qtype, order, r.value))
        attempts = db.session.scalar(select(func.count(Attempt.id)))
        rows = db.session.scalar(select(func.count(Answer.id)))
        db.session.remove()
    return {**compare(driver, stored), "attempts": attempts, "open": open_n, "finalized_after_s": finalized_after,
            "ungraded_objective": ungraded, "answer_rows_per_attempt": rows / max(1, attempts)}  # fmt: skip


def check_limit(db_url: str, driver: Driver) -> dict:
    if db_url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            rows = conn.execute("SELECT attempt_id, position, seq, value FROM limit_answers").fetchall()
    else:
        import sqlite3

        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            rows = conn.execute("SELECT attempt_id, position, seq, value FROM limit_answers").fetchall()
    return compare(driver, {(a, p): (s, json.loads(v)) for a, p, s, v in rows})


# ---------------------------------------------------------------- one database


def run(kind: str, args) -> dict:
    plan = Plan(storm_seconds=args.storm, steps=[(r, args.step_seconds) for r in args.rates],
                burst_seconds=args.burst, connections=args.connections)  # fmt: skip
    print(f"… {kind}: generating {args.candidates} candidates", file=sys.stderr)
    data = generate(kind, args.candidates)
    out = {"db": kind, "candidates": args.candidates, "plan": plan, "generate_s": data["generate_s"]}
    limit_url, limit_drop = make_database(kind)
    try:
        server_env = {"QE_WORKERS": str(args.workers), "QE_THREADS": str(args.threads)}
        # The limit app first: its own tables in its own database on the same server.
        with tempfile.NamedTemporaryFile("w", prefix="qe-limit-", suffix=".json", delete=False) as fh:
            limit_data = fh.name
            json.dump({"tokens": {t: i + 1 for i, t in enumerate(data["tokens"])}, "paper": data["paper"]}, fh)
        env = {**server_env, "LIMIT_DB": limit_url, "LIMIT_DATA": limit_data}
        print(f"… {kind}: limit app", file=sys.stderr)
        with Server("limit", ["limit_app:app"], env, ROOT / "bench") as server:
            driver, _close = drive(server.url, data["tokens"], plan, lambda close: None)
        out["limit"] = {"summary": driver.summary(), "check": check_limit(limit_url, driver)}

        app = data["app"]

        def set_close(close):
            from core.extensions import db
            from exam.models import Exam

            with app.app_context():
                db.session.execute(db.update(Exam).where(Exam.code == EXAM).values(closes_at=close))
                db.session.commit()
                db.session.remove()

        env = {**server_env, "DATABASE_URL": data["url"], "SECRET_KEY": "bench-load", "QE_COOKIE_SECURE": "0"}
        finalizer = [str(VENV_BIN / "flask"), "--app", "app", "exams", "finalize-overdue", "--every", "5"]
        print(f"… {kind}: QualExam", file=sys.stderr)
        with Server("qualexam", ["wsgi:app"], env, ROOT, extra=[finalizer]) as server:
            driver, close = drive(server.url, data["tokens"], plan, set_close)
            out["qualexam"] = {"summary": driver.summary(), "check": check_qualexam(app, driver, close)}
    finally:
        with data["app"].app_context():
            from core.extensions import db

            db.session.remove()
            db.engine.dispose()
        data["drop"]()
        limit_drop()
    for name in ("limit", "qualexam"):
        c = out[name]["check"]
        print(f"{kind} {name}: lost={c['lost']} mismatched={c['mismatched']}", file=sys.stderr)
    return out


# ---------------------------------------------------------------- report


def best_steady(summary: dict) -> tuple[float, int] | None:
    """The highest saves/s of a steady step with p99 under the target and no errors, and its offered rate."""
    best = None
    for (phase, endpoint), s in summary.items():
        held = phase.startswith("steady@") and endpoint == "save" and s["p99"] < P99_TARGET_MS and not s["errors"]
        if held and (best is None or s["rps"] > best[0]):
            best = (s["rps"], int(phase.split("@")[1]))
    return best


def _fmt_errors(errors: dict) -> str:
    return ", ".join(f"{status or 'no reply'}×{n}" for status, n in sorted(errors.items())) or "0"


def report(results: list[dict]) -> str:
    import subprocess as sp

    commit = sp.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    r0 = results[0]
    plan = r0["plan"]
    lines = [
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · load: whole exams against the limit app (commit {commit})",
        "",
        f"`bench/bench_load.py` (part of `make bench`); {os.cpu_count()} cores, Python {sys.version.split()[0]}; the "
        "servers, the databases and the load driver share this machine. Both apps are served by "
        f"`gunicorn -c gunicorn.conf.py` ({r0.get('workers', '?')} gthread workers × {r0.get('threads', '?')} "
        f"threads). {r0['candidates']} candidates through the JSON API with bearer tokens: a start storm over "
        f"{plan.storm_seconds:g} s, steady autosave steps of {plan.steps[0][1]:g} s each, and a deadline burst "
        f"({plan.submit_share:.0%} submit in the last {plan.burst_seconds:g} s; the rest are finalized by the server).",
        "",
    ]
    for r in results:
        header = "| phase · endpoint | app | requests | req/s | p50 | p95 | p99 | max (ms) | errors |"
        lines += [f"### {r['db']}", "", header, "|---|---|---|---|---|---|---|---|---|"]
        keys = sorted(set(r["limit"]["summary"]) | set(r["qualexam"]["summary"]),
                      key=lambda k: (["storm", "steady", "burst"].index(k[0].split("@")[0]),
                                     int(k[0].split("@")[1]) if "@" in k[0] else 0, k[1]))  # fmt: skip
        for key in keys:
            for name in ("limit", "qualexam"):
                s = r[name]["summary"].get(key)
                if s:
                    lines.append(
                        f"| {key[0]} · {key[1]} | {name} | {s['n']} | {s['rps']:.0f} | {s['p50']:.0f} | "
                        f"{s['p95']:.0f} | {s['p99']:.0f} | {s['max']:.0f} | {_fmt_errors(s['errors'])} |"
                    )
        q, lim = r["qualexam"], r["limit"]
        bq, bl = best_steady(q["summary"]), best_steady(lim["summary"])
        ratio = f"{bq[0] / bl[0]:.0%}" if bq and bl else "n/a"
        qc = q["check"]
        storm = q["summary"].get(("storm", "start"), {})
        submit = q["summary"].get(("burst", "submit"), {})
        lines += [
            "",
            f"- **Steady autosave** (best step with save p99 < {P99_TARGET_MS} ms and no errors): QualExam "
            f"{bq[0]:.0f} saves/s"
            if bq
            else f"- **Steady autosave**: QualExam held p99 < {P99_TARGET_MS} ms at no step",
        ]
        lines[-1] += f", limit app {bl[0]:.0f} saves/s: **{ratio}** of the limit." if bl else "."
        if bq:
            lines.append(f"  At one save per candidate every 30 s that is {bq[0] * 30:,.0f} candidates on this node.")
        lines += [
            f"- **Start storm:** {storm.get('n', 0)} starts, p99 {storm.get('p99', 0):.0f} ms, errors "
            f"{_fmt_errors(storm.get('errors', {}))}.",
            f"- **Deadline burst:** {submit.get('n', 0)} submits, p99 {submit.get('p99', 0):.0f} ms, errors "
            f"{_fmt_errors(submit.get('errors', {}))}; every attempt finalized "
            + (
                f"{qc['finalized_after_s']:.0f} s after the close"
                if qc["finalized_after_s"] is not None
                else f"**not** within 120 s ({qc['open']} still open)"
            )
            + f", objective answers ungraded: {qc['ungraded_objective']}.",
            f"- **Nothing lost:** QualExam `lost={qc['lost']} mismatched={qc['mismatched']}` "
            f"({qc['acknowledged']} acknowledged answers, {qc['newer']} newer); limit app "
            f"`lost={lim['check']['lost']} mismatched={lim['check']['mismatched']}`.",
            f"- Data: {r['candidates']} candidates in {r['generate_s']:.0f} s.",
            "",
        ]
    return "\n".join(lines) + "\n"


def main():
    def options(parser):
        parser.add_argument("--candidates", type=int, default=2000)
        parser.add_argument("--storm", type=float, default=60)
        parser.add_argument(
            "--rates", type=lambda s: [int(x) for x in s.split(",")], default=[100, 200, 300, 400, 500, 600, 800]
        )
        parser.add_argument("--step-seconds", type=float, default=15)
        parser.add_argument("--burst", type=float, default=30)
        parser.add_argument("--connections", type=int, default=200)
        parser.add_argument("--workers", type=int, default=os.cpu_count())
        parser.add_argument("--threads", type=int, default=4)

    def run_with(kind, args):
        out = run(kind, args)
        out.update(workers=args.workers, threads=args.threads)
        return out

    bench_main(__doc__, run_with, report, options)


if __name__ == "__main__":
    main()
