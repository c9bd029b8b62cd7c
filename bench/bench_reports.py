"""Reports benchmark: the ranking, statistics and item-analysis pages of one exam with 100,000 finished attempts of
100 questions each (10 million answers), server side, on SQLite and on PostgreSQL.

    .venv/bin/python bench/bench_reports.py [--db sqlite|postgresql|both] [--attempts 100000] [--write]

The generated exam: a fixed paper of 50 single-choice, 20 multiple-choice and 28 true/false questions (1 point
each) and 2 essays (5 points each); 100,000 cadres in 20 units of 10 sub-units, each with one graded attempt whose
answers follow a simple ability model (a candidate's ability against a question's difficulty), so scores spread
and items discriminate. Rows are written in bulk (COPY on PostgreSQL, executemany on SQLite), then ANALYZE.
Timed through the whole app in process (Flask test client, logged in as an organisation-department admin):
the ranking page (first page, and filtered to one unit subtree and a rank), the statistics page and the item
analysis page. The item analysis is kept (reports.items): its one-off computation over the 10 million answers is
timed separately, and the pages read the kept result.
"""

import json
import math
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta

from common import ROOT, bench_main, build_app, make_database, percentile
from flask_migrate import upgrade

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
SECTIONS = (("single", 50, 1.0), ("multiple", 20, 1.0), ("truefalse", 28, 1.0), ("essay", 2, 5.0))


def _bulk(db, kind, table: str, columns: tuple, rows) -> None:
    raw = db.session.connection().connection.driver_connection
    if kind == "postgresql":
        with raw.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # noqa: S608
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" * len(columns))
        raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)  # noqa: S608


def _ts(kind: str, moment: datetime):
    return moment if kind == "postgresql" else moment.replace(tzinfo=None).isoformat(sep=" ")


