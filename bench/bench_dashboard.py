"""Dashboard benchmark: the home page's figures (reports.dashboard) for a district of 50,000 cadres, for the district
admin and for a unit admin, on SQLite and on PostgreSQL, with EXPLAIN of every query on PostgreSQL.

    .venv/bin/python bench/bench_dashboard.py [--db sqlite|postgresql|both] [--cadres 50000] [--write]

The generated district (units and cadres as bench_archive.py and bench_reports.py build them: 20 units with 10
sub-units each, rows written in bulk with bench_reports' COPY / executemany): this year's kept study figures of
every cadre (archive_cadre_years) and a reading list of three books with every cadre's notes (passed, a few
rejected and resubmitted, 2% waiting for review); a closed, released exam that every cadre sat (20 answers each,
two of them essays, 5% of the sheets still waiting for a grader); an exam open now, closing in three days, that
40% of the cadres have started (a quarter of them still sitting); another open one, closing in a month, with 2,000
starts; a bank with 40 questions in review. About 1.3 million answers and 1.4 million paper items (on PostgreSQL
copied with the per-row triggers off: the generator makes the rows consistent itself).

Timed in process, one call at a time: each figure's function (`reports.dashboard`) and the whole home page through
the Flask test client, as an organisation-department admin (also a grader) and as the unit admin of one of the 20
units (2,500 cadres): median and p95 in ms. Target: under 100 ms server time.
"""

import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta

from bench_reports import _bulk, _ts
from common import ROOT, bench_main, build_app, make_database, percentile
from flask_migrate import upgrade

#: The big tables: a sequential scan of one of them is a finding.
BIG = ("users", "cadres", "attempts", "answers", "papers", "paper_items", "reading_notes", "archive_cadre_years")
ITEMS = 20  # per paper: 18 single-choice questions and 2 essays
ESSAYS = (19, 20)


