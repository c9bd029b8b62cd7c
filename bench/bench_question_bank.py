"""Question-bank benchmark: import of a 10,000-question .xlsx, and the question list (search, filters, sorting,
paging) on a bank of 50,000 questions, on SQLite and on PostgreSQL.

    .venv/bin/python bench/bench_question_bank.py [--db sqlite|postgresql|both] [--questions 50000] [--write]

Times are server-side: the whole request through the app (routing, queries, template), measured in process
with Flask's test client, so network and browser time are excluded. Each list page is requested 15 times;
the median and the 95th percentile are reported.
"""

import os
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import bench_main, build_app, make_database, percentile  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

TYPES = ["单选题"] * 5 + ["多选题"] * 2 + ["判断题"] * 2 + ["填空题"] * 2 + ["简答题"]
WORDS = (
    "宪法", "党章", "公务员", "行政许可", "行政处罚", "公文", "预算", "采购",
    "安全生产", "保密", "信访", "培训", "民主集中制", "人民代表大会", "监督",
)  # fmt: skip


def questions_xlsx(n: int, seed: int) -> bytes:
    """A realistic import file: all five types, categories three deep, tags, explanations."""
    from question_bank.formats import table

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        kind = rng.choice(TYPES)
        topic = rng.choice(WORDS)
        other = rng.choice(WORDS)
        stem = f"第{seed}-{i}题：关于{topic}的规定，下列说法与{other}有关的是______。（{secrets.token_hex(4)}）"
        options, answer, scoring = [""] * 8, "", ""
        if kind in ("单选题", "多选题"):
            for j in range(4):
                options[j] = f"{rng.choice(WORDS)}相关表述{j + 1}-{secrets.token_hex(2)}"
            answer = "B" if kind == "单选题" else "ACD"
        elif kind == "判断题":
            stem = stem.replace("______", "")
            answer = rng.choice(["正确", "错误"])
        elif kind == "填空题":
            answer = f"{topic}|{topic}制度"
        else:
            stem = stem.replace("______", "")
            answer, scoring = f"{topic}的参考答案……", "要点一\n要点二"
        category = f"第{rng.randint(1, 6)}章/第{rng.randint(1, 4)}节/{topic}"
        rows.append([kind, stem, *options, answer, "", rng.randint(1, 5), category, f"{topic}、{rng.choice(WORDS)}",
                     f"解析：{topic}。", "", scoring, ""])  # fmt: skip
    return table.write_xlsx(rows)


def run(kind: str, total: int) -> dict:
    from accounts.models import RoleAssignment, User
    from accounts.services import create_unit
    from core.extensions import db
    from core.models import now_utc
    from core.policy import Role
    from question_bank import formats, services, transfer
    from question_bank.models import Category, Question

    url, drop = make_database(kind)
    instance = tempfile.mkdtemp(prefix="qe-bench-instance-")
    app = build_app(url, instance)
    out = {"db": kind}
    try:
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            unit = create_unit("TOP", "区委组织部", "party_committee", None)
            admin = User(username="bench", name="bench", must_change_password=False, active=True)
            admin.set_password("bench-pass-1")
            admin.roles.append(RoleAssignment(role=Role.SYSTEM_ADMIN))
            db.session.add(admin)
            bank = services.create_bank(admin, "BENCH", "基准题库", "政治理论", unit, "", now_utc())
            db.session.commit()

            # 1. The import of one 10,000-question file: parse and check, then write.
            data = questions_xlsx(10_000, seed=0)
            out["file_mb"] = len(data) / 1e6
            t0 = time.perf_counter()
            result = transfer.read_file("xlsx", data, bank)
            t1 = time.perf_counter()
            assert result.ok, [str(i) for i in result.issues[:5]]
            formats.commit(admin, bank, result, now_utc(), status="active")
            db.session.commit()
            t2 = time.perf_counter()
            out["import_check_s"], out["import_write_s"], out["import_total_s"] = t1 - t0, t2 - t1, t2 - t0

            # 2. Grow the bank to `total` questions with more imports (not timed), then time the list pages.
            seed = 1
            while db.session.scalar(select(func.count(Question.id))) < total:
                n = min(10_000, total - db.session.scalar(select(func.count(Question.id))))
                result = transfer.read_file("xlsx", questions_xlsx(n, seed), None)
                formats.commit(admin, bank, result, now_utc(), status="active")
                db.session.commit()
                seed += 1
            out["questions"] = db.session.scalar(select(func.count(Question.id)))
            chapter_id = db.session.scalar(
                select(Category.id).where(Category.parent_id.is_(None)).order_by(Category.id)
            )
            if kind == "postgresql":
                db.session.execute(db.text("ANALYZE"))
                db.session.commit()

        client = app.test_client()
        html = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
        assert (
            client.post(
                "/login", data={"username": "bench", "password": "bench-pass-1", "csrf_token": token}
            ).status_code
            == 302
        )
        pages = {
            "list, page 1": "/banks/BENCH/",
            "list, page 1000 of 2500": "/banks/BENCH/?page=1000",
            "search 安全生产 (substring, Chinese)": "/banks/BENCH/?q=安全生产",
            "search, no match": "/banks/BENCH/?q=不存在的词语",
            "filter type=multiple": "/banks/BENCH/?type=multiple",
            "filter difficulty=5 + sort hardest": "/banks/BENCH/?difficulty=5&sort=difficulty_desc",
            "filter chapter (subtree)": f"/banks/BENCH/?category={chapter_id}",
            "filter tag 保密": "/banks/BENCH/?tag=保密",
            "filter status=draft (empty)": "/banks/BENCH/?status=draft",
            "search + type + chapter": f"/banks/BENCH/?q=预算&type=single&category={chapter_id}",
        }
        timings = {}
        for label, path in pages.items():
            client.get(path)  # warm caches
            samples = []
            for _ in range(15):
                t0 = time.perf_counter()
                response = client.get(path)
                samples.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            timings[label] = (statistics.median(samples), percentile(samples, 95))
        out["pages"] = timings
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop()
    return out


def report(results: list[dict]) -> str:
    lines = [
        f"## Question banks — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"`bench/bench_question_bank.py`; {os.cpu_count()} cores; Python {sys.version.split()[0]}. Server-side time per"
        " request (Flask test client, in process: routing, queries and template; no network).",
        "",
        "| | " + " | ".join(r["db"] for r in results) + " |",
        "|---|" + "---|" * len(results),
        "| import 10,000 questions (.xlsx, "
        + f"{results[0]['file_mb']:.1f} MB): check | "
        + " | ".join(f"{r['import_check_s']:.1f} s" for r in results)
        + " |",
        "| … write (all or nothing, one transaction) | "
        + " | ".join(f"{r['import_write_s']:.1f} s" for r in results)
        + " |",
        "| **import total** | " + " | ".join(f"**{r['import_total_s']:.1f} s**" for r in results) + " |",
        "| questions in the bank for the list pages | " + " | ".join(f"{r['questions']:,}" for r in results) + " |",
    ]
    for label in results[0]["pages"]:
        cells = [f"{r['pages'][label][0]:.0f} ms (p95 {r['pages'][label][1]:.0f})" for r in results]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    bench_main(
        __doc__,
        lambda kind, args: run(kind, args.questions),
        report,
        lambda parser: parser.add_argument("--questions", type=int, default=50_000),
    )


if __name__ == "__main__":
    main()