def populate(db, kind: str, attempts: int) -> str:
    from werkzeug.security import generate_password_hash

    from accounts.models import RoleAssignment, User
    from accounts.services import create_unit
    from core.models import now_utc
    from exam.models import Exam, ExamSection, FixedItem
    from question_bank.models import Bank
    from question_bank.services import create_question
    from question_bank.types import Content

    rng = random.Random(20261201)
    admin = User(username="benchadmin", name="管理员", password_hash=generate_password_hash("bench-password"),
                 must_change_password=False)  # fmt: skip
    db.session.add(admin)
    db.session.flush()
    db.session.add(RoleAssignment(user_id=admin.id, role="org_admin"))
    root = create_unit("D", "区委组织部", "party_committee", None)
    units = []
    for i in range(20):
        top = create_unit(f"U{i}", f"单位{i}", "department", root)
        units += [create_unit(f"U{i}-{j}", f"单位{i}-{j}", "department", top) for j in range(10)]
    bank = Bank(code="B", name="题库", subject="政治理论", owner_unit_id=root.id)
    db.session.add(bank)
    db.session.flush()
    now = now_utc()
    versions = []
    for qtype, count, _points in SECTIONS:
        for n in range(count):
            if qtype in ("single", "multiple"):
                options = ["选项一", "选项二", "选项三", "选项四"]
                answer = [n % 4] if qtype == "single" else sorted({n % 4, (n + 1) % 4})
                content = Content(stem=f"第{n}题（{qtype}）", options=options, answer=answer)
            elif qtype == "truefalse":
                content = Content(stem=f"第{n}题（判断）", answer=bool(n % 2))
            else:
                content = Content(stem=f"第{n}题（论述）", answer={"reference": "要点", "scoring_points": []}, points=5)
            q = create_question(admin, bank, qtype, content, now, status="active")
            versions.append((qtype, q.current_version))
    exam = Exam(code="BENCH", title="2026年度任职资格考试（压力测试）", subject="政治理论", paper_mode="fixed",
                duration_minutes=90, opens_at=T0, closes_at=T0 + timedelta(hours=3), pass_mark=65,
                shuffle_questions=False, shuffle_options=False, eligibility={}, status="released",
                published_at=T0 - timedelta(days=1), released_at=T0 + timedelta(hours=4),
                first_started_at=T0)  # fmt: skip
    position = 0
    for i, (qtype, _count, points) in enumerate(SECTIONS, start=1):
        section = ExamSection(position=i, title=f"第{i}部分", qtype=qtype, points_per_question=points)
        for k, (_t, version) in enumerate(v for v in versions if v[0] == qtype):
            section.fixed_items.append(FixedItem(position=k + 1, version=version))
        exam.sections.append(section)
    db.session.add(exam)
    db.session.flush()
    items = []  # (position, section id, version id, qtype, points, key, difficulty)
    for section in exam.sections:
        for fixed in section.fixed_items:
            position += 1
            items.append((position, section.id, fixed.version.id, section.qtype, float(section.points_per_question),
                          fixed.version.answer, rng.gauss(0, 1)))  # fmt: skip
    exam_id, code = exam.id, exam.code  # read before the COPYs: a lazy load inside one would wait on itself
    db.session.commit()

    secret = generate_password_hash("x", method="pbkdf2:sha256:1000")
    first_user = db.session.execute(db.text("SELECT COALESCE(MAX(id), 0) FROM users")).scalar() + 1
    user_rows, cadre_rows = [], []
    for n in range(attempts):
        uid = first_user + n
        user_rows.append((uid, f"C{n:06d}", f"考生{n}", secret, False, True, _ts(kind, now)))
        cadre_rows.append((uid, uid, units[n % len(units)].id, "female", date(1992 + n % 10, 1 + n % 12, 1),
                           ("staff", "stock_level", "deputy_section_chief")[n % 3], "科员", "bachelor", "cpc_member",
                           "", "serving", _ts(kind, now), _ts(kind, now)))  # fmt: skip
    _bulk(db, kind, "users", ("id", "username", "name", "password_hash", "must_change_password", "active",
                               "created_at"), user_rows)  # fmt: skip
    _bulk(db, kind, "cadres", ("id", "user_id", "unit_id", "gender", "birth_date", "rank", "position",
                                "education", "political_status", "phone", "status", "created_at", "updated_at"),
          cadre_rows)  # fmt: skip
    del user_rows, cadre_rows
    options_of = {p: ([0, 1, 2, 3] if t in ("single", "multiple") else []) for p, _s, _v, t, *_ in items}

    def papers():
        for n in range(attempts):
            yield (n + 1, exam_id, first_user + n, 1, n, _ts(kind, T0))

    def paper_items():
        for n in range(attempts):
            for position, section_id, version_id, _t, points, _k, _d in items:
                yield (n * 100 + position, n + 1, position, section_id, version_id, json.dumps(options_of[position]),
                       points)  # fmt: skip

    total = sum(i[4] for i in items)

    def sit(n: int):
        """Candidate n's answers: the same every call (one random stream per candidate)."""
        r = random.Random(n)
        ability = r.gauss(0.8, 1.0)
        start = T0 + timedelta(seconds=r.randrange(600))
        end = start + timedelta(seconds=r.randrange(1800, 5400))
        score, given = 0.0, []
        for position, _s, _v, qtype, points, key, difficulty in items:
            right = r.random() < 1 / (1 + math.exp(difficulty - ability))
            if qtype == "single":
                value = key[0] if right else r.choice([o for o in range(4) if o != key[0]])
                got = points if right else 0.0
            elif qtype == "multiple":
                value = key if right else sorted(r.sample(range(4), r.choice((1, 2, 3))))
                got = points if value == key else 0.0
            elif qtype == "truefalse":
                value = key if right else not key
                got = points if right else 0.0
            else:
                value = "答：" + "要点" * r.randrange(1, 5)
                got = float(round(points * min(max(r.gauss(0.6 + 0.1 * ability, 0.2), 0), 1)))
            score += got
            given.append((position, value, got))
        return start, end, score, given

    def attempt_rows():
        for n in range(attempts):
            start, end, score, _given = sit(n)
            yield (
                n + 1,
                exam_id,
                first_user + n,
                1,
                n + 1,
                "in_progress",  # submitted once the answers are in (migration 0013 refuses answers after that)
                _ts(kind, start),
                _ts(kind, start + timedelta(minutes=90)),
                0,
                _ts(kind, end),
                score,
                True,
                score >= 65,
                0,
            )

    def answers():
        for n in range(attempts):
            start, _end, _score, given = sit(n)
            saved = _ts(kind, start)
            for position, value, got in given:
                yield (n * 100 + position, n + 1, position, json.dumps(value, ensure_ascii=False), 1, saved, got, "")

    _bulk(db, kind, "papers", ("id", "exam_id", "user_id", "attempt_number", "seed", "created_at"), papers())
    _bulk(db, kind, "paper_items", ("id", "paper_id", "position", "section_id", "question_version_id",
                                     "option_order", "points"), paper_items())  # fmt: skip
    _bulk(db, kind, "attempts", ("id", "exam_id", "user_id", "number", "paper_id", "status", "started_at",
                                  "deadline_at", "extra_minutes", "ended_at", "score", "fully_graded", "passed",
                                  "focus_losses"), attempt_rows())  # fmt: skip
    _bulk(db, kind, "answers", ("id", "attempt_id", "position", "value", "seq", "saved_at", "points", "comment"),
          answers())  # fmt: skip
    db.session.execute(db.text("UPDATE attempts SET status = 'submitted' WHERE exam_id = :e"), {"e": exam_id})
    if kind == "postgresql":
        for table in ("users", "cadres", "papers", "paper_items", "attempts", "answers"):
            db.session.execute(db.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                                       f"(SELECT MAX(id) FROM {table}))"))  # fmt: skip
    db.session.commit()
    db.session.execute(db.text("ANALYZE"))
    db.session.commit()
    print(f"  {attempts} attempts, total {total:g} points", file=sys.stderr)
    return code


