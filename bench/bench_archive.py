"""Learning-archive benchmark: a cadre's archive page and the unit overview, server side, with 50,000 cadres and
ten years of records, on SQLite and on PostgreSQL.

    .venv/bin/python bench/bench_archive.py [--db sqlite|postgresql|both] [--cadres 50000] [--years 10] [--write]

The generated district: 20 units with 10 sub-units each; per cadre and year two collective-study sessions, a
self-study record and (every other year) a training class entry; an agreed study plan and an annual assessment
every year; a reading list of three books a year with notes (passed) in the last three years; the year's
required hours. Rows are inserted in bulk (no revisions: neither page reads them). Timed through the whole app in
process (Flask test client, logged in as an organisation-department admin): the archive page of random cadres,
the unit overview of the latest year, one unit's cadre list behind a number, and the education profile.
"""

import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime

from common import ROOT, bench_main, build_app, make_database, percentile
from flask_migrate import upgrade

CHUNK = 20000


def _bulk(db, table, rows) -> None:
    from sqlalchemy import insert

    for i in range(0, len(rows), CHUNK):
        db.session.execute(insert(table), rows[i : i + CHUNK])


def run(kind: str, cadres: int, years: int, samples: int) -> dict:
    from werkzeug.security import generate_password_hash

    from accounts.models import Cadre, RoleAssignment, User
    from accounts.services import create_unit
    from archive import figures
    from archive.models import (
        AnnualAssessment,
        ArchiveEntry,
        ArchiveYear,
        CadreYear,
        ReadingBook,
        ReadingNote,
        StudyPlan,
    )
    from core.extensions import db
    from core.models import now_utc
    from core.policy import Role

    url, drop = make_database(kind)
    app = build_app(url, tempfile.mkdtemp(prefix="qe-bench-instance-"))
    rng = random.Random(6)
    out = {"db": kind, "cadres": cadres, "years": years}
    last = 2026
    first = last - years + 1
    try:
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            t0 = time.perf_counter()
            now = now_utc()
            top = create_unit("TOP", "区委组织部", "party_committee", None)
            units = []
            for i in range(20):
                parent = create_unit(f"U{i:02d}", f"单位{i:02d}", "department", top)
                units += [create_unit(f"U{i:02d}-{j}", f"单位{i:02d}-{j}", "other", parent) for j in range(10)]
            admin = User(username="bench", name="基准管理员", must_change_password=False, active=True,
                         password_hash=generate_password_hash("bench-Passw0rd"))  # fmt: skip
            admin.roles.append(RoleAssignment(role=Role.ORG_ADMIN))
            db.session.add(admin)
            db.session.flush()
            base = db.session.scalar(db.select(db.func.max(User.id)))
            users = [{"id": base + 1 + i, "username": f"C{i:06d}", "name": f"干部{i}", "password_hash": "!",
                      "must_change_password": False, "active": True, "created_at": now}
                     for i in range(cadres)]  # fmt: skip
            _bulk(db, User.__table__, users)
            profiles = [{"user_id": u["id"], "unit_id": units[i % len(units)].id, "gender": "male",
                         "birth_date": date(1970 + i % 30, 1 + i % 12, 1 + i % 28),
                         "rank": ("section_chief", "deputy_section_chief", "stock_level", "staff")[i % 4],
                         "position": "科员", "education": ("bachelor", "master", "college")[i % 3],
                         "political_status": "cpc_member", "phone": "", "status": "serving", "created_at": now,
                         "updated_at": now} for i, u in enumerate(users)]  # fmt: skip
            _bulk(db, Cadre.__table__, profiles)
            for year in range(first, last + 1):
                db.session.add(ArchiveYear(year=year, required_hours=50))
                for b in range(3):
                    db.session.add(ReadingBook(year=year, position=b, title=f"{year}年必读书{b}", author="", note="",
                                               min_chars=100, created_at=now))  # fmt: skip
            db.session.flush()
            books = {(b.year, b.position): b.id for b in db.session.scalars(db.select(ReadingBook))}
            entries, plans, assessments, notes, kept = [], [], [], [], []
            for u in users:
                uid = u["id"]
                for year in range(first, last + 1):
                    for month, kind_, hour_kind, title, hours in (
                        (3, "collective", "collective", "中心组学习", 3),
                        (9, "collective", "collective", "支部学习", 2),
                        (5, "self_study", "self_study", "在职自学", 10),
                    ) + (((6, "training", "off_job", "培训班", 40),) if (uid + year) % 2 else ()):
                        entries.append({"user_id": uid, "kind": kind_, "hour_kind": hour_kind, "year": year,
                                        "title": title, "starts_on": date(year, month, 10), "hours": hours,
                                        "details": {}, "status": "accepted", "revision": 1,
                                        "created_at": now})  # fmt: skip
                    plans.append({"user_id": uid, "year": year, "version": 1, "goals": "完成规定学时",
                                  "planned_hours": {"off_job": 40, "collective": 5, "self_study": 10},
                                  "created_at": now, "reason": "", "agreed_at": now})  # fmt: skip
                    if year < last or uid % 2:
                        assessments.append({"user_id": uid, "year": year, "version": 1, "summary": {},
                                            "appraisal": "学习认真。", "grade": "competent", "appraised_at": now,
                                            "reason": "", "feedback": "",
                                            "acknowledged_at": now if uid % 3 else None})  # fmt: skip
                    assessed = year < last or uid % 2
                    kept.append({"year": year, "user_id": uid, "hours": 15 + (40 if (uid + year) % 2 else 0),
                                 "notes_passed": (3 if uid % 4 else 2) if year > last - 3 else 0,
                                 "grade": "competent" if assessed else None,
                                 "acknowledged": bool(assessed and uid % 3)})  # fmt: skip
                    if year > last - 3:
                        for b in range(3 if uid % 4 else 2):
                            notes.append({"book_id": books[(year, b)], "user_id": uid, "version": 1,
                                          "body": "读书笔记", "submitted_at": now, "status": "accepted",
                                          "review_comment": ""})  # fmt: skip
            for table, rows in ((ArchiveEntry.__table__, entries), (StudyPlan.__table__, plans),
                                (AnnualAssessment.__table__, assessments), (ReadingNote.__table__, notes),
                                (CadreYear.__table__, kept)):  # fmt: skip
                _bulk(db, table, rows)
            db.session.commit()
            # The figures were generated with the records, not by the services: check a sample against a count.
            for row in rng.sample(kept, 20):
                expected = {k: row[k] for k in ("hours", "notes_passed", "grade", "acknowledged")}
                assert figures.compute(row["user_id"], row["year"]) == expected, row
            if kind == "postgresql":
                db.session.execute(db.text("ANALYZE"))
                db.session.commit()
            else:
                db.session.execute(db.text("ANALYZE"))
            out["rows"] = {"entries": len(entries), "plans": len(plans), "assessments": len(assessments),
                           "notes": len(notes)}  # fmt: skip
            out["generate_s"] = time.perf_counter() - t0
            sample = [u["username"] for u in rng.sample(users, samples)]
            one_unit = units[3].id

        client = app.test_client()
        page = client.get("/login")
        token = page.get_data(as_text=True).split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        response = client.post("/login", data={"username": "bench", "password": "bench-Passw0rd", "csrf_token": token})
        assert response.status_code == 302, response.status_code

        def timed(path, n):
            values = []
            for i in range(n):
                t = time.perf_counter()
                r = client.get(path(i) if callable(path) else path)
                values.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, (path, r.status_code)
            return statistics.median(values), percentile(values, 95), max(values), n

        timed("/archive/overview", 2)  # warm up
        out["ops"] = {
            "archive": timed(lambda i: f"/archive/cadres/{sample[i]}", samples),
            "overview": timed(f"/archive/overview?year={last}", 10),
            "cadres": timed(f"/archive/overview/cadres?year={last}&unit={one_unit}&which=short", 10),
            "education": timed("/archive/education", 10),
        }
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop()
    return out


