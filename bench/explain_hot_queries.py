"""The plans of the hot queries: every statement of a start, a save, a reload, a submit, a result and the finalizer's
sweep, captured as the app sends it and explained by the database (PostgreSQL's EXPLAIN, SQLite's EXPLAIN QUERY
PLAN), on a generated district (bench_load's data, analysed).

    .venv/bin/python bench/explain_hot_queries.py [--db sqlite|postgresql|both] [--candidates 2000] [--write]

tests/exam/test_hot_paths.py fails if any of these scans a table that grows with the district (on SQLite).
"""

import sys
from datetime import UTC, datetime

from bench_load import EXAM, generate
from common import bench_main
from load_driver import answer_for
from sqlalchemy import event


def capture(app, tokens):
    """(endpoint, statement, parameters) of each statement the hot requests send."""
    from core.extensions import db
    from core.models import now_utc
    from exam import attempts

    client = app.test_client()
    sent, label = [], ["?"]

    def record(_conn, _cursor, statement, parameters, _context, many):
        if not many:
            sent.append((label[0], statement, parameters))

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", record)
    try:
        auth = {"Authorization": f"Bearer {tokens[1]}"}
        label[0] = "start"
        paper = client.post(f"/api/v1/exams/{EXAM}/attempts", headers=auth, json={}).get_json()
        item = paper["items"][0]
        url = f"/api/v1/attempts/{paper['id']}"
        import random

        rng = random.Random(1)
        client.put(f"{url}/answers/{item['position']}", headers=auth, json={"value": answer_for(item, rng), "seq": 1})
        label[0] = "save"
        client.put(f"{url}/answers/{item['position']}", headers=auth, json={"value": answer_for(item, rng), "seq": 2})
        label[0] = "reload"
        client.get(url, headers=auth)
        label[0] = "submit"
        client.post(f"{url}/submit", headers=auth)
        label[0] = "result"
        client.get(url, headers=auth)
        label[0] = "finalizer sweep"
        with app.app_context():
            attempts.overdue_attempts(now_utc())
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", record)
    return sent


def explain(app, kind, sent) -> list[tuple[str, str, list[str]]]:
    from core.extensions import db

    out, seen = [], set()
    with app.app_context(), db.engine.connect() as conn:
        for label, statement, params in sent:
            head = statement.lstrip().split(None, 1)[0].upper()
            if head not in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH") or (label, statement) in seen:
                continue
            seen.add((label, statement))
            if kind == "postgresql":
                with conn.begin():  # EXPLAIN of a write plans it without running it
                    # A sitting's first minutes: attempts and answers are nearly empty when analysed, and the
                    # planner rightly scans them. Priced out, the plan shows the index the query will use.
                    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
                    rows = conn.exec_driver_sql("EXPLAIN " + statement, params).fetchall()
                plan = [r[0] for r in rows]
            else:
                rows = conn.connection.dbapi_connection.execute("EXPLAIN QUERY PLAN " + statement, params).fetchall()
                plan = [r[-1] for r in rows]
            out.append((label, " ".join(statement.split())[:110], plan))
    return out


def run(kind: str, args) -> dict:
    data = generate(kind, args.candidates)
    try:
        plans = explain(data["app"], kind, capture(data["app"], data["tokens"]))
        return {"db": kind, "candidates": args.candidates, "plans": plans}
    finally:
        from core.extensions import db

        with data["app"].app_context():
            db.session.remove()
            db.engine.dispose()
        data["drop"]()


def report(results: list[dict]) -> str:
    lines = [
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · the hot queries' plans",
        "",
        f"`bench/explain_hot_queries.py` on {results[0]['candidates']} candidates with their papers drawn (analysed). "
        "Each statement a start, a save, a reload, a submit, a result and the finalizer's sweep sends, with its "
        "plan's nodes (PostgreSQL, with sequential scans priced out: attempts and answers are nearly empty when a "
        "sitting starts, and the planner would rightly scan them) or SQLite's plan lines. A `Seq Scan` left on "
        "PostgreSQL means no index serves the query; tests/exam/test_hot_paths.py fails on one in a table that "
        "grows.",
        "",
    ]
    for r in results:
        lines += [f"### {r['db']}", "", "| request | statement | plan |", "|---|---|---|"]
        for label, statement, plan in r["plans"]:
            nodes = [p.strip() for p in plan if "->" in p or p == plan[0] or r["db"] == "sqlite"]
            shown = "<br>".join(n.replace("|", "\\|")[:90] for n in nodes[:4])
            lines.append(f"| {label} | `{statement.replace('|', '/')}` | {shown} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main():
    def options(parser):
        parser.add_argument("--candidates", type=int, default=2000)

    bench_main(__doc__, run, report, options)


if __name__ == "__main__":
    sys.exit(main())
