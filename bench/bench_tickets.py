"""Admission tickets benchmark: the job "sitting.tickets" drawing 1,000 tickets (each with its own photo and QR code)
into one PDF, timed through the job runner as a worker runs it (claim, handler, the file saved, the commit).

    .venv/bin/python bench/bench_tickets.py [--db sqlite|postgresql|both] [--tickets 1000] [--write]

The data: `--tickets` cadres of one unit, each with a distinct 150×200 JPEG photo, seated in rooms of 50 seats of one
session of one exam, in a throwaway database.
"""

import io
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta

from common import ROOT, bench_main, build_app, make_database
from flask_migrate import upgrade

ROOM_SEATS = 50
#: Nobody logs in to the throwaway database: no password hash matches this.
NO_LOGIN = "!"


def photo(rng: random.Random) -> bytes:
    """A distinct small portrait JPEG (a gradient with a random tint): no two photos are embedded as one."""
    from PIL import Image

    tint = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    image = Image.linear_gradient("L").resize((150, 200)).convert("RGB")
    image = Image.blend(image, Image.new("RGB", image.size, tint), 0.5)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def build(n: int):
    from accounts.models import Cadre, CadrePhoto, RoleAssignment, User
    from accounts.services import create_unit
    from core.extensions import db
    from core.policy import Role
    from exam.models import Exam
    from sitting import services as sitting
    from sitting.models import Seat

    now = datetime.now(UTC)
    admin = User(username="benchadmin", name="组织部", password_hash=NO_LOGIN, must_change_password=False)
    admin.roles.append(RoleAssignment(role=Role.ORG_ADMIN))
    db.session.add(admin)
    unit = create_unit("BENCH", "基准测试单位", "department", None)
    exam = Exam(code="TKBENCH", title="2026年度任职资格考试（政治理论）", subject="政治理论", duration_minutes=90,
                opens_at=now, closes_at=now + timedelta(days=2), pass_mark=60, instructions="请独立作答。")  # fmt: skip
    db.session.add(exam)
    db.session.flush()
    session = sitting.create_session(exam, "第一场", now + timedelta(hours=2), now + timedelta(hours=4),
                                     actor=admin, now=now)  # fmt: skip
    rooms = []
    for i in range((n - 1) // ROOM_SEATS + 1):
        address = f"区委党校综合楼{i + 1:02d}室"
        rooms.append(sitting.create_room(unit, f"第{i + 1}考场", ROOM_SEATS, actor=admin, now=now, address=address))
    sitting.set_session_rooms(session, rooms, actor=admin, now=now)
    rng = random.Random(21)
    for i in range(n):
        user = User(username=f"b{i:06d}", name=f"考生{i:04d}", password_hash=NO_LOGIN, must_change_password=False)
        db.session.add(user)
        db.session.flush()
        cadre = Cadre(user_id=user.id, unit_id=unit.id, gender="female", birth_date=date(1990, 1, 1), rank="staff",
                      education="bachelor", political_status="cpc_member")  # fmt: skip
        db.session.add(cadre)
        db.session.flush()
        db.session.add(CadrePhoto(cadre_id=cadre.id, mimetype="image/jpeg", data=photo(rng), updated_at=now))
        db.session.add(Seat(exam_id=exam.id, user_id=user.id, ticket_no=sitting.ticket_number(exam, i + 1),
                            session_id=session.id, room_id=rooms[i // ROOM_SEATS].id,
                            seat_no=i % ROOM_SEATS + 1))  # fmt: skip
    db.session.commit()
    return admin, exam, session


def run(kind: str, args) -> dict:
    url, drop = make_database(kind)
    try:
        app = build_app(url, tempfile.mkdtemp(prefix="qe-bench-instance-"))
        app.config["JOBS_URL"] = "memory"
        with app.app_context():
            from sqlalchemy import select

            from core.extensions import db
            from jobs import Job, StoredFile, runner
            from sitting import jobs as ticket_jobs

            upgrade(directory=str(ROOT / "migrations"))
            admin, exam, session = build(args.tickets)
            times, sizes = [], []
            for _ in range(args.samples):
                job = ticket_jobs.start(exam, session, None, admin)
                db.session.commit()
                started = time.perf_counter()
                state = runner.execute(job.id)
                times.append(time.perf_counter() - started)
                job = db.session.get(Job, job.id)
                assert state == "done", (state, job.error)
                stored = db.session.scalar(select(StoredFile).where(StoredFile.job_id == job.id))
                sizes.append(stored.size)
                db.session.expire_all()
            return {"kind": kind, "n": args.tickets, "times": times, "size": sizes[-1]}
    finally:
        drop()


def report(results) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## {when} · admission tickets: {results[0]['n']:,} tickets in one PDF (the job sitting.tickets)",
        "",
        "`bench/bench_tickets.py`: one session's tickets (each with its own 150×200 JPEG photo and its QR code), "
        "run through `jobs.runner.execute` as a worker does (claim, handler, the file saved in `stored_files`, the "
        f"commit); 2 shared cores; Python {sys.version.split()[0]}. Median of the samples.",
        "",
        "| database | tickets | time, s (median) | tickets/s | PDF size, MB |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        median = statistics.median(r["times"])
        lines.append(f"| {r['kind']} | {r['n']:,} | {median:.1f} | {r['n'] / median:.0f} | {r['size'] / 1e6:.1f} |")
    return "\n".join(lines) + "\n"


def _arguments(parser) -> None:
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=3)


if __name__ == "__main__":
    bench_main(__doc__, run, report, _arguments)