def populate(db, kind: str, cadres: int, now: datetime) -> dict:
    from werkzeug.security import generate_password_hash

    from accounts.models import Cadre, RoleAssignment, User
    from accounts.services import create_unit
    from archive.models import ArchiveYear, ReadingBook
    from exam.models import Exam, ExamSection, FixedItem
    from question_bank.models import Bank
    from question_bank.services import create_question
    from question_bank.types import Content

    rng = random.Random(20261203)
    year = now.year
    password = generate_password_hash("bench-Passw0rd")
    root = create_unit("D", "区委组织部", "party_committee", None)
    tops, units = [], []
    for i in range(20):
        top = create_unit(f"U{i:02d}", f"单位{i:02d}", "department", root)
        tops.append(top)
        units += [create_unit(f"U{i:02d}-{j}", f"单位{i:02d}-{j}", "other", top) for j in range(10)]
    admin = User(username="bench", name="组织部管理员", password_hash=password, must_change_password=False)
    admin.roles += [RoleAssignment(role="org_admin"), RoleAssignment(role="grader")]
    unit_admin = User(username="benchunit", name="单位管理员", password_hash=password, must_change_password=False)
    unit_admin.roles.append(RoleAssignment(role="unit_admin", unit=tops[3]))
    author = User(username="benchauthor", name="命题人", password_hash=password, must_change_password=False)
    author.roles.append(RoleAssignment(role="author"))
    db.session.add_all([admin, unit_admin, author])
    db.session.flush()
    # The author writes in the district's bank: a cadre of its owner unit (the bank policy reads the author's unit).
    db.session.add(Cadre(user=author, unit=root, gender="female", birth_date=date(1985, 1, 1), rank="staff",
                         position="科员", education="master", political_status="cpc_member", phone=""))  # fmt: skip
    db.session.flush()

    bank = Bank(code="B", name="政治理论题库", subject="政治理论", owner_unit_id=root.id)
    db.session.add(bank)
    db.session.flush()
    singles = []
    for n in range(60):
        q = create_question(author, bank, "single", Content(stem=f"第{n}题", options=["甲", "乙", "丙", "丁"],
                            answer=[n % 4]), now, status="in_review" if n >= 20 else "active")  # fmt: skip
        singles.append(q.current_version)
    essays = [
        create_question(
            author,
            bank,
            "essay",
            Content(stem=f"论述{n}", answer={"reference": "要点", "scoring_points": []}, points=5),
            now,
            status="active",
        ).current_version  # fmt: skip
        for n in range(2)
    ]

    def exam(code, title, opens, closes, status):
        e = Exam(code=code, title=title, subject="政治理论", paper_mode="fixed", duration_minutes=90, opens_at=opens,
                 closes_at=closes, pass_mark=60, eligibility={}, status=status, published_at=opens - timedelta(1),
                 first_started_at=opens, release_policy="after_close")  # fmt: skip
        single = ExamSection(position=1, title="单选题", qtype="single", points_per_question=5)
        single.fixed_items += [FixedItem(position=k + 1, version=v) for k, v in enumerate(singles[:18])]
        essay = ExamSection(position=2, title="论述题", qtype="essay", points_per_question=5)
        essay.fixed_items += [FixedItem(position=k + 1, version=v) for k, v in enumerate(essays)]
        e.sections += [single, essay]
        db.session.add(e)
        db.session.flush()
        return e

    closed = exam("PAST", "上半年任职资格考试", now - timedelta(days=60), now - timedelta(days=59), "released")
    soon = exam("SOON", "年度任职资格考试（政治理论）", now - timedelta(days=1), now + timedelta(days=3), "published")
    later = exam("LATER", "年度任职资格考试（岗位知识）", now - timedelta(2), now + timedelta(30), "published")
    plan = {e.id: [(s.id, f.question_version_id, s.qtype) for s in e.sections for f in s.fixed_items]
            for e in (closed, soon, later)}  # fmt: skip
    ids = {"closed": closed.id, "soon": soon.id, "later": later.id}
    unit_ids = [u.id for u in units]  # read before the COPYs: a lazy load inside one would wait on itself
    db.session.add(ArchiveYear(year=year, required_hours=50))
    db.session.add_all(ReadingBook(year=year, position=b, title=f"必读书{b}", author="", note="", min_chars=100,
                                   created_at=now) for b in range(3))  # fmt: skip
    db.session.commit()
    books = list(db.session.scalars(db.text("SELECT id FROM reading_books ORDER BY position")))

    first = db.session.execute(db.text("SELECT COALESCE(MAX(id), 0) FROM users")).scalar() + 1
    if kind == "postgresql":  # a bulk load: no per-row triggers (the rows are made consistent here)
        db.session.execute(db.text("SET session_replication_role = replica"))
    t = _ts(kind, now)
    _bulk(db, kind, "users", ("id", "username", "name", "password_hash", "must_change_password", "active",
                               "created_at"),
          ((first + n, f"C{n:06d}", f"干部{n}", "!", False, True, t) for n in range(cadres)))  # fmt: skip
    _bulk(db, kind, "cadres", ("id", "user_id", "unit_id", "gender", "birth_date", "rank", "position", "education",
                                "political_status", "phone", "status", "created_at", "updated_at"),
          ((first + n, first + n, unit_ids[n % len(unit_ids)], "male", date(1970 + n % 30, 1 + n % 12, 1),
            ("section_chief", "deputy_section_chief", "stock_level", "staff")[n % 4], "科员", "bachelor",
            "cpc_member", "", "serving", t, t) for n in range(cadres)))  # fmt: skip
    _bulk(db, kind, "archive_cadre_years", ("year", "user_id", "hours", "notes_passed", "grade", "acknowledged"),
          ((year, first + n, rng.choice((12, 30, 48, 50, 56, 72)), rng.choice((0, 1, 2, 3, 3)), None, False)
           for n in range(cadres)))  # fmt: skip

    def notes():
        ident = 0
        for n in range(cadres):
            for b, book in enumerate(books):
                if (n + b) % 5 == 4:
                    continue  # not written yet
                ident += 1
                waiting = n % 47 == b
                if n % 40 == 7:  # rejected once, then resubmitted
                    yield (ident, book, first + n, 1, "读书笔记", t, "rejected", "联系实际不够")
                    ident += 1
                    yield (ident, book, first + n, 2, "读书笔记", t, "pending" if waiting else "accepted", "")
                else:
                    yield (ident, book, first + n, 1, "读书笔记", t, "pending" if waiting else "accepted", "")

    _bulk(db, kind, "reading_notes", ("id", "book_id", "user_id", "version", "body", "submitted_at", "status",
                                       "review_comment"), notes())  # fmt: skip

    # Attempts: everyone sat the closed exam; 40% started SOON (a quarter still sitting); 2,000 started LATER.
    sittings = [(ids["closed"], n, "submitted") for n in range(cadres)]
    sittings += [(ids["soon"], n, "in_progress" if n % 4 == 0 else "submitted") for n in range(0, cadres, 5)]
    sittings += [(ids["soon"], n, "in_progress" if n % 4 == 0 else "submitted") for n in range(1, cadres, 5)]
    sittings += [(ids["later"], n, "submitted") for n in range(2, cadres, 25)]
    _bulk(db, kind, "papers", ("id", "exam_id", "user_id", "attempt_number", "seed", "created_at"),
          ((k + 1, exam_id, first + n, 1, k, t) for k, (exam_id, n, _s) in enumerate(sittings)))  # fmt: skip
    _bulk(db, kind, "paper_items", ("id", "paper_id", "position", "section_id", "question_version_id",
                                     "option_order", "points"),
          ((k * ITEMS + p, k + 1, p, section, version, "[0, 1, 2, 3]" if qtype == "single" else "[]", 5.0)
           for k, (exam_id, _n, _s) in enumerate(sittings)
           for p, (section, version, qtype) in enumerate(plan[exam_id], start=1)))  # fmt: skip

    def final(k: int, exam_id: int, n: int, status: str) -> tuple:
        """(ended, score, fully graded, passed) of a sitting: the closed exam's sheets are graded but every 20th,
        whose essays wait; the open exams' submitted sheets all wait for a grader."""
        waiting = exam_id == ids["closed"] and n % 20 == 0 or exam_id != ids["closed"] and status != "in_progress"
        graded = status != "in_progress" and not waiting
        return graded, waiting, (70.0 if graded else None)

    def started(exam_id: int) -> datetime:
        return now - timedelta(days=60) if exam_id == ids["closed"] else now - timedelta(minutes=30)

    # Attempts go in open, their answers after them, and then they end: the immutable-records triggers (migration
    # 0013) refuse answers added to a finalized attempt, as they should.
    _bulk(db, kind, "attempts", ("id", "exam_id", "user_id", "number", "paper_id", "status", "started_at",
                                  "deadline_at", "extra_minutes", "fully_graded", "focus_losses"),
          ((k + 1, exam_id, first + n, 1, k + 1, "in_progress", _ts(kind, started(exam_id)),
            _ts(kind, started(exam_id) + timedelta(minutes=90)), 0, False, 0)
           for k, (exam_id, n, _status) in enumerate(sittings)))  # fmt: skip

    def answers():
        for k, (exam_id, n, status) in enumerate(sittings):
            _graded, waiting, _score = final(k, exam_id, n, status)
            for p in range(1, ITEMS + 1):
                if status == "in_progress" and p > 8:
                    break  # still answering
                essay = p in ESSAYS
                points = None if status == "in_progress" or (essay and waiting) else (5.0 if p % 3 else 0.0)
                value = '"答：要点"' if essay else str(p % 4)
                yield (k * ITEMS + p, k + 1, p, value, 1, t, points, "")

    _bulk(db, kind, "answers", ("id", "attempt_id", "position", "value", "seq", "saved_at", "points", "comment"),
          answers())  # fmt: skip
    ended = []
    for k, (exam_id, n, status) in enumerate(sittings):
        if status != "in_progress":
            graded, _waiting, score = final(k, exam_id, n, status)
            ended.append((_ts(kind, started(exam_id) + timedelta(minutes=60)), score, graded,
                          (score >= 60) if graded else None, k + 1))  # fmt: skip
    mark = "%s" if kind == "postgresql" else "?"
    raw = db.session.connection().connection.driver_connection
    raw.cursor().executemany(f"UPDATE attempts SET status = 'submitted', ended_at = {mark}, score = {mark}, "  # noqa: S608
                             f"fully_graded = {mark}, passed = {mark} WHERE id = {mark}", ended)  # fmt: skip
    if kind == "postgresql":
        db.session.execute(db.text("SET session_replication_role = DEFAULT"))
        for table in ("users", "cadres", "papers", "paper_items", "attempts", "answers", "reading_notes"):
            db.session.execute(db.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                                       f"(SELECT MAX(id) FROM {table}))"))  # fmt: skip
    db.session.commit()
    counts = {table: db.session.execute(db.text(f"SELECT COUNT(*) FROM {table}")).scalar()  # noqa: S608
              for table in ("cadres", "attempts", "answers", "paper_items", "reading_notes")}  # fmt: skip
    return {"admin": "bench", "unit_admin": "benchunit", "counts": counts}


