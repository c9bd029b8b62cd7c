"""Load benchmark of whole exams: QualExam under gunicorn against the limit app, side by side, on each database.

    .venv/bin/python bench/bench_load.py [--db sqlite|postgresql|both] [--write] [--quick]
        [--workers N] [--threads N] [--worker-class gthread|sync|…] [--candidates 2223] [--loop-concurrency 200] …

For each database: a published 100-question drawn exam (all objective types and two essays, papers drawn at
publishing) and cadres with API tokens, on a fresh database; the limit app (bench/limit_app.py, its own tables in
its own database on the same server) and QualExam (`gunicorn -c gunicorn.conf.py wsgi:app`, with the finalizer
`flask exams finalize-overdue --every 5` beside it) served one after the other by the same gunicorn settings, and
the load driver (bench/load_driver.py) against each:
1. the closed loop of whole candidates (issue 23's workload): C at once, no think time, each listing the exams,
   starting, saving 20 answers one request each, submitting and reading the result; the next fresh candidate
   begins as one ends. Throughput is whole candidates per second; QualExam's ratio to the limit app is the headline.
2. the reading of a result, in process (Flask's test client, after the loop, one request at a time): server time
   without queueing, which the "under 20 ms" target is about.
3. the phases: a start storm, steady autosave steps (one at 333 saves/s, 10,000 candidates at one save per 30 s),
   and a deadline burst (90 % of the candidates save, submit and read the result in the last 30 s before the
   close; the server finalizes the rest).
After each run the database is checked: every save that was acknowledged is stored with its value
(`lost=0 mismatched=0`), and every attempt ends graded (the time after the close is measured).
The report ends with the issue's targets beside the measured figures, for each database. `--quick` runs every part
with small numbers (about 2 minutes a database), to check the harness; its figures judge nothing.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta

from common import ROOT, bench_main, build_app, key_env, make_database, percentile
from flask_migrate import upgrade
from load_driver import ClosedLoop, Driver, Loop, Plan

VENV_BIN = ROOT / ".venv" / "bin"
EXAM = "LOAD1"
P99_TARGET_MS = 150

# Issue 23's targets.
LOOP_RATIO_TARGET = 0.75  # whole candidates per second, against the limit app's
STEADY_RATE, STEADY_P99_MS = 333, 150  # PostgreSQL: 10,000 candidates at one save per 30 s
STORM_STARTS, STORM_SECONDS, STORM_P99_MS = 2000, 60, 500
BURST_SUBMITS, BURST_SECONDS, BURST_P99_MS, GRADED_WITHIN_S = 2000, 30, 1000, 60
RESULT_SERVER_MS = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- data


def seed_district(n: int, prefix: str, now) -> tuple:
    """What the load benchmarks start from: the top unit with 20 units under it, a system admin ("bench") and N
    cadres (`prefix`00000, …) spread over the units, each with an API token. Returns (admin, top, tokens)."""
    from bench_exam import NO_LOGIN

    from accounts.models import Cadre, RoleAssignment, User
    from accounts.services import create_api_token, create_unit
    from core.extensions import db
    from core.policy import Role

    top = create_unit("TOP", "区委组织部", "party_committee", None)
    units = [create_unit(f"U{i:02d}", f"第{i}单位", "town", top) for i in range(20)]
    admin = User(username="bench", name="bench", must_change_password=False, active=True, password_hash=NO_LOGIN)
    admin.roles.append(RoleAssignment(role=Role.SYSTEM_ADMIN))
    db.session.add(admin)
    tokens = []
    for i in range(n):
        user = User(username=f"{prefix}{i:05d}", name=f"考生{i}", must_change_password=False, active=True,
                    password_hash=NO_LOGIN)  # fmt: skip
        db.session.add(user)
        db.session.add(Cadre(user=user, unit=units[i % len(units)], gender="male", birth_date=date(1993, 1, 1),
                             rank="section_chief", position="科员", education="bachelor",
                             political_status="cpc_member"))  # fmt: skip
        db.session.flush()
        tokens.append(create_api_token(user, "bench", now))
    return admin, top, tokens


def drawn_exam(admin, code: str, title: str, bank, top, opens_at, closes_at, now):
    """A drawn exam of bench_exam's SECTIONS from `bank` for every cadre under `top`, published (a paper drawn for
    each, committed). Returns (exam, papers drawn)."""
    from bench_exam import SECTIONS

    from core.extensions import db
    from exam import definition, publishing

    values = {"title": title, "subject": "政治理论", "instructions": "", "paper_mode": "drawn",
              "duration_minutes": 120, "opens_at": opens_at, "closes_at": closes_at, "attempts_allowed": 1,
              "pass_mark": 60, "shuffle_questions": True, "shuffle_options": True, "mc_policy": "partial",
              "release_policy": "immediate", "review_policy": "score", "focus_loss_limit": None}  # fmt: skip
    exam = definition.create_exam(admin, code, values, now)
    definition.set_eligibility(admin, exam, {"unit_ids": [top.id]}, now)
    for section_title, qtype, count, points in SECTIONS:
        section = definition.add_section(admin, exam, section_title, qtype, points, now)
        definition.add_rule(admin, section, now, bank=bank, count=count)
    db.session.commit()
    papers = publishing.publish(admin, exam, now)
    db.session.commit()
    return exam, papers


def generate(kind: str, n: int) -> dict:
    """A fresh database with the exam, its bank and N candidates with tokens; papers drawn at publishing."""
    from bench_exam import fill_bank

    from accounts.models import Unit, User
    from core.extensions import db
    from core.models import now_utc
    from exam import review
    from exam.attempts import start_attempt
    from exam.models import Attempt

    url, drop = make_database(kind)
    app = build_app(url, tempfile.mkdtemp(prefix="qe-bench-instance-"))
    t = time.perf_counter()
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        now = now_utc()
        admin, top, tokens = seed_district(n, "L", now)
        bank = fill_bank(admin, "LOADBANK", top, now)
        exam, papers = drawn_exam(admin, EXAM, "负载基准考试", bank, top, now - timedelta(minutes=5),
                                  now + timedelta(hours=6), now)  # fmt: skip
        assert papers == n
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
        listed = {"code": exam.code, "title": exam.title, "subject": exam.subject, "phase": "open",
                  "opens_at": review.iso(exam.opens_at), "closes_at": review.iso(exam.closes_at),
                  "duration_minutes": exam.duration_minutes, "attempts_allowed": exam.attempts_allowed,
                  "access_code_required": False}  # fmt: skip
    return {"url": url, "drop": drop, "app": app, "tokens": tokens, "paper": paper, "exam": listed,
            "units": unit_count, "generate_s": time.perf_counter() - t}  # fmt: skip


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


def drive_loop(url: str, tokens: list[str], loop: Loop) -> ClosedLoop:
    import asyncio

    driver = ClosedLoop(url, EXAM, tokens, loop)
    asyncio.run(driver.run())
    return driver


def result_server_time(app, attempts: list[tuple[str, int]], n: int = 200) -> dict:
    """Reading a result in process (Flask's test client), one request at a time, with no other load from us: the
    app's own time for `GET /api/v1/attempts/<id>` of submitted attempts, with none of gunicorn's queueing."""
    client = app.test_client()
    times = []
    for i, (token, attempt_id) in enumerate(attempts[: n + 5]):
        t = time.perf_counter()
        response = client.get(f"/api/v1/attempts/{attempt_id}", headers={"Authorization": f"Bearer {token}"})
        ms = (time.perf_counter() - t) * 1000
        assert response.status_code == 200 and response.get_json()["status"] != "in_progress", response.status_code
        if i >= 5:  # the first few warm the process (imports, the question versions kept per process)
            times.append(ms)
    with app.app_context():
        from core.extensions import db

        db.session.remove()
    if not times:
        return {"n": 0}
    return {"n": len(times), "p50": percentile(times, 50), "p95": percentile(times, 95), "max": max(times)}


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


def check_qualexam(app, driver, close_wall: datetime | None = None) -> dict:
    """Compare the acknowledged answers with the stored ones. With `close_wall` (the phases), first wait until the
    server has ended and graded every attempt (or 120 s past the close) and say how long after the close."""
    from sqlalchemy import and_, func, select

    from core.extensions import db
    from exam.models import Answer, Attempt, AttemptStatus, ExamSection, PaperItem

    # Objective items of any attempt (in progress or ended) without their points: 0 once every attempt is graded.
    ungraded_query = (
        select(func.count())
        .select_from(Attempt)
        .join(PaperItem, PaperItem.paper_id == Attempt.paper_id)
        .join(ExamSection, ExamSection.id == PaperItem.section_id)
        .outerjoin(Answer, and_(Answer.attempt_id == Attempt.id, Answer.position == PaperItem.position))
        .where(ExamSection.qtype != "essay", Answer.points.is_(None))
    )
    out = {"finalized_after_s": None, "graded_after_s": None}
    with app.app_context():
        while close_wall is not None:
            db.session.rollback()
            now = datetime.now(UTC)
            if out["finalized_after_s"] is None:
                open_n = db.session.scalar(
                    select(func.count(Attempt.id)).where(Attempt.status == AttemptStatus.IN_PROGRESS)
                )
                if open_n == 0:
                    out["finalized_after_s"] = (now - close_wall).total_seconds()
            if out["finalized_after_s"] is not None and db.session.scalar(ungraded_query) == 0:
                out["graded_after_s"] = (datetime.now(UTC) - close_wall).total_seconds()
                break
            if now > close_wall + timedelta(seconds=120):
                break
            time.sleep(1)
        db.session.rollback()
        stored = {
            (r.attempt_id, r.position): (r.seq, shown(r.qtype, r.option_order or [], r.value))
            for r in db.session.execute(
                select(Answer.attempt_id, Answer.position, Answer.seq, Answer.value, ExamSection.qtype,
                       PaperItem.option_order)
                .join(Attempt, Attempt.id == Answer.attempt_id)
                .join(PaperItem, and_(PaperItem.paper_id == Attempt.paper_id, PaperItem.position == Answer.position))
                .join(ExamSection, ExamSection.id == PaperItem.section_id)
                .where(Answer.seq > 0)
            )
        }  # fmt: skip
        out.update(
            attempts=db.session.scalar(select(func.count(Attempt.id))),
            open=db.session.scalar(select(func.count(Attempt.id)).where(Attempt.status == AttemptStatus.IN_PROGRESS)),
            ungraded_objective=db.session.scalar(ungraded_query),
        )
        db.session.remove()
    return {**compare(driver, stored), **out}


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
                burst_seconds=args.burst, submit_share=args.submit_share, connections=args.connections,
                settle_seconds=args.settle, slack_seconds=args.slack,
                stop_at_p99_ms=None if args.quick else P99_TARGET_MS)  # fmt: skip
    loop = Loop(concurrency=args.loop_concurrency, seconds=args.loop_seconds, warmup_seconds=args.loop_warmup)
    print(f"… {kind}: generating {args.candidates} + {args.loop_candidates} candidates", file=sys.stderr)
    data = generate(kind, args.candidates + args.loop_candidates)
    # Each candidate sits once: the phases' and the loop's are different people (the loop's never seen before).
    tokens, loop_tokens = data["tokens"][: args.candidates], data["tokens"][args.candidates :]
    out = {"db": kind, "candidates": args.candidates, "plan": plan, "loop": loop, "generate_s": data["generate_s"]}
    app = data["app"]
    limit_url, limit_drop = make_database(kind)
    jobs_dir = tempfile.mkdtemp(prefix="qe-bench-jobs-")
    try:
        server_env = {"QE_WORKERS": str(args.workers), "QE_THREADS": str(args.threads),
                      "QE_WORKER_CLASS": args.worker_class}  # fmt: skip
        # The limit app: its own tables in its own database on the same server.
        with tempfile.NamedTemporaryFile("w", prefix="qe-limit-", suffix=".json", delete=False) as fh:
            limit_data = fh.name
            json.dump({"tokens": {t: i + 1 for i, t in enumerate(data["tokens"])}, "paper": data["paper"],
                       "exam": data["exam"]}, fh)  # fmt: skip
        limit_env = {**server_env, "LIMIT_DB": limit_url, "LIMIT_DATA": limit_data}
        # QualExam as in production: gunicorn, one job worker (the submits' grading, the kept ranking; its queue a
        # SQLite file of the run's own) and the finalizer every 5 s (the worker's own runs once a minute).
        qe_env = {**server_env, **key_env(app), "DATABASE_URL": data["url"], "SECRET_KEY": "bench-load",
                  "QE_COOKIE_SECURE": "0",
                  "QE_JOBS_URL": f"sqlite:///{jobs_dir}/jobs.sqlite3"}  # fmt: skip
        flask = [str(VENV_BIN / "flask"), "--app", "app"]
        finalizer = [*flask, "exams", "finalize-overdue", "--every", "5"]
        worker = [*flask, "jobs", "worker", "-w", "1", "--quiet"]

        def limit_server():
            return Server("limit", ["limit_app:app"], limit_env, ROOT / "bench")

        def qualexam_server():
            return Server("qualexam", ["wsgi:app"], qe_env, ROOT, extra=[finalizer, worker])

        def set_close(close):
            from core.extensions import db
            from exam.models import Exam

            with app.app_context():
                db.session.execute(db.update(Exam).where(Exam.code == EXAM).values(closes_at=close))
                db.session.commit()
                db.session.remove()

        # 1. The closed loop of whole candidates, the two apps one right after the other (the same machine state).
        print(f"… {kind}: closed loop, limit app then QualExam", file=sys.stderr)
        with limit_server() as server:
            driver = drive_loop(server.url, loop_tokens, loop)
        out["loop_limit"] = {"throughput": driver.throughput(), "summary": driver.summary(),
                             "check": check_limit(limit_url, driver)}  # fmt: skip
        with qualexam_server() as server:
            driver = drive_loop(server.url, loop_tokens, loop)
        out["loop_qualexam"] = {"throughput": driver.throughput(), "summary": driver.summary(),
                                "check": check_qualexam(app, driver)}  # fmt: skip
        if args.loop_only:
            return out
        # 2. Reading a result: the app's own time, in process, on the loop's submitted attempts.
        out["result_server"] = result_server_time(app, driver.attempts)
        # 3. The phases: start storm, steady steps, deadline burst; the limit app first, as before.
        print(f"… {kind}: phases, limit app", file=sys.stderr)
        with limit_server() as server:
            driver, _close = drive(server.url, tokens, plan, lambda close: None)
        out["limit"] = {"summary": driver.summary(), "check": check_limit(limit_url, driver)}
        print(f"… {kind}: phases, QualExam", file=sys.stderr)
        with qualexam_server() as server:
            driver, close = drive(server.url, tokens, plan, set_close)
            out["qualexam"] = {"summary": driver.summary(), "check": check_qualexam(app, driver, close)}
    finally:
        with app.app_context():
            from core.extensions import db

            db.session.remove()
            db.engine.dispose()
        data["drop"]()
        limit_drop()
        shutil.rmtree(jobs_dir, ignore_errors=True)
    for name in ("loop_limit", "loop_qualexam", "limit", "qualexam"):
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


def _n_errors(s: dict) -> int:
    return sum(s.get("errors", {}).values())


def verdict(met: bool, comparable: bool = True) -> str:
    """met / not met; a run whose load was lighter than the target's (a quick run) judges nothing."""
    if not comparable:
        return "n/a (load below the target's)"
    return "met" if met else "**not met**"


def targets(r: dict) -> list[str]:
    """Issue 23's targets for one database: target | measured | ratio or verdict."""
    q, lim = r["qualexam"], r["limit"]
    qc, plan = q["check"], r["plan"]
    rows = []
    # Whole candidates per second, QualExam / limit app.
    tq, tl = r["loop_qualexam"]["throughput"], r["loop_limit"]["throughput"]
    ratio = tq["candidates_per_s"] / tl["candidates_per_s"] if tl["candidates_per_s"] else 0.0
    rows.append((
        f"whole candidates per second ≥ {LOOP_RATIO_TARGET:.2f} of the limit app's",
        f"QualExam {tq['candidates_per_s']:.1f}/s, limit app {tl['candidates_per_s']:.1f}/s "
        f"({r['loop'].concurrency} at once, counted over {tq['window_s']:.0f} s and {tl['window_s']:.0f} s)",
        f"**{ratio:.2f}**: " + verdict(ratio >= LOOP_RATIO_TARGET),
    ))  # fmt: skip
    # Steady autosave at 333/s.
    step = q["summary"].get((f"steady@{STEADY_RATE}", "save"))
    if step:
        held = step["rps"] >= 0.98 * STEADY_RATE and step["p99"] < STEADY_P99_MS and not step["errors"]
        measured = f"{step['rps']:.0f} saves/s, p99 {step['p99']:.0f} ms, errors {_fmt_errors(step['errors'])}"
    else:
        held, ran = False, [k[0] for k in q["summary"] if k[0].startswith("steady@")]
        measured = f"no {STEADY_RATE}/s step: the steps stopped after {', '.join(ran) or 'none'}"
    best = best_steady(q["summary"])
    measured += f"; best held: {best[0]:.0f}/s" if best else "; no step held"
    rows.append((
        f"steady autosave {STEADY_RATE} saves/s at p99 < {STEADY_P99_MS} ms (PostgreSQL)", measured,
        verdict(held) if r["db"] == "postgresql" else "(the target is PostgreSQL's) " + verdict(held),
    ))  # fmt: skip
    # Start storm.
    storm = q["summary"].get(("storm", "start"), {"n": 0, "p99": 0, "errors": {}})
    rate, target_rate = storm["n"] / plan.storm_seconds, STORM_STARTS / STORM_SECONDS
    rows.append((
        f"start storm: {STORM_STARTS:,} starts in {STORM_SECONDS} s, p99 < {STORM_P99_MS} ms",
        f"{storm['n']:,} starts in {plan.storm_seconds:.0f} s ({rate:.0f}/s), p99 {storm['p99']:.0f} ms, "
        f"errors {_fmt_errors(storm['errors'])}",
        verdict(storm["p99"] < STORM_P99_MS and not storm["errors"] and storm["n"] >= r["candidates"],
                rate >= 0.98 * target_rate),
    ))  # fmt: skip
    # Deadline burst and grading.
    submit = q["summary"].get(("burst", "submit"), {"n": 0, "p99": 0, "errors": {}})
    rate, target_rate = submit["n"] / plan.burst_seconds, BURST_SUBMITS / BURST_SECONDS
    rows.append((
        f"deadline burst: {BURST_SUBMITS:,} submits in {BURST_SECONDS} s, p99 < {BURST_P99_MS / 1000:g} s",
        f"{submit['n']:,} submits in {plan.burst_seconds:.0f} s ({rate:.0f}/s), p99 {submit['p99']:.0f} ms, "
        f"errors {_fmt_errors(submit['errors'])}",
        verdict(submit["p99"] < BURST_P99_MS and not submit["errors"], rate >= 0.98 * target_rate),
    ))  # fmt: skip
    graded = qc["graded_after_s"]
    rows.append((
        f"every attempt graded within {GRADED_WITHIN_S} s of the deadline",
        f"all {qc['attempts']:,} graded {graded:.0f} s after the close" if graded is not None
        else f"**not** within 120 s: {qc['open']} still open, {qc['ungraded_objective']} objective items ungraded",
        verdict(graded is not None and graded <= GRADED_WITHIN_S),
    ))  # fmt: skip
    # Reading the result.
    rs = r["result_server"]
    rows.append((
        f"reading the result: < {RESULT_SERVER_MS} ms of server time (p95)",
        f"p50 {rs['p50']:.1f} ms, p95 {rs['p95']:.1f} ms, max {rs['max']:.1f} ms ({rs['n']} results, in process)"
        if rs["n"] else "no result read",
        verdict(rs["n"] > 0 and rs["p95"] < RESULT_SERVER_MS),
    ))  # fmt: skip
    # Nothing lost.
    checks = {"QualExam": (r["loop_qualexam"]["check"], qc), "limit app": (r["loop_limit"]["check"], lim["check"])}
    parts, zero = [], True
    for name, (a, b) in checks.items():
        lost, bad = a["lost"] + b["lost"], a["mismatched"] + b["mismatched"]
        zero = zero and lost == bad == 0
        parts.append(f"{name} lost={lost} mismatched={bad} of {a['acknowledged'] + b['acknowledged']:,}")
    rows.append(("lost and mismatched answers: 0", "; ".join(parts), verdict(zero)))
    return ["| target | measured | ratio / verdict |", "|---|---|---|", *(f"| {a} | {b} | {c} |" for a, b, c in rows)]


def _commit() -> str:
    import subprocess as sp

    def git(*args):
        return sp.run(["git", *args], capture_output=True, text=True, cwd=ROOT)

    return git("rev-parse", "--short", "HEAD").stdout.strip() + ("" if git("diff", "--quiet", "HEAD").returncode
                                                                 == 0 else " with uncommitted changes")  # fmt: skip


def loop_report(results: list[dict]) -> str:
    """--loop-only: one row per database of the closed loop, for comparing serving settings run by run."""
    r0 = results[0]
    lines = [
        f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · closed loop only: {r0['workers']} {r0['worker_class']} "
        f"workers × {r0['threads']} threads (commit {_commit()})",
        "",
        "| database | QualExam candidates/s | limit app candidates/s | ratio | QualExam save p50 / p99 ms | "
        "QualExam start p50 / p99 ms | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        tq, tl = r["loop_qualexam"]["throughput"], r["loop_limit"]["throughput"]
        s = r["loop_qualexam"]["summary"]
        save, start = s.get(("loop", "save"), {}), s.get(("loop", "start"), {})
        errors = sum(_n_errors(v) for v in s.values())
        ratio = tq["candidates_per_s"] / tl["candidates_per_s"] if tl["candidates_per_s"] else 0.0
        lines.append(
            f"| {r['db']} | {tq['candidates_per_s']:.1f} | {tl['candidates_per_s']:.1f} | {ratio:.2f} | "
            f"{save.get('p50', 0):.0f} / {save.get('p99', 0):.0f} | {start.get('p50', 0):.0f} / "
            f"{start.get('p99', 0):.0f} | {errors} |"
        )
    return "\n".join(lines) + "\n"


def report(results: list[dict]) -> str:
    r0 = results[0]
    if r0.get("loop_only"):
        return loop_report(results)
    commit = _commit()
    plan, loop = r0["plan"], r0["loop"]
    lines = [
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · load: whole candidates and the phases against the limit app "
        f"(commit {commit}){' · QUICK: checks the harness, judges nothing' if r0['quick'] else ''}",
        "",
        f"`bench/bench_load.py` (part of `make bench`); {os.cpu_count()} cores, Python {sys.version.split()[0]}; the "
        "servers, the databases and the load driver share this machine. Both apps are served by "
        f"`gunicorn -c gunicorn.conf.py`: {r0['workers']} {r0['worker_class']} workers × {r0['threads']} threads; "
        "beside QualExam, one job worker (`flask jobs worker -w 1`: the submits' grading, the kept ranking) and the "
        "finalizer every 5 s.",
        f"- **Closed loop:** {loop.concurrency} candidates at once, no think time, each listing the exams, starting, "
        f"saving {loop.answers} answers one request each, submitting and reading the result; the next fresh "
        f"candidate begins as one ends, for {loop.seconds:g} s (throughput counted after {loop.warmup_seconds:g} s).",
        f"- **Phases:** {r0['candidates']} candidates through the JSON API with bearer tokens: a start storm over "
        f"{plan.storm_seconds:g} s, steady autosave steps of {plan.steps[0][1]:g} s each (up to the first whose p99 "
        f"reaches {P99_TARGET_MS} ms), and a deadline burst ({plan.submit_share:.0%} save, submit and read the "
        f"result in the last {plan.burst_seconds:g} s; the server finalizes the rest).",
        "",
    ]
    header = "| phase · endpoint | app | requests | req/s | p50 | p95 | p99 | max (ms) | errors |"
    order = ["loop", "storm", "steady", "burst"]
    for r in results:
        lines += [f"### {r['db']}", "", header, "|---|---|---|---|---|---|---|---|---|"]
        for names in (("loop_limit", "loop_qualexam"), ("limit", "qualexam")):
            keys = sorted(set(r[names[0]]["summary"]) | set(r[names[1]]["summary"]),
                          key=lambda k: (order.index(k[0].split("@")[0]),
                                         int(k[0].split("@")[1]) if "@" in k[0] else 0, k[1]))  # fmt: skip
            for key in keys:
                for name in names:
                    s = r[name]["summary"].get(key)
                    if s:
                        lines.append(
                            f"| {key[0]} · {key[1]} | {name.removeprefix('loop_')} | {s['n']} | {s['rps']:.0f} | "
                            f"{s['p50']:.0f} | {s['p95']:.0f} | {s['p99']:.0f} | {s['max']:.0f} | "
                            f"{_fmt_errors(s['errors'])} |"
                        )
        tq, tl = r["loop_qualexam"]["throughput"], r["loop_limit"]["throughput"]
        qc = r["qualexam"]["check"]
        lines += [""]
        for name, t in (("limit app", tl), ("QualExam", tq)):
            lines.append(
                f"- Closed loop, {name}: {t['finished']} candidates finished ({t['finished_ok']} without an error), "
                f"{t['candidates_per_s']:.1f} per second over {t['window_s']:.0f} s"
                + (" (**the tokens ran out**: the window ended early; raise --loop-candidates)"
                   if t["tokens_ran_out"] else "") + "."
            )  # fmt: skip
        lines += [
            f"- Phases: every attempt ended {qc['finalized_after_s']:.0f} s after the close"
            if qc["finalized_after_s"] is not None
            else f"- Phases: **not** every attempt ended within 120 s of the close ({qc['open']} open)",
        ]
        lines[-1] += (
            f"; {qc['acknowledged']} acknowledged answers ({qc['newer']} newer). Data: {r['generate_s']:.0f} s."
        )
        lines.append("")
    lines += ["### Targets (issue 23)", ""]
    for r in results:
        lines += [f"**{r['db']}**", "", *targets(r), ""]
    return "\n".join(lines) + "\n"


def add_serving_options(parser) -> None:
    """gunicorn's settings for the apps served: --workers, --threads, --worker-class (by default what
    gunicorn.conf.py would take from the environment)."""
    parser.add_argument("--workers", type=int, default=int(os.environ.get("QE_WORKERS", os.cpu_count())))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("QE_THREADS", 4)))
    parser.add_argument(
        "--worker-class",
        default=os.environ.get("QE_WORKER_CLASS") or "gthread",
        help="gunicorn's worker class for the apps served (gthread, sync; gevent if installed).",
    )