def _time(client, url: str, samples: int, app=None) -> list[float]:
    """Server times of `samples` requests; with `app`, its report cache is emptied before each (the first view
    after the results or the people changed)."""
    times = []
    for _ in range(samples):
        if app is not None:
            app.extensions.pop("reports_cache", None)
        t = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return times


def run(kind: str, args) -> dict:
    from core.extensions import db
    from core.models import now_utc
    from exam.models import Exam
    from reports import items

    if args.reuse:  # a database an earlier run kept (--keep): skip generating it
        url, drop = args.reuse, (lambda: None)
    else:
        url, drop = make_database(kind)
    if args.keep:
        print(f"  keeping {url}", file=sys.stderr)
        drop = lambda: None  # noqa: E731
    try:
        app = build_app(url, tempfile.mkdtemp())
        with app.app_context():
            load_seconds = None
            if not args.reuse:
                upgrade(directory=str(ROOT / "migrations"))
                started = time.perf_counter()
                populate(db, kind, args.attempts)
                load_seconds = time.perf_counter() - started
            code = "BENCH"
            exam = db.session.scalar(db.select(Exam).where(Exam.code == code))
            # The exam closed long ago: its roster is frozen once (exam.roster; the workers' sweep or the first
            # reader), timed apart from the pages, which read it.
            from exam import roster

            started = time.perf_counter()
            roster.ensure(exam, now_utc())
            db.session.commit()
            freeze_seconds = time.perf_counter() - started
            started = time.perf_counter()
            kept = items.refresh(exam, now_utc())
            db.session.commit()
            analysis_seconds = time.perf_counter() - started
            flagged = kept.data["flagged"]
            unit = db.session.execute(db.text("SELECT id FROM units WHERE code = 'U3'")).scalar()
        client = app.test_client()
        page = client.get("/login")
        token = page.get_data(as_text=True).split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        response = client.post("/login", data={"username": "benchadmin", "password": "bench-password",
                                               "csrf_token": token})  # fmt: skip
        assert response.status_code == 302, response.status_code
        pages = {
            "ranking (first page)": f"/reports/exams/{code}/ranking",
            "ranking (one unit subtree, one rank)": f"/reports/exams/{code}/ranking?unit={unit}&rank=staff",
            "statistics": f"/reports/exams/{code}/statistics",
            "item analysis (kept)": f"/reports/exams/{code}/items",
        }
        _time(client, pages["ranking (first page)"], 1)  # warm caches
        results = {}
        for name, path in pages.items():
            results[f"{name}, first view"] = _time(client, path, args.samples, app)
            results[f"{name}, again"] = _time(client, path, args.samples)
        return {"kind": kind, "load": load_seconds, "analysis": analysis_seconds, "flagged": flagged,
                "freeze": freeze_seconds, "pages": results}  # fmt: skip
    finally:
        drop()


def report(results: list[dict]) -> str:
    lines = [
        f"## {date.today().isoformat()} · reports: ranking, statistics and item analysis of 100,000 attempts",
        "",
        "`bench/bench_reports.py`: one exam of 100 questions (a fixed paper) with 100,000 graded attempts (10 million",
        "answers), 100,000 cadres in 220 units. Server time through the app in process (test client), median / p95",
        "in ms. The ranking and the item analysis are kept (recomputed when the results change); the unit and score",
        "aggregates are cached per process by what they are computed from: *first view* empties that cache before",
        "each request (as after any change of results or people), *again* reads it.",
        "",
        "| page | " + " | ".join(r["kind"] for r in results) + " |",
        "|---|" + "---|" * len(results),
    ]
    for name in results[0]["pages"]:
        cells = []
        for r in results:
            values = r["pages"][name]
            cells.append(f"{statistics.median(values):.0f} / {percentile(values, 95):.0f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| computing the item analysis (once, over 10 M answers), s | "
                 + " | ".join(f"{r['analysis']:.1f}" for r in results) + " |")  # fmt: skip
    lines.append("| freezing the roster at the close (once, every cadre), s | "
                 + " | ".join(f"{r['freeze']:.1f}" for r in results) + " |")  # fmt: skip
    lines.append("| generating the data, s | " + " | ".join(f"{r['load']:.0f}" if r["load"] else "(kept)"
                                                        for r in results) + " |")  # fmt: skip
    lines.append("")
    lines.append(f"Flagged items: {', '.join(str(r['flagged']) for r in results)}.")
    return "\n".join(lines) + "\n"


def add_arguments(parser) -> None:
    parser.add_argument("--attempts", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="Keep the generated database (its URL is printed).")
    parser.add_argument("--reuse", metavar="URL", help="Measure a database an earlier --keep run generated.")


if __name__ == "__main__":
    bench_main(__doc__, run, report, add_arguments)
