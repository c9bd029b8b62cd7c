"""Benchmark of the proctor's console: 10,000 candidates in progress across 40 rooms (250 a room), each with a few
answers and events; one room's refresh, and the saves' p99 with and without 40 consoles polling, side by side.

    .venv/bin/python bench/bench_console.py [--db sqlite|postgresql|both] [--candidates 10000] [--seconds 20] [--write]

The refresh is timed as the JSON twin computes it (sitting.console.candidates for one room, every line as JSON,
json.dumps): the server's own work, without routing or the login's lookup (the same for every page). The saves are
exam.answers.save_answer plus the commit, one after another in one process, as fast as they go, for `--seconds`;
then the same again while two other processes play 40 consoles refreshing every 3 seconds (13 refreshes a second,
each a random room), on the same database and the same 2 cores. Data is bulk-inserted (one published exam with
three questions a paper; the attempts started five minutes ago, two answers and one event each)."""

import json
import multiprocessing
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

from common import bench_main, build_app, make_database, percentile
from flask_migrate import upgrade

ROOMS = 40
POLL_SECONDS = 3


def generate(app, n: int):
    from sqlalchemy import insert, select

    from accounts.models import User
    from core.extensions import db
    from core.models import now_utc
    from exam import attempts
    from exam.models import Answer, Attempt, AttemptEvent, Paper, PaperItem
    from sitting import services as sitting
    from sitting.models import Seat
    from tests.factories import make_open_exam, make_sitting

    with app.app_context():
        exam, first = make_open_exam(code="CONS1", qtypes=("single", "truefalse", "essay"))
        model = attempts.start_attempt(exam, first, now_utc())
        essay = next(i.position for i in model.paper.items if i.section.qtype == "essay")
        items = [(i.position, i.section_id, i.question_version_id, i.option_order, i.points) for i in model.paper.items]
        now = now_utc()
        started = now - timedelta(minutes=5)
        hash_ = first.password_hash
        db.session.execute(insert(User), [
            {"username": f"c{i:05d}", "name": f"考生{i:05d}", "password_hash": hash_, "must_change_password": False}
            for i in range(n)
        ])  # fmt: skip
        users = db.session.scalars(select(User.id).where(User.username.like("c%")).order_by(User.id)).all()
        db.session.execute(insert(Paper), [
            {"exam_id": exam.id, "user_id": u, "attempt_number": 1, "seed": u, "created_at": now} for u in users
        ])  # fmt: skip
        papers = dict(db.session.execute(select(Paper.user_id, Paper.id).where(Paper.user_id.in_(users))).all())
        db.session.execute(insert(PaperItem), [
            {"paper_id": papers[u], "position": p, "section_id": s, "question_version_id": v, "option_order": o,
             "points": pts} for u in users for p, s, v, o, pts in items
        ])  # fmt: skip
        db.session.execute(insert(Attempt), [
            {"exam_id": exam.id, "user_id": u, "number": 1, "paper_id": papers[u], "status": "in_progress",
             "started_at": started, "deadline_at": now + timedelta(minutes=55), "extra_minutes": 0,
             "focus_losses": u % 3, "reopened": 0} for u in users
        ])  # fmt: skip
        ids = db.session.scalars(select(Attempt.id).where(Attempt.exam_id == exam.id)).all()
        db.session.execute(insert(Answer), [
            {"attempt_id": a, "position": p, "value": v, "seq": 1, "saved_at": started + timedelta(seconds=a % 290)}
            for a in ids for p, v in ((1, 0), (3, "作答"))
        ])  # fmt: skip
        db.session.execute(insert(AttemptEvent), [
            {"attempt_id": a, "kind": "focus_loss" if a % 2 else "paste", "at": started + timedelta(seconds=a % 200)}
            for a in ids
        ])  # fmt: skip
        actor = db.session.get(User, users[0])
        session, rooms = make_sitting(exam, rooms=ROOMS, capacity=n // ROOMS, actor=actor, place=False)
        db.session.execute(insert(Seat), [
            {"exam_id": exam.id, "user_id": u, "session_id": session.id, "room_id": rooms[k % ROOMS].id,
             "seat_no": k // ROOMS + 1, "ticket_no": f"B{k:06d}", "checked_in_at": now} for k, u in enumerate(users)
        ])  # fmt: skip
        db.session.commit()
        sitting.settings_of(exam)
        db.session.commit()
        return exam.id, session.id, [r.id for r in rooms], ids, essay


def refresh(exam_id, session_id, room_id):
    from core.extensions import db
    from core.models import now_utc
    from exam.models import Exam
    from sitting import console

    exam = db.session.get(Exam, exam_id)
    found = console.candidates(exam, now_utc(), session_id=session_id, room_ids=[room_id])
    body = json.dumps({"summary": console.summary(found), "candidates": [c.as_json() for c in found]})
    db.session.rollback()
    return len(found), len(body)


def time_refreshes(app, world, count=200):
    exam_id, session_id, rooms, _ids, _essay = world
    times = []
    with app.app_context():
        refresh(exam_id, session_id, rooms[0])  # warm
        for i in range(count):
            t = time.perf_counter()
            n, size = refresh(exam_id, session_id, rooms[i % len(rooms)])
            times.append((time.perf_counter() - t) * 1000)
    return times, n, size


def consoles(url, world, stop_at, rate, out):
    """Play consoles: `rate` refreshes a second (each of a random room) until `stop_at`."""
    app = build_app(url, tempfile.mkdtemp(prefix="qe-bench-instance-"))
    exam_id, session_id, rooms, _ids, _essay = world
    done = 0
    with app.app_context():
        next_at = time.time()
        while time.time() < stop_at:
            refresh(exam_id, session_id, random.choice(rooms))
            done += 1
            next_at += 1 / rate
            time.sleep(max(0.0, next_at - time.time()))
    out.put(done)


def time_saves(app, world, seconds, seq_base):
    from core.extensions import db
    from core.models import now_utc
    from exam import answers

    _exam, _session, _rooms, ids, essay = world
    times = []
    rng = random.Random(seq_base)
    with app.app_context():
        end = time.time() + seconds
        seq = seq_base
        while time.time() < end:
            seq += 1
            t = time.perf_counter()
            answers.save_answer(rng.choice(ids), essay, f"答案{seq}", seq, now_utc())
            db.session.commit()
            times.append((time.perf_counter() - t) * 1000)
    return times


def run(kind, args):
    url, drop = make_database(kind)
    app = build_app(url, tempfile.mkdtemp(prefix="qe-bench-instance-"))
    try:
        with app.app_context():
            upgrade(directory=str(__import__("common").ROOT / "migrations"))
        t = time.perf_counter()
        world = generate(app, args.candidates)
        made = time.perf_counter() - t
        print(f"  data: {made:.0f} s", file=sys.stderr)
        refreshes, n, size = time_refreshes(app, world)
        alone = time_saves(app, world, args.seconds, 1_000)
        ctx = multiprocessing.get_context("fork")
        out = ctx.Queue()
        stop_at = time.time() + args.seconds + 1
        rate = ROOMS / POLL_SECONDS / 2
        procs = [ctx.Process(target=consoles, args=(url, world, stop_at, rate, out)) for _ in range(2)]
        for p in procs:
            p.start()
        time.sleep(0.5)
        polled = time_saves(app, world, args.seconds, 10_000_000)
        for p in procs:
            p.join()
        polls = sum(out.get() for _ in procs)
        alone_again = time_saves(app, world, args.seconds, 20_000_000)
    finally:
        with app.app_context():
            from core.extensions import db

            db.engine.dispose()
        drop()
    return {"kind": kind, "made": made, "refresh": refreshes, "room": n, "bytes": size, "alone": alone,
            "polled": polled, "alone_again": alone_again, "polls": polls, "seconds": args.seconds}  # fmt: skip


def report(results):
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    kinds = [r["kind"] for r in results]
    ms = lambda v: f"{v:.1f} ms"  # noqa: E731
    lines = [
        f"## The proctor's console — {stamp}",
        "",
        f"`bench/bench_console.py`; 2 shared cores; Python {sys.version.split()[0]}. {results[0]['room']} candidates a "
        f"room, {ROOMS} rooms, all in progress with two answers and one event each. Refresh: the JSON twin's own work "
        "(sitting.console.candidates for one room, as JSON), in process. Saves: save_answer + commit, one process, "
        "back to back; then the same while two processes play 40 consoles refreshing every 3 s; then alone again.",
        "",
        "| | " + " | ".join(kinds) + " |",
        "|---|" + "---|" * len(kinds),
        "| one room's refresh, median | " + " | ".join(ms(percentile(r["refresh"], 50)) for r in results) + " |",
        "| … p99 (target < 100 ms) | " + " | ".join(ms(percentile(r["refresh"], 99)) for r in results) + " |",
        "| … JSON size | " + " | ".join(f"{r['bytes'] // 1024} KiB" for r in results) + " |",
    ]
    for key, label in (
        ("alone", "saves alone"),
        ("polled", "saves with 40 consoles"),
        ("alone_again", "saves alone again"),
    ):
        cells = [f"{ms(percentile(r[key], 50))} / {ms(percentile(r[key], 99))} ({len(r[key])})" for r in results]
        lines.append(f"| {label}: median / p99 (n) | " + " | ".join(cells) + " |")
    lines.append("| console refreshes during the polled run | " + " | ".join(
        f"{r['polls']} ({r['polls'] / r['seconds']:.1f}/s)" for r in results) + " |")  # fmt: skip
    return "\n".join(lines) + "\n"


def add_arguments(parser):
    parser.add_argument("--candidates", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=20)


if __name__ == "__main__":
    bench_main(__doc__, run, report, add_arguments)