def report(results: list[dict]) -> str:
    r0 = results[0]
    rows = r0["rows"]
    lines = [
        f"## Learning archives — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"`bench/bench_archive.py`; Python {sys.version.split()[0]}. {r0['cadres']:,} cadres in 200 units, "
        f"{r0['years']} years: {rows['entries']:,} archive entries, {rows['plans']:,} plans, "
        f"{rows['assessments']:,} assessments, {rows['notes']:,} reading notes. Server-side time per page (Flask "
        "test client, in process, logged in as an organisation-department admin, one request at a time): "
        "median / p95 / max. Target: a cadre's archive page and the unit overview under 200 ms on PostgreSQL.",
        "",
        "| | " + " | ".join(r["db"] for r in results) + " |",
        "|---|" + "---|" * len(results),
        "| generate the district | " + " | ".join(f"{r['generate_s']:.0f} s" for r in results) + " |",
    ]
    labels = {"archive": f"a cadre's archive page ({r0['years']} years)",
              "overview": f"unit overview, latest year (all {r0['cadres']:,} cadres)",
              "cadres": "the cadres behind one number (one unit)", "education": "education profile"}  # fmt: skip
    for key, label in labels.items():
        cells = [f"{r['ops'][key][0]:.0f} / {r['ops'][key][1]:.0f} / {r['ops'][key][2]:.0f} ms" for r in results]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    def options(parser):
        parser.add_argument("--cadres", type=int, default=50000)
        parser.add_argument("--years", type=int, default=10)
        parser.add_argument("--samples", type=int, default=30)

    bench_main(__doc__, lambda kind, args: run(kind, args.cadres, args.years, args.samples), report, options)


if __name__ == "__main__":
    main()