def _figures(now: datetime) -> dict:
    """The dashboard's figures, one function each, as the home page calls them, with the permission behind each."""
    from reports import dashboard

    return {
        "open exams": ("reports.view", lambda viewer: dashboard.open_exams(viewer, now)),
        "questions to review": ("question.review", dashboard.questions_to_review),
        "answers to mark": ("exam.grade", dashboard.answers_to_mark),
        "notes to review": ("archive.view", lambda viewer: dashboard.notes_to_review(viewer, now.year)),
        "completion by unit": ("archive.view", lambda viewer: dashboard.completion(viewer, now.year)),
        "the whole board": ("admin.access", lambda viewer: dashboard.board(viewer, now)),
    }


def _statements(db, event, call) -> list:
    """The SELECT statements (with their parameters) that `call()` sends to the database."""
    statements = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", keep)
    db.session.expire_all()
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    return statements


def _explain(db, statements) -> list[dict]:
    """EXPLAIN (ANALYZE) of each statement on PostgreSQL; which big tables it scans sequentially."""
    out = []
    for sql, params in statements:
        plan = [row[0] for row in db.session.connection().exec_driver_sql("EXPLAIN (ANALYZE, COSTS OFF) " + sql,
                                                                          params)]  # fmt: skip
        seq = sorted({t for line in plan for t in BIG if f"Seq Scan on {t} " in line + " "})
        ms = sum(float(line.split(":")[1].split()[0]) for line in plan if line.startswith("Execution Time:"))
        out.append({"sql": " ".join(sql.split())[:160], "plan": plan, "seq": seq, "ms": ms})
    return out


