"""Exam-engine benchmark: publishing (drawing every paper ahead), and the candidate API's start, save, submit and
result, server-side per request, on SQLite and on PostgreSQL.

    .venv/bin/python bench/bench_exam.py [--db sqlite|postgresql|both] [--candidates 300] [--saves 20] [--write]

One 100-question exam (50 single, 20 multiple, 20 true/false, 8 fill-in, 2 essays) drawn per candidate from a
bank of 360 active questions. Each candidate, with a personal API token, starts (the paper was drawn at
publishing), saves `--saves` answers one request each, submits (objective grading and the archive record in
the same transaction) and reads the result. Requests go through the whole app in process (Flask test client:
routing, token lookup, queries, JSON), one at a time: this is the cost of one request, not a load test (that
is issue 8's `make bench` load driver).
"""

import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta

from common import ROOT, bench_main, build_app, make_database, percentile
from flask_migrate import upgrade
from load_driver import answer_for

#: Candidates use tokens only: a password hash that matches no password.
NO_LOGIN = "!"  # noqa: S105
POOL = {"single": 180, "multiple": 70, "truefalse": 70, "fill": 30, "essay": 10}
SECTIONS = (("一、单选题", "single", 50, 1), ("二、多选题", "multiple", 20, 2), ("三、判断题", "truefalse", 20, 1),
            ("四、填空题", "fill", 8, 1), ("五、论述题", "essay", 2, 10))  # fmt: skip


def _content(qtype: str, i: int):
    from question_bank.richtext import from_text
    from question_bank.types import Content

    stem = f"第{i}题：关于干部教育培训的规定，下列说法正确的是______。"
    opts = [from_text(f"选项{j}-{i}") for j in range(4)]
    if qtype == "single":
        return Content(stem=from_text(stem), options=opts, answer=[i % 4])
    if qtype == "multiple":
        return Content(stem=from_text(stem), options=opts, answer=[0, 2], points=2)
    if qtype == "truefalse":
        return Content(stem=from_text(stem.replace("______", "")), answer=bool(i % 2))
    if qtype == "fill":
        return Content(stem=from_text(stem), answer=[[f"答案{i}"]])
    return Content(stem=from_text(stem.replace("______", "")), answer={"reference": "参考答案", "scoring_points": []},
                   points=10)  # fmt: skip


def fill_bank(admin, code: str, unit, now):
    """A bank of POOL's active questions of every type (shared with bench_load)."""
    from question_bank import services as qb

    bank = qb.create_bank(admin, code, "基准题库", "政治理论", unit, "", now)
    n = 0
    for qtype, count in POOL.items():
        for _ in range(count):
            n += 1
            qb.create_question(admin, bank, qtype, _content(qtype, n), now, status="active", flush=False)
    return bank


