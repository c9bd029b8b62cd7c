"""Load benchmark of practice (以考促学, issue 24): cadres practising at once against QualExam under gunicorn, and one
answer's server time in process.

    .venv/bin/python bench/bench_practice.py [--db sqlite|postgresql|both] [--write] [--quick] [--profile]
        [--cadres 1000] [--seconds 180] [--ramp 30] [--think 3] [--workers N] [--threads N] [--worker-class …]

For each database, on a fresh database: a bank of `--questions` questions of every type (mostly objective, some
essays; chapters, knowledge points and explanations) opened for practice, a small bank of practice-only questions
(not opened: `set_usage(…, "practice")`), and the cadres with API tokens. Then:
1. One answer's server time, in process (Flask's test client, one request at a time, no other load): a few cadres
   each start a session and answer ten questions; `PUT …/answers/<position>` is timed and its SQL statements
   counted. Twice: with no formal exam ahead, then with one (another bank's exam, published with a paper drawn for
   every cadre), since practice asks on every question whether a formal exam ahead can draw it (practice.pool).
   The issue's "under 30 ms of server time" is judged on the second.
2. The crowd (bench/load_driver.py's PracticeCrowd), with the formal exam ahead: QualExam served as in production
   (`gunicorn -c gunicorn.conf.py wsgi:app`, the job worker beside it); the cadres arrive over `--ramp` seconds and
   then all practise for `--seconds`: the practice home, a session (a bank, a chapter, a knowledge point, the
   practice-only bank, or their wrong-answer book once it has questions), one answer per request after a pause of
   about `--think` seconds (now and then a skip), the wrong-answer book after each session, and the next session.
   Client latency per endpoint, and the server's own time per request from gunicorn's access log (`%(D)s`: from
   the request read to the response written, in the worker; the wait for a free worker thread is not in it).
3. The check: every answer acknowledged with a 200 is in practice_answers with the value sent (lost=0,
   mismatched=0), and the server's log holds no traceback.
`--quick` runs it all with small numbers (about a minute a database), to check the harness; its figures judge
nothing. `--profile` adds where the in-process answer's time goes (pyinstrument).
"""

import dataclasses
import os
import random
import re
import shlex
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

from bench_load import (
    VENV_BIN,
    Server,
    _commit,
    _fmt_errors,
    _n_errors,
    add_serving_options,
    drawn_exam,
    fill_defaults,
    seed_district,
    verdict,
)
from common import ROOT, bench_main, build_app, key_env, make_database, percentile
from flask_migrate import upgrade
from load_driver import PracticeCrowd, Practising, answer_for
from sqlalchemy import event

BANK, DRILL, EXAM_BANK, EXAM = "PRACTICE", "DRILL", "EXAMBANK", "FORMAL1"
TAGS = 8

# Issue 24's targets.
ANSWER_SERVER_MS = 30
CADRES_TARGET = 1000

#: A cycle of question types for the practice bank, shuffled: mostly objective, a few essays.
TYPE_CYCLE = ["single"] * 10 + ["multiple"] * 5 + ["truefalse"] * 5 + ["fill"] * 3 + ["essay"] * 2
EXPLANATION = "解析：本题考查干部教育培训工作条例的有关规定。干部应当坚持理论联系实际，学以致用，注重实效。"


# ---------------------------------------------------------------- data


def _questions(admin, bank, n: int, now, rng: random.Random, categories=(), usage: str | None = None) -> None:
    from bench_exam import _content

    from question_bank import services as qb
    from question_bank.richtext import from_text

    types = [TYPE_CYCLE[i % len(TYPE_CYCLE)] for i in range(n)]
    rng.shuffle(types)
    tag_cache: dict = {}
    for i, qtype in enumerate(types):
        content = dataclasses.replace(_content(qtype, i + 1), explanation=from_text(EXPLANATION))
        question = qb.create_question(admin, bank, qtype, content, now, status="active", flush=usage is not None,
                                      category=categories[i % len(categories)] if categories else None,
                                      tags=[f"知识点{i % TAGS}"], tag_cache=tag_cache)  # fmt: skip
        if usage is not None:
            qb.set_usage(admin, question, usage, now)


