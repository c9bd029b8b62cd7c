"""Profile the hot paths of a sitting with pyinstrument: the exams list, start, save, submit and result, in process.

    .venv/bin/python bench/profile_hot_paths.py [--db sqlite|postgresql] [--candidates 100] [--saves 20]

Each endpoint is profiled on its own (a sampling profiler, 1 ms interval) over every candidate's requests, and
the functions with the most time of their own are printed as a table (module:function, own ms per request, share),
with the SQL statements per request counted beside it. The requests go through the whole app (routing, the
token's lookup, the queries, JSON) by Flask's test client: what gunicorn adds is not in it.
"""

import argparse
import random
import sys
from collections import defaultdict
from datetime import UTC, datetime

from bench_load import EXAM, generate
from common import write_results
from load_driver import answer_for
from pyinstrument import Profiler
from sqlalchemy import event


def own_times(frame, totals):
    """Time of its own per (file, function), summed over the call tree."""
    key = f"{frame.file_path_short or '?'}:{frame.function}"
    totals[key] += frame.total_self_time
    for child in frame.children:
        own_times(child, totals)


def package(key: str) -> str:
    """The library (or our package) a function belongs to, from its short file path."""
    path = key.split(":", 1)[0]
    if path.startswith("<"):
        return "C code (drivers, json, hashing)"
    parts = path.replace("\\", "/").split("/")
    for i, part in enumerate(parts):
        if part == "site-packages" and i + 1 < len(parts):
            return parts[i + 1].removesuffix(".py")
    return parts[0].removesuffix(".py") if len(parts) > 1 else "python stdlib"


def table(label: str, session, requests: int, statements: int, top: int = 8) -> str:
    totals: dict[str, float] = defaultdict(float)
    root = session.root_frame()
    if root is not None:
        own_times(root, totals)
    whole = sum(totals.values()) or 1
    by_package: dict[str, float] = defaultdict(float)
    for key, seconds in totals.items():
        by_package[package(key)] += seconds
    lines = [f"**{label}**: {session.duration / requests * 1000:.1f} ms per request (profiled), "
             f"{statements / requests:.1f} SQL statements per request", "",
             "| where the time goes (own time) | ms per request | share |", "|---|---|---|"]  # fmt: skip
    for name, seconds in sorted(by_package.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"| {name} | {seconds / requests * 1000:.2f} | {seconds / whole:.0%} |")
    lines += ["", "| busiest functions (own time) | ms per request | share |", "|---|---|---|"]
    for key, seconds in sorted(totals.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"| `{key}` | {seconds / requests * 1000:.2f} | {seconds / whole:.0%} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--saves", type=int, default=20)
    parser.add_argument("--write", action="store_true", help="Add the tables to bench/RESULTS.md.")
    args = parser.parse_args()
    data = generate(args.db, args.candidates)
    app, rng = data["app"], random.Random(3)
    client = app.test_client()
    counted = [0]

    def count(*_args):
        counted[0] += 1

    from core.extensions import db

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)
    try:
        papers: dict[str, dict] = {}
        out = []

        def profiled(label, calls):
            counted[0] = 0
            profiler = Profiler(interval=0.001)
            profiler.start()
            for method, url, token, body in calls():
                response = client.open(url, method=method, json=body, headers={"Authorization": f"Bearer {token}"})
                assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True))
                if label == "start":
                    papers[token] = response.get_json()
            session = profiler.stop()
            out.append(table(label, session, n_calls[0], counted[0]))

        n_calls = [0]

        def each(gen):
            def calls():
                n_calls[0] = 0
                for call in gen():
                    n_calls[0] += 1
                    yield call

            return calls

        tokens = data["tokens"]
        # A candidate's first request lists their exams: the first use of a fresh token.
        profiled("exams", each(lambda: (("GET", "/api/v1/exams", t, None) for t in tokens)))
        profiled("start", each(lambda: (("POST", f"/api/v1/exams/{EXAM}/attempts", t, {}) for t in tokens)))

        def saves():
            for token in tokens:
                paper = papers[token]
                for seq in range(1, args.saves + 1):
                    item = rng.choice(paper["items"])
                    body = {"value": answer_for(item, rng), "seq": seq}
                    yield "PUT", f"/api/v1/attempts/{paper['id']}/answers/{item['position']}", token, body

        profiled("save", each(saves))
        profiled("submit", each(lambda: (("POST", f"/api/v1/attempts/{papers[t]['id']}/submit", t, None)
                                         for t in tokens)))  # fmt: skip
        profiled("result", each(lambda: (("GET", f"/api/v1/attempts/{papers[t]['id']}", t, None) for t in tokens)))
        text = "\n".join([
            f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · where a request's time goes (pyinstrument, {args.db})",
            "",
            f"`bench/profile_hot_paths.py`: {args.candidates} candidates, {args.saves} saves each, in process (Flask's "
            "test client); own time summed by library, then the busiest functions. Times are with the profiler on.",
            "",
            *out,
        ])  # fmt: skip
        print(text)
        if args.write:
            write_results(text)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        data["drop"]()


if __name__ == "__main__":
    sys.exit(main())
