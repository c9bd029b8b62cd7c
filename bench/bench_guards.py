"""What the immutable-records triggers (migration 0013) cost the hot path: answer saves with and without them.

    .venv/bin/python bench/bench_guards.py [--db sqlite|postgresql|both] [--saves 2000] [--one-transaction]

One candidate sits a 50-question exam; `--saves` saves (exam.answers.save_answer, each committed as a request
would, or with --one-transaction all of a round in one transaction: the statement's cost without the commit's)
cycle over the questions with rising sequence numbers: after the warm-up every save replaces an answer, so both
answers triggers fire. Timed in four alternating rounds, with the answers triggers and without them (dropped on
SQLite, disabled on PostgreSQL), so that warming up favours neither.
"""

import sys
import tempfile
import time
from datetime import timedelta

from common import ROOT, bench_main, build_app, make_database, percentile
from flask_migrate import upgrade

ANSWER_TRIGGERS = ("qe_answers_final_insert", "qe_answers_final_update")


def _saves(db, answers, attempt_id, n, seq0, now, commit=True) -> list[float]:
    times = []
    for i in range(n):
        position = i % 50 + 1
        t = time.perf_counter()
        answers.save_answer(attempt_id, position, i % 3, seq0 + i, now)
        if commit:
            db.session.commit()
        times.append(time.perf_counter() - t)
    db.session.commit()
    return times


def _triggers(db, on: bool, kept: dict) -> None:
    from sqlalchemy import text

    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            for name in ANSWER_TRIGGERS:
                conn.execute(text(f"ALTER TABLE answers {'ENABLE' if on else 'DISABLE'} TRIGGER {name}"))
        elif on:
            for sql in kept.values():
                conn.execute(text(sql))
        else:
            rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
            kept.update((name, sql) for name, sql in rows if name in ANSWER_TRIGGERS)
            for name in ANSWER_TRIGGERS:
                conn.execute(text(f'DROP TRIGGER "{name}"'))


def run(kind: str, args) -> dict:
    url, drop = make_database(kind)
    app = build_app(url, tempfile.mkdtemp(prefix="qe-bench-instance-"))
    try:
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            sys.path.insert(0, str(ROOT))
            from core.extensions import db
            from core.models import now_utc
            from exam import answers, attempts
            from tests.factories import make_open_exam

            exam, user = make_open_exam(code="BENCH", qtypes=("single",) * 50)
            now = now_utc()
            attempt = attempts.start_attempt(exam, user, now)
            db.session.commit()
            attempt_id, rounds, seq, kept = attempt.id, {"with": [], "without": []}, 1, {}
            _saves(db, answers, attempt_id, 100, seq, now)  # warm up: the attempt's facts, the statement
            seq += 100
            for label, on in (("with", True), ("without", False), ("with", True), ("without", False)):
                _triggers(db, on, kept)
                rounds[label] += _saves(db, answers, attempt_id, args.saves // 2, seq, now + timedelta(seconds=1),
                                        commit=not args.one_transaction)  # fmt: skip
                seq += args.saves // 2
            _triggers(db, True, kept)
            db.session.remove()
            db.engine.dispose()
    finally:
        drop()
    return {"kind": kind, **rounds}


def report(results) -> str:
    lines = ["| database | triggers | saves | mean ms | p50 ms | p95 ms |", "|---|---|---|---|---|---|"]
    for r in results:
        for label in ("with", "without"):
            t = [x * 1000 for x in r[label]]
            lines.append(f"| {r['kind']} | {label} | {len(t)} | {sum(t) / len(t):.3f} | {percentile(t, 50):.3f} | "
                         f"{percentile(t, 95):.3f} |")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":

    def arguments(parser):
        parser.add_argument("--saves", type=int, default=2000)
        parser.add_argument("--one-transaction", action="store_true", help="Commit once per round, not per save.")

    bench_main(__doc__, run, report, arguments)