def run(kind: str, args) -> dict:
    from sqlalchemy import event, select

    from accounts.models import User
    from core.extensions import db
    from core.models import now_utc
    from core.policy import can

    url, drop = make_database(kind)
    app = build_app(url, tempfile.mkdtemp(prefix="qe-bench-instance-"))
    out = {"db": kind, "cadres": args.cadres}
    now = now_utc()
    try:
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            t0 = time.perf_counter()
            made = populate(db, kind, args.cadres, now)
            if kind == "postgresql":
                db.session.commit()
                db.session.connection().connection.driver_connection.autocommit = True
                db.session.connection().exec_driver_sql("VACUUM ANALYZE")
                db.session.connection().connection.driver_connection.autocommit = False
            else:
                db.session.execute(db.text("ANALYZE"))
            db.session.commit()
            out["generate_s"] = time.perf_counter() - t0
            out["counts"] = made["counts"]
            print(f"  generated in {out['generate_s']:.0f} s: {made['counts']}", file=sys.stderr)
            out["ops"], out["explain"], out["answers"] = {}, {}, {}
            out["load"] = os.getloadavg()[0]  # the machine is shared: say how busy it was
            for role, username in (("district admin", made["admin"]), ("unit admin", made["unit_admin"])):
                viewer = db.session.scalar(select(User).where(User.username == username))
                for name, (action, figure) in _figures(now).items():
                    if not can(viewer, action):
                        continue  # the card is not the viewer's
                    figure(viewer)  # warm up
                    values = []
                    for _ in range(args.samples):
                        db.session.expire_all()
                        t = time.perf_counter()
                        result = figure(viewer)
                        values.append((time.perf_counter() - t) * 1000)
                    out["ops"][role, name] = (statistics.median(values), percentile(values, 95), max(values))
                    if name == "the whole board":
                        out["answers"][role] = _summary(result)
                if kind == "postgresql":
                    out["explain"][role] = _explain(
                        db, _statements(db, event, lambda viewer=viewer: _figures(now)["the whole board"][1](viewer))
                    )
                db.session.rollback()

        client = app.test_client()
        for role, username in (("district admin", "bench"), ("unit admin", "benchunit")):
            page = client.get("/login")
            token = page.get_data(as_text=True).split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
            response = client.post("/login", data={"username": username, "password": "bench-Passw0rd",
                                                   "csrf_token": token})  # fmt: skip
            assert response.status_code == 302, response.status_code
            client.get("/")
            values = []
            for _ in range(args.samples):
                t = time.perf_counter()
                r = client.get("/")
                values.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200 and 'id="board"' in r.get_data(as_text=True)
            out["ops"][role, "home page (whole request)"] = (statistics.median(values), percentile(values, 95),
                                                              max(values))  # fmt: skip
            client.post("/logout", data={"csrf_token": _csrf(client)})
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop()
    return out