def fill_defaults(args, defaults: dict) -> None:
    """Every option of `defaults` left unset takes its (full run, quick run) value; sync workers get one thread."""
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.worker_class == "sync" and args.threads != 1:
        print("… sync workers have one thread (gunicorn serves sync with threads > 1 as gthread)", file=sys.stderr)
        args.threads = 1


def main():
    def options(parser):
        parser.add_argument(
            "--quick",
            action="store_true",
            help="Small numbers, every part (about 2 minutes a database): checks the harness.",
        )
        parser.add_argument(
            "--candidates",
            type=int,
            default=None,
            help="Candidates of the phases (2223: 90 %% of them make the burst's 2,000 submits).",
        )
        parser.add_argument(
            "--storm",
            type=float,
            default=None,
            help="Seconds of the start storm (default: the target's pace, 2,000 per 60 s).",
        )
        parser.add_argument(
            "--rates",
            type=lambda s: [int(x) for x in s.split(",")],
            default=None,
            help="The steady steps' saves per second, comma-separated.",
        )
        parser.add_argument("--step-seconds", type=float, default=None)
        parser.add_argument("--burst", type=float, default=None)
        parser.add_argument("--submit-share", type=float, default=0.9)
        parser.add_argument("--settle", type=float, default=None, help="Seconds between phases.")
        parser.add_argument("--slack", type=float, default=None, help="Seconds kept before the burst for overruns.")
        parser.add_argument("--connections", type=int, default=200)
        parser.add_argument("--loop-concurrency", type=int, default=None, help="Closed loop: candidates at once.")
        parser.add_argument("--loop-seconds", type=float, default=None, help="Closed loop: how long.")
        parser.add_argument("--loop-warmup", type=float, default=None, help="Closed loop: seconds not counted.")
        parser.add_argument(
            "--loop-only", action="store_true", help="Only the closed loop (a few minutes): compare serving settings."
        )
        parser.add_argument(
            "--loop-candidates",
            type=int,
            default=None,
            help="Closed loop: fresh candidates available (the loop ends early if they run out).",
        )
        add_serving_options(parser)

    # (full run, quick run) of every option left unset.
    defaults = {
        "candidates": (2223, 100), "rates": ([100, 200, STEADY_RATE, 400, 500, 600, 800], [100, STEADY_RATE]),
        "step_seconds": (15, 4), "burst": (30, 6), "settle": (5, 1), "slack": (10, 8), "loop_concurrency": (200, 20),
        "loop_seconds": (60, 10), "loop_warmup": (10, 3), "loop_candidates": (4000, 400),
    }  # fmt: skip

    def run_with(kind, args):
        fill_defaults(args, defaults)
        if args.loop_only:
            args.candidates = 0  # nobody for the phases
        if args.storm is None:  # the target's pace: 2,000 starts per 60 s
            args.storm = args.candidates * STORM_SECONDS / STORM_STARTS
        out = run(kind, args)
        out.update(workers=args.workers, threads=args.threads, worker_class=args.worker_class, quick=args.quick,
                   loop_only=args.loop_only)  # fmt: skip
        return out

    bench_main(__doc__, run_with, report, options)


if __name__ == "__main__":
    main()