def generate(kind: str, n: int, questions: int) -> dict:
    """A fresh database with the practice banks and N cadres with tokens (no formal exam yet: add_exam_ahead)."""
    from core.extensions import db
    from core.models import now_utc
    from question_bank import services as qb

    url, drop = make_database(kind)
    app = build_app(url, tempfile.mkdtemp(prefix="qe-bench-instance-"))
    rng = random.Random(24)
    t = time.perf_counter()
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        now = now_utc()
        admin, top, tokens = seed_district(n, "P", now)
        # The practice bank: four chapters of two sections each, opened for practice as a whole.
        bank = qb.create_bank(admin, BANK, "练习题库", "政治理论", top, "", now)
        chapters = [qb.create_category(bank, f"第{c + 1}章") for c in range(4)]
        sections = [qb.create_category(bank, f"第{s + 1}节", parent) for parent in chapters for s in range(2)]
        _questions(admin, bank, questions, now, rng, sections)
        qb.open_for_practice(admin, bank, True, now)
        # Practice-only questions in a bank that is not opened.
        drill = qb.create_bank(admin, DRILL, "练习专用题", "政治理论", top, "", now)
        _questions(admin, drill, max(25, questions // 8), now, rng, usage="practice")
        db.session.commit()
        if kind == "postgresql":
            db.session.execute(db.text("ANALYZE"))
            db.session.commit()
        chapter_ids = [c.id for c in chapters]
        db.session.remove()
    # What the cadres choose to practise (the wrong-answer book comes on its own, once it has questions).
    choices = [{"mode": "category", "bank": BANK, "shuffled": True}] * 4 + [{"mode": "category", "bank": BANK}]
    choices += [{"mode": "category", "bank": BANK, "category": c} for c in chapter_ids]
    choices += [{"mode": "tag", "tag": f"知识点{t}", "shuffled": True} for t in range(0, TAGS, 2)]
    choices += [{"mode": "category", "bank": DRILL, "shuffled": True}]
    return {"url": url, "drop": drop, "app": app, "tokens": tokens, "choices": choices,
            "generate_s": time.perf_counter() - t}  # fmt: skip


def add_exam_ahead(app) -> dict:
    """A formal exam on another bank, published with a paper drawn for every cadre: practice must now ask, for every
    question it serves, whether this exam can draw it."""
    from bench_exam import fill_bank

    from accounts.models import Unit, User
    from core.extensions import db
    from core.models import now_utc

    t = time.perf_counter()
    with app.app_context():
        now = now_utc()
        admin = db.session.scalar(db.select(User).where(User.username == "bench"))
        top = db.session.scalar(db.select(Unit).where(Unit.code == "TOP"))
        bank = fill_bank(admin, EXAM_BANK, top, now)
        _exam, papers = drawn_exam(admin, EXAM, "正式考试", bank, top, now + timedelta(days=1),
                                   now + timedelta(days=2), now)  # fmt: skip
        if db.engine.dialect.name == "postgresql":
            db.session.execute(db.text("ANALYZE"))
            db.session.commit()
        db.session.remove()
    return {"papers": papers, "seconds": time.perf_counter() - t}


# ---------------------------------------------------------------- one answer, in process


def answer_server_time(app, tokens: list[str], choice: dict, answers: int = 10, profile: bool = False) -> dict:
    """Each cadre starts a session and answers `answers` questions through Flask's test client, one request at a
    time: the app's own time for `PUT /api/v1/practice/sessions/<id>/answers/<position>`, with its SQL statements
    counted. The first few answers warm the process and are not counted."""
    from core.extensions import db

    client = app.test_client()
    rng = random.Random(7)
    sent = [0]

    def count(*_args):
        sent[0] += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    profiler = None
    times, statements = [], []
    try:
        for token in tokens:
            headers = {"Authorization": f"Bearer {token}"}
            response = client.post("/api/v1/practice/sessions", json=choice, headers=headers)
            assert response.status_code == 200, response.get_data(as_text=True)[:500]
            session = response.get_json()
            for _ in range(answers):
                question = session["question"]
                if question is None:
                    break
                body = {"value": answer_for(question, rng)}
                url = f"/api/v1/practice/sessions/{session['id']}/answers/{question['position']}"
                if profile and profiler is None and len(times) >= 5:
                    from pyinstrument import Profiler

                    profiler = Profiler(interval=0.001)
                    profiler.start()
                sent[0] = 0
                t = time.perf_counter()
                response = client.put(url, json=body, headers=headers)
                ms = (time.perf_counter() - t) * 1000
                assert response.status_code == 200, response.get_data(as_text=True)[:500]
                times.append(ms)
                statements.append(sent[0])
                session = response.get_json()["session"]
    finally:
        event.remove(engine, "before_cursor_execute", count)
        with app.app_context():
            db.session.remove()
    times, statements = times[5:], statements[5:]
    out = {"n": len(times), "statements": sum(statements) / max(1, len(statements))}
    if times:
        out.update(p50=percentile(times, 50), p95=percentile(times, 95), p99=percentile(times, 99), max=max(times))
    if profiler is not None:
        from profile_hot_paths import table

        out["profile"] = table("answer", profiler.stop(), len(times), sum(statements))
    return out


# ---------------------------------------------------------------- the crowd


ACCESS_FORMAT = "%(m)s %(U)s %(s)s %(D)s %({x-bench-phase}i)s"
ENDPOINTS = [
    ("PUT", re.compile(r"^/api/v1/practice/sessions/\d+/answers/\d+$"), "answer"),
    ("POST", re.compile(r"^/api/v1/practice/sessions/\d+/skip$"), "skip"),
    ("GET", re.compile(r"^/api/v1/practice/sessions/\d+$"), "session"),
    ("POST", re.compile(r"^/api/v1/practice/sessions$"), "start"),
    ("GET", re.compile(r"^/api/v1/practice/wrong-book$"), "wrong_book"),
    ("GET", re.compile(r"^/api/v1/practice$"), "choices"),
]


def server_times(access_log: str, endpoints=ENDPOINTS) -> dict[tuple[str, str], dict]:
    """Per (phase, endpoint), the server's own time per request from gunicorn's access log (ACCESS_FORMAT);
    `endpoints`: (method, path pattern, name) of the requests counted."""
    groups: dict[tuple[str, str], list[float]] = {}
    with open(access_log) as fh:
        for line in fh:
            parts = line.split()
            if len(parts) != 5 or not parts[3].isdigit():
                continue
            method, path, _status, micros, phase = parts
            name = next((n for m, rx, n in endpoints if m == method and rx.match(path)), None)
            if name is not None:
                groups.setdefault((phase, name), []).append(int(micros) / 1000)
    return {key: {"n": len(ms), "p50": percentile(ms, 50), "p95": percentile(ms, 95), "p99": percentile(ms, 99),
                  "max": max(ms)} for key, ms in groups.items()}  # fmt: skip


def check(app, driver: PracticeCrowd) -> dict:
    """Every acknowledged answer stored with the value sent; and how many answers the crowd's sessions hold (more
    than acknowledged: answers stored whose reply never came back)."""
    from sqlalchemy import select

    from core.extensions import db
    from practice.models import PracticeAnswer

    stored = {}
    ids = sorted(driver.sessions)
    with app.app_context():
        for i in range(0, len(ids), 500):
            rows = db.session.execute(
                select(PracticeAnswer.session_id, PracticeAnswer.position, PracticeAnswer.answer).where(
                    PracticeAnswer.session_id.in_(ids[i : i + 500])
                )
            )
            stored.update({(r.session_id, r.position): r.answer for r in rows})
        db.session.remove()
    lost = sum(1 for key in driver.acknowledged if key not in stored)
    mismatched = sum(1 for key, value in driver.acknowledged.items() if key in stored and stored[key] != value)
    return {"acknowledged": len(driver.acknowledged), "stored": len(stored), "lost": lost, "mismatched": mismatched}


def tracebacks(log_path: str) -> int:
    with open(log_path, errors="replace") as fh:
        return sum(1 for line in fh if line.startswith("Traceback") or "WORKER TIMEOUT" in line)


# ---------------------------------------------------------------- one database


def run(kind: str, args) -> dict:
    import asyncio

    print(f"… {kind}: generating {args.cadres} cadres and the banks", file=sys.stderr)
    reserved = 2 * args.inprocess
    data = generate(kind, args.cadres + reserved, args.questions)
    app, tokens = data["app"], data["tokens"]
    crowd_tokens, free_tokens, held_tokens = (tokens[: args.cadres], tokens[args.cadres :][: args.inprocess],
                                              tokens[args.cadres + args.inprocess :])  # fmt: skip
    choice = {"mode": "category", "bank": BANK, "shuffled": True}
    out = {"db": kind, "cadres": args.cadres, "generate_s": data["generate_s"]}
    jobs_dir = tempfile.mkdtemp(prefix="qe-bench-jobs-")
    try:
        print(f"… {kind}: one answer in process, no formal exam ahead", file=sys.stderr)
        out["inprocess_free"] = answer_server_time(app, free_tokens, choice)
        print(f"… {kind}: a formal exam ahead (a paper for every cadre)", file=sys.stderr)
        out["exam_ahead"] = add_exam_ahead(app)
        print(f"… {kind}: one answer in process, the formal exam ahead", file=sys.stderr)
        out["inprocess_held"] = answer_server_time(app, held_tokens, choice, profile=args.profile)
        access_log = os.path.join(jobs_dir, "access.log")
        env = {"QE_WORKERS": str(args.workers), "QE_THREADS": str(args.threads), "QE_WORKER_CLASS": args.worker_class,
               **key_env(app), "DATABASE_URL": data["url"], "SECRET_KEY": "bench-practice", "QE_COOKIE_SECURE": "0",
               "QE_JOBS_URL": f"sqlite:///{jobs_dir}/jobs.sqlite3", "QE_ACCESS_LOG": access_log,
               "GUNICORN_CMD_ARGS": f"--access-logformat {shlex.quote(ACCESS_FORMAT)}"}  # fmt: skip
        worker = [str(VENV_BIN / "flask"), "--app", "app", "jobs", "worker", "-w", "1", "--quiet"]
        practising = Practising(seconds=args.seconds, ramp_seconds=args.ramp, think_seconds=args.think,
                                connections=args.cadres)  # fmt: skip
        print(f"… {kind}: {args.cadres} cadres practising ({args.ramp:g} s ramp, {args.seconds:g} s)", file=sys.stderr)
        with Server("qualexam", ["wsgi:app"], env, ROOT, extra=[worker]) as server:
            driver = PracticeCrowd(server.url, crowd_tokens, data["choices"], practising)
            asyncio.run(driver.run())
        out.update(summary=driver.summary(), server=server_times(access_log), check=check(app, driver),
                   tracebacks=tracebacks(server.log.name), practising=practising, sessions=len(driver.sessions),
                   answers_per_s=_answers_per_s(driver))  # fmt: skip
    finally:
        with app.app_context():
            from core.extensions import db

            db.session.remove()
            db.engine.dispose()
        data["drop"]()
        shutil.rmtree(jobs_dir, ignore_errors=True)
    c = out["check"]
    print(f"{kind}: lost={c['lost']} mismatched={c['mismatched']} of {c['acknowledged']}", file=sys.stderr)
    return out


def _answers_per_s(driver: PracticeCrowd) -> float:
    steady = driver.summary().get(("steady", "answer"))
    return steady["rps"] if steady else 0.0


# ---------------------------------------------------------------- report


def _latency(s: dict | None) -> str:
    if not s:
        return "none"
    return f"p50 {s['p50']:.1f} ms, p95 {s['p95']:.1f} ms, p99 {s['p99']:.1f} ms, max {s['max']:.0f} ms"


def targets(r: dict, quick: bool) -> list[str]:
    rows = []
    held, free = r["inprocess_held"], r["inprocess_free"]
    rows.append((
        f"a practice answer with its feedback in < {ANSWER_SERVER_MS} ms of server time (p95, in process, a "
        "formal exam ahead)",
        f"{_latency(held)} ({held['n']} answers, {held['statements']:.1f} SQL statements each); no exam ahead: "
        f"p50 {free['p50']:.1f} ms, p95 {free['p95']:.1f} ms",
        verdict(held["n"] > 0 and held["p95"] < ANSWER_SERVER_MS, not quick),
    ))  # fmt: skip
    under = r["server"].get(("steady", "answer"))
    client = r["summary"].get(("steady", "answer"))
    rows.append((
        f"… and under the load (server time in the worker, gunicorn's access log; p95 < {ANSWER_SERVER_MS} ms)",
        f"{_latency(under)}; the client saw {_latency(client)}",
        verdict(under is not None and under["p95"] < ANSWER_SERVER_MS, not quick),
    ))  # fmt: skip
    errors = sum(_n_errors(s) for s in r["summary"].values())
    statuses: dict = {}
    for s in r["summary"].values():
        for status, n in s["errors"].items():
            statuses[status] = statuses.get(status, 0) + n
    rows.append((
        f"{CADRES_TARGET:,} cadres practising at once on one 2-core node without errors",
        f"{r['cadres']:,} cadres, {r['answers_per_s']:.0f} answers/s steady, errors {_fmt_errors(statuses)}, "
        f"server tracebacks {r['tracebacks']}",
        verdict(errors == 0 and r["tracebacks"] == 0, r["cadres"] >= CADRES_TARGET and not quick),
    ))  # fmt: skip
    c = r["check"]
    rows.append((
        "every acknowledged answer stored (lost 0)",
        f"lost={c['lost']} mismatched={c['mismatched']} of {c['acknowledged']:,} acknowledged ({c['stored']:,} stored)",
        verdict(c["lost"] == c["mismatched"] == 0),
    ))  # fmt: skip
    return ["| target | measured | verdict |", "|---|---|---|", *(f"| {a} | {b} | {v} |" for a, b, v in rows)]


def report(results: list[dict]) -> str:
    r0 = results[0]
    p: Practising = r0["practising"]
    quick = r0["quick"]
    lines = [
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · practice: {r0['cadres']:,} cadres practising at once "
        f"(commit {_commit()}){' · QUICK: checks the harness, judges nothing' if quick else ''}",
        "",
        f"`bench/bench_practice.py` (part of `make bench`); {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
        "the server, the database and the load driver share this machine. QualExam is served by "
        f"`gunicorn -c gunicorn.conf.py`: {r0['workers']} {r0['worker_class']} workers × {r0['threads']} threads, "
        "the job worker beside it, and its access log on (for the server's own time per request).",
        f"- **Data:** a practice bank of {r0['questions']} questions (every objective type and some essays, 8 "
        "chapters, 8 knowledge points, explanations) opened for practice, a bank of practice-only questions, and "
        "a formal exam ahead on a third bank with a paper drawn for every cadre (practice must keep its questions "
        "out).",
        f"- **Crowd:** {r0['cadres']:,} cadres with API tokens arrive over {p.ramp_seconds:g} s, then all practise "
        f"for {p.seconds:g} s: a session (a bank, a chapter, a knowledge point, the practice-only bank, or their "
        f"wrong-answer book), one answer per request after a pause of {p.think_seconds / 2:g}–"
        f"{p.think_seconds * 1.5:g} s ({p.skip_share:.0%} skipped), the wrong-answer book after each session. "
        "Rows: client latency; **server** rows: the worker's own time per request (gunicorn's `%(D)s`, without "
        "the wait for a free worker thread).",
        "- **In process:** `PUT …/answers/<position>` through Flask's test client, one at a time with no other "
        "load (ten answers each of several cadres, the first five not counted).",
        "",
    ]
    header = "| phase · endpoint | requests | req/s | p50 | p95 | p99 | max (ms) | errors | server p50 / p95 / p99 ms |"
    order = ["choices", "start", "answer", "skip", "session", "wrong_book"]
    for r in results:
        lines += [f"### {r['db']}", "", header, "|---|---|---|---|---|---|---|---|---|"]
        keys = sorted(r["summary"], key=lambda k: (k[0] != "ramp", order.index(k[1]) if k[1] in order else 99))
        for key in keys:
            s, sv = r["summary"][key], r["server"].get(key)
            server = f"{sv['p50']:.1f} / {sv['p95']:.1f} / {sv['p99']:.1f}" if sv else "–"
            lines.append(
                f"| {key[0]} · {key[1]} | {s['n']:,} | {s['rps']:.0f} | {s['p50']:.0f} | {s['p95']:.0f} | "
                f"{s['p99']:.0f} | {s['max']:.0f} | {_fmt_errors(s['errors'])} | {server} |"
            )
        c = r["check"]
        lines += [
            "",
            f"- {r['sessions']:,} sessions, {c['acknowledged']:,} answers acknowledged, {c['stored']:,} stored in "
            f"them; the formal exam ahead: {r['exam_ahead']['papers']:,} "
            f"papers. Data: {r['generate_s'] + r['exam_ahead']['seconds']:.0f} s.",
            f"- In process, one answer: no exam ahead {_latency(r['inprocess_free'])} "
            f"({r['inprocess_free']['statements']:.1f} statements); the exam ahead {_latency(r['inprocess_held'])} "
            f"({r['inprocess_held']['statements']:.1f} statements).",
            "",
        ]
        if r["inprocess_held"].get("profile"):
            lines += ["Where the in-process answer's time goes (the exam ahead; times with the profiler on):", "",
                      r["inprocess_held"]["profile"]]  # fmt: skip
    lines += ["### Targets (issue 24)", ""]
    for r in results:
        lines += [f"**{r['db']}**", "", *targets(r, quick), ""]
    return "\n".join(lines) + "\n"


def main():
    def options(parser):
        parser.add_argument("--quick", action="store_true", help="Small numbers (about a minute a database).")
        parser.add_argument("--cadres", type=int, default=None, help="Cadres practising at once (1,000).")
        parser.add_argument("--seconds", type=float, default=None, help="How long all practise, after the ramp.")
        parser.add_argument("--ramp", type=float, default=None, help="Seconds over which the cadres arrive.")
        parser.add_argument("--think", type=float, default=None, help="Mean seconds before each answer.")
        parser.add_argument("--questions", type=int, default=None, help="Questions of the practice bank.")
        parser.add_argument("--inprocess", type=int, default=None, help="Cadres timed in process, each state.")
        parser.add_argument("--profile", action="store_true", help="Where the in-process answer's time goes.")
        add_serving_options(parser)

    # (full run, quick run) of every option left unset.
    defaults = {"cadres": (CADRES_TARGET, 60), "seconds": (180, 15), "ramp": (30, 5), "think": (3.0, 1.0),
                "questions": (400, 100), "inprocess": (20, 4)}  # fmt: skip

    def run_with(kind, args):
        fill_defaults(args, defaults)
        out = run(kind, args)
        out.update(workers=args.workers, threads=args.threads, worker_class=args.worker_class, quick=args.quick,
                   questions=args.questions)  # fmt: skip
        return out

    bench_main(__doc__, run_with, report, options)


if __name__ == "__main__":
    main()
