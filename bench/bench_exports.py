"""Exports benchmark: the .xlsx of a 100,000-row ranking, as it was made before (every row read into memory, an
ordinary openpyxl workbook) and as it is made now (rows read 1,000 at a time, openpyxl's write-only mode: what the
job "reports.export" runs), on SQLite and on PostgreSQL: time, and peak Python memory by tracemalloc. The former
export is quadratic (each row's append walked every cell): it is measured on the first --small rows, and an ordinary
workbook with linear appends stands for it on all rows.

    .venv/bin/python bench/bench_exports.py [--db sqlite|postgresql|both] [--attempts 100000] [--write]

The data are bench_reports.py's (100,000 cadres in 220 units, one graded attempt each) with a paper of two
questions instead of a hundred: the ranking reads attempts, not answers, and the kept ranking is computed once
before measuring (no answers are written). Each way is timed `--samples` times without tracemalloc, then run once
more under it for the peak.
"""

import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import date

import bench_reports
from common import ROOT, bench_main, build_app, make_database
from flask_migrate import upgrade


def _before(exam, rows, linear: bool = False) -> bytes:
    """The ranking workbook as reports.documents.ranking_xlsx wrote it before the write-only mode (an ordinary
    workbook; its append_row read the row back by `ws.max_row`, which walks every cell: quadratic). `linear`: the
    same workbook with core.spreadsheets.append_row as it is now (cells typed as the row is made)."""
    from flask_babel import gettext as _

    from accounts.models import label as profile_label
    from core.spreadsheets import append_row, new_workbook, to_bytes
    from reports.documents import _local, _yes_no

    wb, ws = new_workbook(_("Ranking"), [
        _("Placing"), _("Tied"), _("Placing among those shown"), _("Name"), _("Employee number"), _("Unit"),
        _("Post rank"), _("Score"), _("Time used (minutes)"), _("Submitted at"), _("Passed"),
    ], [8, 6, 12, 12, 14, 30, 14, 8, 12, 20, 8])  # fmt: skip
    for r in rows:
        values = [r.exam_rank, r.tied if r.tied > 1 else None, r.rank, r.name, r.username, r.unit_name or "",
                  profile_label(r.post_rank) if r.post_rank else "", float(r.score), round(r.seconds / 60, 1),
                  _local(r.ended_at), _yes_no(r.passed)]  # fmt: skip
        if linear:
            append_row(ws, values)  # as core.spreadsheets.append_row types cells now
            continue
        ws.append(values)  # as append_row did before: the row read back by max_row, which walks every cell
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"
    return to_bytes(wb)


def _ways(admin, code, small: int):
    from core.extensions import db
    from core.models import now_utc
    from exam.models import Exam
    from reports import documents, exports, ranking

    def query(limit=None):
        exam = db.session.scalar(db.select(Exam).where(Exam.code == code))
        stmt = ranking.ranking_query(exam, admin, ranking.NO_FILTERS)
        return exam, stmt if limit is None else stmt.limit(limit)

    def before(limit=None, linear=False):
        exam, stmt = query(limit)
        rows = db.session.execute(stmt).all()
        return len(rows), _before(exam, rows, linear)

    def now(limit=None):
        if limit is not None:
            exam, stmt = query(limit)
            rows = list(exports._streamed(stmt))
            return len(rows), documents.ranking_xlsx(exam, rows)
        prepared = exports.prepare("ranking", admin, {"exam": code, "filters": {}}, now_utc())
        return prepared.total, prepared.write(prepared.rows)

    return {
        f"before, as it was (first {small:,} rows: it is quadratic)": lambda: before(small),
        f"now (first {small:,} rows)": lambda: now(small),
        "an ordinary workbook with linear appends, every row read at once (all rows)": lambda: before(linear=True),
        "now: batches of 1,000, write-only, as the job makes it (all rows)": now,
    }


def _measure(app, func, samples: int) -> dict:
    from core.extensions import db

    times = []
    for _ in range(samples):
        with app.test_request_context():
            db.session.expire_all()
            started = time.perf_counter()
            n, data = func()
            times.append(time.perf_counter() - started)
            db.session.rollback()
    with app.test_request_context():
        db.session.expire_all()
        tracemalloc.start()
        func()
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        db.session.rollback()
    return {"rows": n, "size": len(data), "seconds": times, "peak": peak}


def run(kind: str, args) -> dict:
    from accounts.models import User
    from core.extensions import db
    from core.models import now_utc
    from exam.models import Exam
    from reports import ranking

    bench_reports.SECTIONS = (("single", 2, 1.0),)  # the ranking reads attempts, not answers
    bulk = bench_reports._bulk
    # No answers at all: the ranking never reads them (and the database refuses answers added to finished attempts,
    # the order bench_reports writes them in).
    bench_reports._bulk = lambda db, kind, table, columns, rows: None if table == "answers" else bulk(
        db, kind, table, columns, rows)  # fmt: skip
    url, drop = make_database(kind)
    try:
        app = build_app(url, tempfile.mkdtemp())
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            started = time.perf_counter()
            code = bench_reports.populate(db, kind, args.attempts)
            load = time.perf_counter() - started
            exam = db.session.scalar(db.select(Exam).where(Exam.code == code))
            ranking.kept_ranks(exam, now_utc())
            db.session.commit()
            admin_id = db.session.scalar(db.select(User.id).where(User.username == "benchadmin"))
        results = {}
        with app.app_context():
            admin = db.session.get(User, admin_id)
            for name, func in _ways(admin, code, args.small).items():
                results[name] = _measure(app, func, args.samples)
                print(f"  {name}: {statistics.median(results[name]['seconds']):.1f} s, "
                      f"peak {results[name]['peak'] / 2**20:.0f} MiB", file=sys.stderr)  # fmt: skip
        return {"kind": kind, "load": load, "ways": results}
    finally:
        drop()


def report(results: list[dict]) -> str:
    lines = [
        f"## {date.today().isoformat()} · exports: the .xlsx of a 100,000-row ranking, before and after write-only",
        "",
        "`bench/bench_exports.py`: the whole ranking of one exam with 100,000 graded attempts (bench_reports.py's",
        "cadres and units, a paper of two questions), exported as an organisation-department admin, in process.",
        "*Before*: every row read at once (`.all()`), an ordinary openpyxl workbook whose row appends walked every",
        "cell (quadratic: measured on the first rows only; an ordinary workbook with linear appends stands for it on",
        "all rows); *now*: rows read 1,000 at a time (`yield_per`), openpyxl's write-only mode, as the job",
        "`reports.export` makes it. Median time of the samples; peak Python memory by tracemalloc (one more run; the",
        "finished file, a few MB, is part of it).",
        "",
        "| export | " + " | ".join(f"{r['kind']} time, s | {r['kind']} peak, MiB" for r in results) + " |",
        "|---|" + "---|---|" * len(results),
    ]
    for name in results[0]["ways"]:
        cells = []
        for r in results:
            way = r["ways"][name]
            cells.append(f"{statistics.median(way['seconds']):.1f} | {way['peak'] / 2**20:.0f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Rows and file size: " + "; ".join(
        f"{r['kind']} {w['rows']:,} rows, {w['size'] / 2**20:.1f} MB" for r in results
        for w in list(r["ways"].values())[-1:]) + ".")  # fmt: skip
    return "\n".join(lines) + "\n"


def add_arguments(parser) -> None:
    parser.add_argument("--attempts", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--small", type=int, default=3000, help="Rows of the quadratic former export.")


if __name__ == "__main__":
    bench_main(__doc__, run, report, add_arguments)