def run(kind: str, candidates: int, saves: int) -> dict:
    from accounts.models import Cadre, RoleAssignment, User
    from accounts.services import create_api_token, create_unit
    from core.extensions import db
    from core.models import now_utc
    from core.policy import Role
    from exam import definition, publishing

    url, drop = make_database(kind)
    app = build_app(url, tempfile.mkdtemp(prefix="qe-bench-instance-"))
    out = {"db": kind, "candidates": candidates, "saves": saves}
    rng = random.Random(4)
    try:
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            now = now_utc()
            unit = create_unit("TOP", "区委组织部", "party_committee", None)
            admin = User(username="bench", name="bench", must_change_password=False, active=True,
                         password_hash=NO_LOGIN)  # fmt: skip
            admin.roles.append(RoleAssignment(role=Role.SYSTEM_ADMIN))
            db.session.add(admin)
            bank = fill_bank(admin, "BENCH", unit, now)
            tokens = []
            for i in range(candidates):
                user = User(username=f"C{i:05d}", name=f"考生{i}", must_change_password=False, active=True,
                            password_hash=NO_LOGIN)  # fmt: skip
                db.session.add(user)
                db.session.add(Cadre(user=user, unit=unit, gender="male", birth_date=date(1995, 1, 1),
                                     rank="section_chief", position="科员", education="bachelor",
                                     political_status="cpc_member"))  # fmt: skip
                db.session.flush()
                tokens.append({"Authorization": f"Bearer {create_api_token(user, 'bench', now)}"})
            values = {"title": "基准考试", "subject": "政治理论", "instructions": "", "paper_mode": "drawn",
                      "duration_minutes": 120, "opens_at": now - timedelta(minutes=5),
                      "closes_at": now + timedelta(hours=6), "attempts_allowed": 1, "pass_mark": 60,
                      "shuffle_questions": True, "shuffle_options": True, "mc_policy": "partial",
                      "release_policy": "immediate", "review_policy": "answers", "focus_loss_limit": None}  # fmt: skip
            exam = definition.create_exam(admin, "BENCH1", values, now)
            definition.set_eligibility(admin, exam, {"unit_ids": [unit.id]}, now)
            for title, qtype, count, points in SECTIONS:
                section = definition.add_section(admin, exam, title, qtype, points, now)
                definition.add_rule(admin, section, now, bank=bank, count=count)
            db.session.commit()
            if kind == "postgresql":
                db.session.execute(db.text("ANALYZE"))
                db.session.commit()
            t0 = time.perf_counter()
            drawn = publishing.publish(admin, exam, now)
            db.session.commit()
            out["publish_s"] = time.perf_counter() - t0
            assert drawn == candidates, drawn

        client = app.test_client()
        timings: dict[str, list[float]] = {"start": [], "save": [], "submit": [], "result": []}

        def timed(label, method, path, headers, **kwargs):
            t = time.perf_counter()
            response = client.open(path, method=method, headers=headers, **kwargs)
            timings[label].append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:300])
            return response.get_json()

        for headers in tokens:
            paper = timed("start", "POST", "/api/v1/exams/BENCH1/attempts", headers, json={})
            items = paper["items"]
            for seq in range(1, saves + 1):
                item = rng.choice(items)
                timed("save", "PUT", f"/api/v1/attempts/{paper['id']}/answers/{item['position']}", headers,
                      json={"value": answer_for(item, rng), "seq": seq})  # fmt: skip
            timed("submit", "POST", f"/api/v1/attempts/{paper['id']}/submit", headers)
            timed("result", "GET", f"/api/v1/attempts/{paper['id']}", headers)
        out["ops"] = {label: (statistics.median(v), percentile(v, 95), percentile(v, 99), len(v))
                      for label, v in timings.items()}  # fmt: skip
        with app.app_context():
            from sqlalchemy import func, select

            from archive.models import ExamResultRecord

            assert db.session.scalar(select(func.count(ExamResultRecord.id))) == candidates
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop()
    return out


def report(results: list[dict]) -> str:
    r0 = results[0]
    lines = [
        f"## Exam engine, one request at a time — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"`bench/bench_exam.py`; {os.cpu_count()} cores; Python {sys.version.split()[0]}. A 100-question drawn exam, "
        f"{r0['candidates']} candidates, {r0['saves']} saves each. Server-side time per request (Flask test client, "
        "in process, bearer token; no network, no concurrency): median / p95 / p99.",
        "",
        "| | " + " | ".join(r["db"] for r in results) + " |",
        "|---|" + "---|" * len(results),
        f"| publish: check pools and draw {r0['candidates']} papers | "
        + " | ".join(f"{r['publish_s']:.1f} s" for r in results)
        + " |",
    ]
    labels = {"start": "start (paper drawn ahead; the paper in the response)", "save": "save one answer",
              "submit": "submit (grade 98 objective items, archive record)", "result": "read the result"}  # fmt: skip
    for key, label in labels.items():
        cells = [f"{r['ops'][key][0]:.1f} / {r['ops'][key][1]:.1f} / {r['ops'][key][2]:.1f} ms" for r in results]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    def options(parser):
        parser.add_argument("--candidates", type=int, default=300)
        parser.add_argument("--saves", type=int, default=20)

    bench_main(__doc__, lambda kind, args: run(kind, args.candidates, args.saves), report, options)


if __name__ == "__main__":
    main()