def _csrf(client) -> str:
    html = client.get("/").get_data(as_text=True)
    return html.split('<meta name="csrf-token" content="')[1].split('"')[0]


def _summary(board) -> str:
    parts = []
    if board.open_exams is not None:
        parts.append("open " + ", ".join(f"{r.exam.code} {r.in_progress}/{r.submitted}" for r in board.open_exams))
    if board.questions_to_review is not None:
        parts.append(f"questions {board.questions_to_review}")
    if board.answers_to_mark is not None:
        parts.append(f"answers {board.answers_waiting}")
    if board.notes_to_review is not None:
        parts.append(f"notes {board.notes_to_review}")
    if board.completion is not None:
        c = board.completion
        parts.append(f"{len(c.units)} unit rows, hours met {c.met}/{c.cadres}, reading done {c.reading}")
    return "; ".join(parts)


def report(results: list[dict]) -> str:
    r0 = results[0]
    c = r0["counts"]
    lines = [
        f"## Home page dashboard — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"`bench/bench_dashboard.py`; Python {sys.version.split()[0]}. {c['cadres']:,} cadres in 200 units; "
        f"{c['attempts']:,} attempts ({c['answers']:,} answers, {c['paper_items']:,} paper items) at a closed exam "
        f"and two open ones; {c['reading_notes']:,} reading notes. Each figure's function of `reports.dashboard`, "
        "in process, one call at a time, and the whole home page through the Flask test client: median / p95 / "
        "max in ms. The district admin (also a grader) sees every card; the unit admin of one of the 20 units "
        "(2,500 cadres) sees exams, notes and completion. Target: under 100 ms server time.",
        "",
        "| figure | " + " | ".join(f"{r['db']} · {role}" for r in results for role in ("district", "unit")) + " |",
        "|---|" + "---|" * (2 * len(results)),
    ]
    names = [name for (role, name) in r0["ops"] if role == "district admin"]
    for name in names:
        cells = []
        for r in results:
            for role in ("district admin", "unit admin"):
                if (role, name) not in r["ops"]:
                    cells.append("(not theirs)")
                    continue
                median, p95, _max = r["ops"][role, name]
                cells.append(f"{median:.1f} / {p95:.1f} / {_max:.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| generate the district | " + " | ".join(f"{r['generate_s']:.0f} s | —" for r in results) + " |")
    lines += ["", "Load average (1 min) when the timing began: "
              + ", ".join(f"{r['db']} {r['load']:.1f}" for r in results) + " (2 cores)."]  # fmt: skip
    lines += ["", "What the board said: " + " · ".join(f"{role}: {text}" for role, text in r0["answers"].items())]
    for r in results:
        if not r["explain"]:
            continue
        lines += ["", f"EXPLAIN ANALYZE on {r['db']}, every SELECT of the board (sequential scans of the big tables "
                  f"named; {', '.join(BIG)}):", ""]  # fmt: skip
        for role, plans in r["explain"].items():
            lines.append(f"- {role}: {len(plans)} statements, {sum(p['ms'] for p in plans):.1f} ms of execution in "
                         "the server; sequential scans of big tables: "
                         + (", ".join(f"{', '.join(p['seq'])} in `{p['sql'][:90]}…`" for p in plans if p["seq"])
                            or "none"))  # fmt: skip
        lines += ["", "<details><summary>Plans</summary>", "", "```"]
        for role, plans in r["explain"].items():
            for p in plans:
                lines += [f"-- {role}: {p['sql']}", *p["plan"], ""]
        lines += ["```", "", "</details>"]
    return "\n".join(lines) + "\n"


def main():
    def options(parser):
        parser.add_argument("--cadres", type=int, default=50000)
        parser.add_argument("--samples", type=int, default=20)

    bench_main(__doc__, run, report, options)


if __name__ == "__main__":
    main()
