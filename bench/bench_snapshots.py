"""Camera snapshots' costs (issue 25): bytes stored, the write rate, and the autosaves' latency beside the uploads.

    .venv/bin/python bench/bench_snapshots.py [--db sqlite|postgresql|both] [--write] [--quick]
        [--candidates 2223] [--save-rate 333] [--multiples 0,1,2] [--step-seconds 40] [--rounds 3] …

The issue's workload: 10,000 candidates, one snapshot every 5 minutes over a 90-minute exam, on one node: 10,000 × 18
= 180,000 uploads, 33.3 a second on average, beside the autosaves of the same 10,000 (bench_load.py's steady step:
333 saves/s, one per candidate per 30 s). For each database, on a fresh database: bench_load.py's published
100-question drawn exam and its candidates with API tokens, the exam's proctoring settings with snapshots on (every
5 minutes), and QualExam served as in production (`gunicorn -c gunicorn.conf.py wsgi:app`, the job worker and the
finalizer beside it, the access log on for the server's own time per request). The frames are real JPEGs of the
size a page sends (320×240, quality 60: a lit wall, a head and shoulders, sensor noise; 64 different ones), sent as
the API takes them (`POST /api/v1/attempts/<id>/snapshots`, JSON {"reason", "image": a data:image/jpeg;base64 URL
as canvas.toDataURL gives}; here with the candidate's API token; never two of one attempt within the server's 5 s).
First, in process (Flask's test client, one request at a time, no other load): a save and an upload each of a few
dozen candidates, their own server time and SQL statements. Then the load driver (bench/load_driver.py):
1. start: every candidate starts their attempt and uploads the "start" snapshot, spread over `--storm` seconds;
2. rounds: steps of `--step-seconds` of autosaves offered at `--save-rate`, with snapshot uploads offered beside
   them at 0, 1 and 2 times the workload's 33.3/s (`--multiples`), each candidate's turn coming round in order;
   each round takes the multiples in a rotated order (a Latin square), so that a drift of the machine or the
   database's growth does not land on one condition; the spread of the rounds without uploads is the noise;
3. the write rate: uploads only, `--max-concurrency` at once with no pause (a closed loop), for `--max-seconds`:
   the uploads per second the node takes through the endpoint.
Then the check and the storage: every acknowledged upload (201 and its id) is a row of attempt_snapshots with the
attempt, size and sha256 sent, and its file under the snapshot folder holds those bytes; the bytes on disk per
snapshot (the file's allocated blocks, the row and its indexes, the attempt's "snapshot" event), projected to the
180,000. `--quick` runs it all with small numbers (about 2 minutes a database), to check the harness; its figures
judge nothing.
"""

import asyncio
import base64
import hashlib
import io
import os
import random
import re
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
from bench_load import EXAM, VENV_BIN, Server, _commit, _fmt_errors, add_serving_options, fill_defaults, generate
from bench_practice import ACCESS_FORMAT, server_times, tracebacks
from common import ROOT, bench_main, key_env, percentile
from load_driver import Driver, Plan, Sample, answer_for, summarize

# Issue 25's workload.
CANDIDATES, EXAM_MINUTES, EVERY_MINUTES = 10_000, 90, 5
SNAPSHOTS = CANDIDATES * EXAM_MINUTES // EVERY_MINUTES  # 180,000
SNAPSHOT_RATE = SNAPSHOTS / (EXAM_MINUTES * 60)  # 33.3 uploads/s
SAVE_RATE = 333  # bench_load.py's steady autosave: 10,000 candidates at one save per 30 s
SAVE_P99_MS = 150  # issue 23's target for that step
SNAPSHOT_URL = "/api/v1/attempts/{id}/snapshots"
MIN_INTERVAL_S = 5.2  # the server takes at most one snapshot per attempt every 5 s (proctoring.snapshots)
ENDPOINTS = [
    ("PUT", re.compile(r"^/api/v1/attempts/\d+/answers/\d+$"), "save"),
    ("POST", re.compile(r"^/api/v1/attempts/\d+/snapshots$"), "snapshot"),
    ("POST", re.compile(r"^/api/v1/exams/[^/]+/attempts$"), "start"),
]


# ---------------------------------------------------------------- the frames


def make_frames(n: int = 64, seed: int = 25) -> list[bytes]:
    """N different 320×240 JPEGs at quality 60 (what a page's canvas.toBlob("image/jpeg", 0.6) makes of a webcam
    frame): a lit wall with a gradient, a head and shoulders, a few objects, a slight blur and the sensor's noise.
    The noise keeps them from compressing to nothing, as a real camera's does: about 20 KB each."""
    from PIL import Image, ImageChops, ImageDraw, ImageFilter

    rng = random.Random(seed)
    w, h = 320, 240
    frames = []
    for _ in range(n):
        wall = Image.linear_gradient("L").resize((w, h)).rotate(rng.uniform(-40, 40), fillcolor=128)
        img = Image.merge("RGB", [wall.point(lambda v, k=k, o=o: o + v * k) for k, o in
                                  ((0.5, 90), (0.45, 80), (0.35, 70))])  # fmt: skip
        draw = ImageDraw.Draw(img)
        for _ in range(6):
            x, y = rng.randrange(w), rng.randrange(h)
            draw.rectangle((x, y, x + rng.randint(10, 60), y + rng.randint(10, 60)),
                           fill=tuple(rng.randrange(256) for _ in range(3)))  # fmt: skip
        cx, cy = 160 + rng.randint(-30, 30), 110 + rng.randint(-15, 15)
        draw.ellipse((cx - 45, cy - 60, cx + 45, cy + 60), fill=(200, 160, 130))
        draw.rectangle((cx - 100, cy + 60, cx + 100, h), fill=(40, 50, 80))
        img = img.filter(ImageFilter.GaussianBlur(1.2))
        noise = Image.merge("RGB", [Image.effect_noise((w, h), 32) for _ in range(3)])
        img = ImageChops.add(img, noise, offset=-128)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=60)
        frames.append(buf.getvalue())
    return frames


# ---------------------------------------------------------------- the driver


@dataclass
class SnapPlan:
    storm_seconds: float = 60
    save_rate: float = SAVE_RATE
    multiples: tuple = (0, 1, 2)  # uploads offered at these multiples of SNAPSHOT_RATE
    step_seconds: float = 40
    rounds: int = 3
    settle_seconds: float = 3
    max_concurrency: int = 16
    max_seconds: float = 20
    connections: int = 200


def phase_name(round_no: int, multiple: float) -> str:
    return f"r{round_no}-x{multiple:g}"  # ASCII: it travels in the X-Bench-Phase header


def condition_of(phase: str) -> str | None:
    return phase.split("-", 1)[1] if phase.startswith("r") and "-x" in phase else None


class SnapshotDriver(Driver):
    """bench_load's candidates (start, autosaves at a rate) with snapshot uploads beside the saves."""

    def __init__(self, base_url: str, tokens: list[str], frames: list[bytes], plan: SnapPlan):
        super().__init__(base_url, EXAM, tokens, Plan(connections=plan.connections))
        self.splan, self.frames = plan, frames
        self.frame_sha = [hashlib.sha256(f).hexdigest() for f in frames]
        #: As the page sends them: canvas.toDataURL("image/jpeg", 0.6) in a JSON body.
        self.frame_urls = ["data:image/jpeg;base64," + base64.b64encode(f).decode() for f in frames]
        #: attempt id -> when its last upload was answered (monotonic): the server compares the times it received
        #: them, and the earlier one may have waited in its queue.
        self.last_upload: dict[int, float] = {}
        self.load: dict[str, float] = {}  # phase -> the machine's 1-minute load average at its end
        self.held_back = 0  # uploads that waited for their candidate's 5 s (too few candidates for the rate)
        #: snapshot id -> (attempt id, size, sha256) of every upload answered 201.
        self.uploaded: dict[int, tuple[int, int, str]] = {}
        self._turn = self._frame = 0

    def _headers(self, token: str, phase: str) -> dict:
        return {"Authorization": f"Bearer {token}", "X-Bench-Phase": phase}

    async def _upload(self, client, c, phase: str, reason: str = "interval"):
        i = self._frame = (self._frame + 1) % len(self.frames)
        waited = False
        while (wait := self.last_upload.get(c.attempt_id, -MIN_INTERVAL_S) + MIN_INTERVAL_S - time.monotonic()) > 0:
            waited = True
            await asyncio.sleep(min(wait, 0.05))
        self.held_back += waited
        self.last_upload[c.attempt_id] = float("inf")  # under way: the next one waits for its answer
        body = {"reason": reason, "image": self.frame_urls[i]}
        url = SNAPSHOT_URL.format(id=c.attempt_id)
        response = await self._call(client, phase, "snapshot", "POST", url, c.token, body)
        self.last_upload[c.attempt_id] = time.monotonic()
        if response is not None:
            self.uploaded[response["id"]] = (c.attempt_id, len(self.frames[i]), self.frame_sha[i])

    def _next(self, running: list):
        """The candidates take their turns in order: one upload each before anyone's second, as every 5 minutes."""
        self._turn += 1
        return running[self._turn % len(running)]

    async def _begin(self, client, c, at: float):
        await self._start(client, c, at)
        if c.attempt_id is not None:
            await self._upload(client, c, "storm", "start")

    async def _uploads(self, client, running: list, phase: str, rate: float, until: float):
        """Uploads offered at `rate` per second (an open loop: not held back by slow answers)."""
        if rate <= 0:
            return
        tasks = set()
        t0, sent = time.monotonic(), 0
        while (now := time.monotonic()) < until:
            for _ in range(int((now - t0) * rate) - sent):
                task = asyncio.create_task(self._upload(client, self._next(running), phase))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                sent += 1
            await asyncio.sleep(0.005)
        if tasks:
            await asyncio.wait(tasks)

    async def _upload_loop(self, client, running: list, phase: str, concurrency: int, until: float):
        """Uploads back to back, `concurrency` at once (a closed loop): the rate the server takes."""

        async def slot():
            while time.monotonic() < until:
                await self._upload(client, self._next(running), phase)

        await asyncio.gather(*(slot() for _ in range(concurrency)))

    async def run(self, close_at: float = 0) -> None:
        p = self.splan
        connector = aiohttp.TCPConnector(limit=p.connections, keepalive_timeout=3)  # the server keeps 5 s
        timeout = aiohttp.ClientTimeout(total=60, sock_read=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
            t0 = time.monotonic()
            spread = p.storm_seconds / max(1, len(self.candidates))
            await asyncio.gather(*(self._begin(client, c, t0 + i * spread) for i, c in enumerate(self.candidates)))
            self.phase_times["storm"] = (t0, time.monotonic())
            running = [c for c in self.candidates if c.attempt_id is not None]
            if not running:
                raise RuntimeError("no candidate could start")
            await asyncio.sleep(p.settle_seconds)
            multiples = list(p.multiples)
            for r in range(p.rounds):
                k = r % len(multiples)
                for multiple in multiples[k:] + multiples[:k]:
                    phase, start = phase_name(r + 1, multiple), time.monotonic()
                    until = start + p.step_seconds
                    print(f"…   {phase}: saves {p.save_rate:g}/s, uploads {multiple * SNAPSHOT_RATE:.1f}/s",
                          file=sys.stderr)  # fmt: skip
                    await asyncio.gather(
                        self._steady(client, running, phase, p.save_rate, until),
                        self._uploads(client, running, phase, multiple * SNAPSHOT_RATE, until),
                    )
                    self.phase_times[phase] = (start, time.monotonic())
                    self.load[phase] = os.getloadavg()[0]
                    await asyncio.sleep(p.settle_seconds)
            print(f"…   write rate: {p.max_concurrency} uploads at once for {p.max_seconds:g} s", file=sys.stderr)
            start = time.monotonic()
            await self._upload_loop(client, running, "max", p.max_concurrency, start + p.max_seconds)
            self.phase_times["max"] = (start, time.monotonic())
            self.load["max"] = os.getloadavg()[0]

    def pooled(self) -> dict[tuple[str, str], dict]:
        """Per (condition, endpoint): the rounds' samples together (rates per second are not meaningful here)."""
        samples = [Sample(cond, s.endpoint, s.ms, s.status) for s in self.samples
                   if (cond := condition_of(s.phase)) is not None]  # fmt: skip
        return summarize(samples, {})


# ---------------------------------------------------------------- data, storage and the check


def enable_snapshots(app) -> None:
    """The exam's proctoring settings: snapshots on, every 5 minutes (the rest off)."""
    from core.extensions import db
    from exam.models import Exam
    from proctoring.models import ProctoringSettings

    with app.app_context():
        exam = db.session.scalar(db.select(Exam).where(Exam.code == EXAM))
        settings = db.session.get(ProctoringSettings, exam.id) or ProctoringSettings(exam_id=exam.id)
        settings.snapshots, settings.snapshot_minutes = True, EVERY_MINUTES
        db.session.add(settings)
        db.session.commit()
        db.session.remove()


def table_bytes(app, kind: str, tables: list[str]) -> dict[str, int]:
    """Bytes each table takes with its indexes (PostgreSQL: pg_total_relation_size; SQLite: dbstat's pages)."""
    from core.extensions import db

    with app.app_context():
        if kind == "postgresql":
            out = {t: db.session.scalar(db.text(f"SELECT pg_total_relation_size('{t}')")) for t in tables}
        else:
            rows = db.session.execute(db.text(
                "SELECT m.tbl_name, SUM(s.pgsize) FROM dbstat s JOIN sqlite_master m ON m.name = s.name "
                "GROUP BY m.tbl_name"
            ))  # fmt: skip
            sizes = dict(rows.all())
            out = {t: int(sizes.get(t) or 0) for t in tables}
        db.session.remove()
    return out


def files_under(folder: str) -> dict:
    n = apparent = allocated = dirs = 0
    for _root, dirnames, filenames in os.walk(folder):
        dirs += len(dirnames)
        for name in filenames:
            st = os.stat(os.path.join(_root, name))
            n, apparent, allocated = n + 1, apparent + st.st_size, allocated + st.st_blocks * 512
    return {"files": n, "apparent": apparent, "allocated": allocated, "dirs": dirs}


def check_and_measure(app, kind: str, driver: SnapshotDriver, folder: str) -> dict:
    """Every acknowledged upload stored (row and file, with the bytes sent); the storage it takes."""
    from core.extensions import db
    from exam.models import AttemptEvent
    from proctoring.models import Snapshot

    with app.app_context():
        rows = {r.id: r for r in db.session.execute(
            db.select(Snapshot.id, Snapshot.attempt_id, Snapshot.size, Snapshot.sha256, Snapshot.path))}  # fmt: skip
        events = db.session.scalar(db.select(db.func.count(AttemptEvent.id)))
        snapshot_events = db.session.scalar(
            db.select(db.func.count(AttemptEvent.id)).where(AttemptEvent.kind == "snapshot")
        )
        db.session.remove()
    lost = mismatched = bad_files = 0
    for snapshot_id, (attempt_id, size, sha) in driver.uploaded.items():
        row = rows.get(snapshot_id)
        if row is None:
            lost += 1
            continue
        if (row.attempt_id, row.size, row.sha256) != (attempt_id, size, sha):
            mismatched += 1
        path = os.path.join(folder, row.path)
        try:
            with open(path, "rb") as fh:
                if hashlib.sha256(fh.read()).hexdigest() != sha:
                    bad_files += 1
        except OSError:
            bad_files += 1
    sizes = table_bytes(app, kind, ["attempt_snapshots", "attempt_events"])
    files = files_under(folder)
    n = len(rows)  # (with the few taken in process, whose files are elsewhere: the bytes per row count them all)
    attempts = {c.attempt_id for c in driver.candidates if c.attempt_id is not None}
    crowd_rows = sum(1 for row in rows.values() if row.attempt_id in attempts)
    per = {
        "file": files["allocated"] / files["files"] if files["files"] else 0.0,
        "file_apparent": files["apparent"] / files["files"] if files["files"] else 0.0,
        "row": sizes["attempt_snapshots"] / n if n else 0.0,
        "event": sizes["attempt_events"] / events if events else 0.0,
    }
    per["total"] = per["file"] + per["row"] + per["event"]
    return {
        "acknowledged": len(driver.uploaded), "rows": crowd_rows, "all_rows": n,
        "extra_rows": crowd_rows - (len(driver.uploaded) - lost),
        "lost": lost, "mismatched": mismatched, "bad_files": bad_files, "events": events,
        "snapshot_events": snapshot_events, "tables": sizes, "files": files, "per": per,
    }  # fmt: skip


def purge(app, folder: str) -> dict:
    """The retention job on what the run left: the exam's close moved back past its retention, then
    `purge_expired` (rows and files) timed in process and committed; the files left afterwards counted."""
    from datetime import timedelta

    from core.extensions import db
    from exam.models import Exam
    from proctoring.snapshots import purge_expired

    app.config["SNAPSHOT_DIR"] = folder
    with app.app_context():
        now = datetime.now(UTC)
        db.session.execute(
            db.update(Exam)
            .where(Exam.code == EXAM)
            .values(opens_at=now - timedelta(days=401), closes_at=now - timedelta(days=400))
        )
        db.session.commit()
        t = time.perf_counter()
        deleted = purge_expired(now)
        db.session.commit()
        seconds = time.perf_counter() - t
        db.session.remove()
    return {"deleted": deleted, "seconds": seconds, "left": files_under(folder)["files"]}


def in_process(app, tokens: list[str], frames: list[bytes], folder: str) -> dict:
    """One request at a time through Flask's test client, no other load: each candidate starts, saves an answer,
    uploads a snapshot, saves another; the app's own time for the save and the upload, with SQL statements counted.
    The first five candidates warm the process and are not counted."""
    from sqlalchemy import event

    from core.extensions import db

    app.config["SNAPSHOT_DIR"] = folder
    client = app.test_client()
    rng = random.Random(25)
    sent = [0]

    def count(*_args):
        sent[0] += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    times: dict[str, list[float]] = {"save": [], "snapshot": []}
    statements: dict[str, list[int]] = {"save": [], "snapshot": []}

    def timed(name, i, method, url, body, headers, status):
        sent[0] = 0
        t = time.perf_counter()
        response = client.open(url, method=method, json=body, headers=headers)
        ms = (time.perf_counter() - t) * 1000
        assert response.status_code == status, response.get_data(as_text=True)[:500]
        if i >= 5:
            times[name].append(ms)
            statements[name].append(sent[0])

    try:
        for i, token in enumerate(tokens):
            headers = {"Authorization": f"Bearer {token}"}
            response = client.post(f"/api/v1/exams/{EXAM}/attempts", json={}, headers=headers)
            assert response.status_code == 200, response.get_data(as_text=True)[:500]
            started = response.get_json()
            items = rng.sample(started["items"], 2)
            attempt = f"/api/v1/attempts/{started['id']}"
            for seq, item in enumerate(items, 1):
                body = {"value": answer_for(item, rng), "seq": seq}
                timed("save", i, "PUT", f"{attempt}/answers/{item['position']}", body, headers, 200)
                if seq == 1:
                    image = "data:image/jpeg;base64," + base64.b64encode(frames[i % len(frames)]).decode()
                    body = {"reason": "interval", "image": image}
                    timed("snapshot", i, "POST", f"{attempt}/snapshots", body, headers, 201)
    finally:
        event.remove(engine, "before_cursor_execute", count)
        with app.app_context():
            db.session.remove()
    out = {}
    for name, ms in times.items():
        if ms:
            out[name] = {"n": len(ms), "p50": percentile(ms, 50), "p95": percentile(ms, 95), "max": max(ms),
                         "statements": sum(statements[name]) / len(statements[name])}  # fmt: skip
    return out


# ---------------------------------------------------------------- one database


def run(kind: str, args) -> dict:
    print(f"… {kind}: generating {args.candidates} candidates and the exam", file=sys.stderr)
    data = generate(kind, args.candidates + args.inprocess)
    app, tokens, own_tokens = data["app"], data["tokens"][: args.candidates], data["tokens"][args.candidates :]
    enable_snapshots(app)
    frames = make_frames()
    plan = SnapPlan(storm_seconds=args.storm, save_rate=args.save_rate, multiples=tuple(args.multiples),
                    step_seconds=args.step_seconds, rounds=args.rounds, settle_seconds=args.settle,
                    max_concurrency=args.max_concurrency, max_seconds=args.max_seconds,
                    connections=args.connections)  # fmt: skip
    out = {"db": kind, "candidates": args.candidates, "plan": plan, "generate_s": data["generate_s"],
           "frames": [len(f) for f in frames]}  # fmt: skip
    work = tempfile.mkdtemp(prefix="qe-bench-snapshots-")
    instance = os.path.join(work, "instance")
    os.makedirs(instance)
    try:
        print(f"… {kind}: one upload and one save at a time, in process", file=sys.stderr)
        out["in_process"] = in_process(app, own_tokens, frames, os.path.join(work, "own-snapshots"))
        access_log = os.path.join(work, "access.log")
        env = {"QE_WORKERS": str(args.workers), "QE_THREADS": str(args.threads), "QE_WORKER_CLASS": args.worker_class,
               **key_env(app), "DATABASE_URL": data["url"], "SECRET_KEY": "bench-snapshots", "QE_COOKIE_SECURE": "0",
               "QE_INSTANCE_PATH": instance, "QE_JOBS_URL": f"sqlite:///{work}/jobs.sqlite3",
               "QE_ACCESS_LOG": access_log,
               "GUNICORN_CMD_ARGS": f"--access-logformat {shlex.quote(ACCESS_FORMAT)}"}  # fmt: skip
        flask = [str(VENV_BIN / "flask"), "--app", "app"]
        extra = [
            [*flask, "exams", "finalize-overdue", "--every", "5"],
            [*flask, "jobs", "worker", "-w", "1", "--quiet"],
        ]
        with Server("qualexam", ["wsgi:app"], env, ROOT, extra=extra) as server:
            driver = SnapshotDriver(server.url, tokens, frames, plan)
            asyncio.run(driver.run())
        folder = os.path.join(instance, "snapshots")
        out.update(summary=driver.summary(), pooled=driver.pooled(), server=server_times(access_log, ENDPOINTS),
                   check=check_and_measure(app, kind, driver, folder), tracebacks=tracebacks(server.log.name),
                   purge=purge(app, folder),
                   started=sum(c.attempt_id is not None for c in driver.candidates),
                   held_back=driver.held_back, load=driver.load)  # fmt: skip
    finally:
        with app.app_context():
            from core.extensions import db

            db.session.remove()
            db.engine.dispose()
        data["drop"]()
        shutil.rmtree(work, ignore_errors=True)
    c = out["check"]
    print(f"{kind}: {c['acknowledged']} uploads acknowledged, {c['rows']} rows: lost={c['lost']} "
          f"mismatched={c['mismatched']} bad files={c['bad_files']}", file=sys.stderr)  # fmt: skip
    return out


# ---------------------------------------------------------------- report


def _kb(n: float) -> str:
    return f"{n / 1024:.1f} KB"


def _gb(n: float) -> str:
    return f"{n / 1024**3:.2f} GB"


def noise_verdict(r: dict, multiple: float) -> tuple[bool | None | str, str]:
    """The saves' p99 with uploads at `multiple` × 33.3/s against the rounds without: unchanged within noise when
    the pooled p99 is at most the pooled p99 without uploads plus the noise, taken as the spread of the p99s of
    the rounds without uploads (at least a fifth of their pooled p99)."""
    base_rounds = [s["p99"] for (phase, ep), s in r["summary"].items()
                   if ep == "save" and condition_of(phase) == "x0"]  # fmt: skip
    base, with_ = r["pooled"].get(("x0", "save")), r["pooled"].get((f"x{multiple:g}", "save"))
    if not base_rounds or base is None or with_ is None:
        return None, "not measured"
    noise = max(max(base_rounds) - min(base_rounds), 0.2 * base["p99"])
    held = with_["p99"] <= base["p99"] + noise
    rate = r["plan"].save_rate
    overloaded = [phase for (phase, ep), s in r["summary"].items() if ep == "save" and condition_of(phase) == "x0"
                  and (s["rps"] < 0.98 * rate or s["p99"] >= SAVE_P99_MS)]  # fmt: skip
    if overloaded:
        held = "overloaded"  # the saves alone were not held: what is left to compare is the machine's queue
    text = (f"without uploads p99 {base['p99']:.0f} ms pooled (rounds {', '.join(f'{v:.0f}' for v in base_rounds)}; "
            f"noise ±{noise:.0f} ms); with {multiple * SNAPSHOT_RATE:.1f} uploads/s p99 {with_['p99']:.0f} ms "
            f"({with_['p99'] - base['p99']:+.0f} ms)")  # fmt: skip
    return held, text


def verdict(met: bool | None | str, comparable: bool) -> str:
    if not comparable:
        return "n/a (a quick run)"
    if met == "overloaded":
        return (
            f"n/a: without uploads the saves were not held ({SAVE_RATE}/s at p99 < {SAVE_P99_MS} ms) in every "
            "round; the machine was too busy to judge"
        )
    if met is None:
        return "not measured"
    return "met" if met else "**not met**"


def targets(r: dict, quick: bool) -> list[str]:
    c, plan, per = r["check"], r["plan"], r["check"]["per"]
    rows = []
    projected = SNAPSHOTS * per["total"]
    rows.append((
        f"bytes stored: {CANDIDATES:,} candidates × {EXAM_MINUTES // EVERY_MINUTES} snapshots = {SNAPSHOTS:,}",
        f"**{_gb(projected)}** projected ({_kb(per['total'])} a snapshot: the file {_kb(per['file'])} on disk "
        f"({_kb(per['file_apparent'])} of JPEG), its row {per['row']:.0f} B, its event {per['event']:.0f} B; "
        f"{SNAPSHOTS:,} rows in attempt_snapshots); measured on {c['rows']:,} snapshots",
        "measured",
    ))  # fmt: skip
    best = r["summary"].get(("max", "snapshot"))
    if best:
        ok = best["n"] - sum(best["errors"].values())  # uploads answered 201, per second of the phase
        rate = ok / best["n"] * best["rps"] if best["n"] else 0.0
        measured = (f"**{rate:.0f} uploads/s** sustained ({plan.max_concurrency} at once, {plan.max_seconds:g} s; "
                    f"p50 {best['p50']:.0f} ms, p99 {best['p99']:.0f} ms, errors {_fmt_errors(best['errors'])}): "
                    f"{rate / SNAPSHOT_RATE:.1f}× the {SNAPSHOT_RATE:.1f}/s needed, "
                    f"{rate * per['file_apparent'] / 1024**2:.1f} MB/s of JPEG")  # fmt: skip
        met = rate >= 2 * SNAPSHOT_RATE and not best["errors"]
    else:
        measured, met = "no write-rate phase", None
    rows.append((f"write rate: {SNAPSHOT_RATE:.1f} uploads/s on average (and 2× for the peaks)", measured,
                 verdict(met, not quick)))  # fmt: skip
    for multiple in [m for m in plan.multiples if m]:
        held, text = noise_verdict(r, multiple)
        rows.append((f"saves' p99 at {plan.save_rate:g}/s unchanged within noise, uploads at "
                     f"{multiple * SNAPSHOT_RATE:.1f}/s beside them", text, verdict(held, not quick)))  # fmt: skip
    rows.append(("every acknowledged upload stored (row and file, the bytes sent)",
                 f"lost={c['lost']} mismatched={c['mismatched']} bad files={c['bad_files']} of {c['acknowledged']:,} "
                 f"acknowledged ({c['rows']:,} rows); server tracebacks {r['tracebacks']}",
                 verdict(c["lost"] == c["mismatched"] == c["bad_files"] == r["tracebacks"] == 0, True)))  # fmt: skip
    return ["| target | measured | verdict |", "|---|---|---|", *(f"| {a} | {b} | {v} |" for a, b, v in rows)]


def report(results: list[dict]) -> str:
    r0 = results[0]
    plan, quick = r0["plan"], r0["quick"]
    frames = r0["frames"]
    lines = [
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · snapshots: storage, write rate and the saves beside them "
        f"(issue 25; commit {_commit()}){' · QUICK: checks the harness, judges nothing' if quick else ''}",
        "",
        f"`bench/bench_snapshots.py` (part of `make bench`); {os.cpu_count()} cores, Python "
        f"{sys.version.split()[0]}; the server, the database and the load driver share this machine. QualExam is "
        f"served by `gunicorn -c gunicorn.conf.py`: {r0['workers']} {r0['worker_class']} workers × {r0['threads']} "
        "threads, the job worker and the finalizer beside it, its access log on (server time per request).",
        f"- **Workload (issue 25):** {CANDIDATES:,} candidates, a snapshot every {EVERY_MINUTES} minutes over "
        f"{EXAM_MINUTES} minutes: {SNAPSHOTS:,} uploads, {SNAPSHOT_RATE:.1f}/s on average, beside the autosaves of "
        f"the same candidates ({SAVE_RATE}/s: bench_load.py's steady step).",
        f"- **Frames:** {len(frames)} different JPEGs, 320×240 at quality 60 (a lit wall, a head and shoulders, "
        f"sensor noise), mean {_kb(sum(frames) / len(frames))} ({_kb(min(frames))}–{_kb(max(frames))}), sent as "
        "the API takes them (`POST /api/v1/attempts/<id>/snapshots`, JSON with the reason and the JPEG as a "
        "data:image/jpeg;base64 URL, about 27 KB a request), with each candidate's API token.",
        f"- **Run:** {r0['candidates']:,} candidates (bench_load.py's data: a published 100-question drawn exam, "
        f"its proctoring settings with snapshots on) start over {plan.storm_seconds:g} s, each uploading the "
        f'"start" snapshot; then {plan.rounds} round(s) of {len(plan.multiples)} steps of {plan.step_seconds:g} s: '
        f"saves offered at {plan.save_rate:g}/s with uploads at "
        f"{', '.join(f'{m * SNAPSHOT_RATE:.1f}' for m in plan.multiples)}/s beside them (the order rotated each "
        f"round); then the write rate: uploads only, {plan.max_concurrency} at once with no pause, for "
        f"{plan.max_seconds:g} s. Client latency in ms; server: the worker's own time (gunicorn's `%(D)s`); "
        "load: the machine's 1-minute load average at the step's end (2 cores; other people's tests may run beside).",
        "",
    ]
    header = ("| step · endpoint | requests | req/s | p50 | p95 | p99 | max (ms) | errors | server p50 / p99 ms | "
              "load |\n|---|---|---|---|---|---|---|---|---|---|")  # fmt: skip

    def order(key):
        phase, endpoint = key
        if phase == "storm":
            return (0, 0, "", endpoint)
        if phase == "max":
            return (3, 0, "", endpoint)
        cond = condition_of(phase)
        return (1, int(phase[1 : phase.index("-")]), cond, endpoint)

    for r in results:
        lines += [f"### {r['db']}", "", header]
        for key in sorted(r["summary"], key=order):
            s, sv = r["summary"][key], r["server"].get(key)
            server = f"{sv['p50']:.1f} / {sv['p99']:.1f}" if sv else "–"
            load = f"{r['load'][key[0]]:.1f}" if key[0] in r["load"] else ""
            lines.append(f"| {key[0]} · {key[1]} | {s['n']:,} | {s['rps']:.1f} | {s['p50']:.0f} | {s['p95']:.0f} | "
                         f"{s['p99']:.0f} | {s['max']:.0f} | {_fmt_errors(s['errors'])} | {server} | "
                         f"{load} |")  # fmt: skip
        for key in sorted(r["pooled"], key=lambda k: (k[0], k[1])):
            s = r["pooled"][key]
            label = f"all rounds, uploads {float(key[0][1:]) * SNAPSHOT_RATE:.1f}/s"
            lines.append(f"| {label} · {key[1]} | {s['n']:,} | | {s['p50']:.0f} | {s['p95']:.0f} | {s['p99']:.0f} | "
                         f"{s['max']:.0f} | {_fmt_errors(s['errors'])} | | |")  # fmt: skip
        c = r["check"]
        f, t, pg = c["files"], c["tables"], r["purge"]
        lines += [
            "",
            f"- Storage after the run: {f['files']:,} files in {f['dirs']:,} folders, {f['apparent'] / 1024**2:.1f} MB "
            f"of JPEG, {f['allocated'] / 1024**2:.1f} MB on disk; attempt_snapshots {c['all_rows']:,} rows, "
            f"{t['attempt_snapshots'] / 1024:.0f} KB with its indexes; attempt_events {c['events']:,} rows "
            f'({c["snapshot_events"]:,} of them "snapshot"), {t["attempt_events"] / 1024:.0f} KB.',
            *(
                f"- In process, one {name} at a time (Flask's test client, no other load): p50 {v['p50']:.1f} ms, "
                f"p95 {v['p95']:.1f} ms, max {v['max']:.0f} ms, {v['statements']:.1f} SQL statements ({v['n']} "
                f"requests)."
                for name, v in r["in_process"].items()
            ),
            f"- Retention: `purge_expired` deleted {pg['deleted']:,} snapshots (rows and files) in "
            f"{pg['seconds']:.1f} s, in process ({pg['deleted'] / max(pg['seconds'], 1e-6):,.0f}/s; "
            f"{SNAPSHOTS:,} would take about {SNAPSHOTS / max(pg['deleted'], 1) * pg['seconds']:.0f} s "
            f"in one job); {pg['left']} files left.",
            f"- {r['started']:,} candidates started; {c['acknowledged']:,} uploads acknowledged, {c['rows']:,} rows "
            f"({c['extra_rows']} stored whose answer never came back); {r['held_back']:,} uploads waited for "
            f"their candidate's 5 s. Data: {r['generate_s']:.0f} s.",
            "",
        ]
    lines += ["### Targets (issue 25)", ""]
    for r in results:
        lines += [f"**{r['db']}**", "", *targets(r, quick), ""]
    return "\n".join(lines) + "\n"


def main():
    def options(parser):
        parser.add_argument("--quick", action="store_true", help="Small numbers (about 2 minutes a database).")
        parser.add_argument("--candidates", type=int, default=None, help="Candidates who start (2223 by default).")
        parser.add_argument("--storm", type=float, default=None, help="Seconds over which they start.")
        parser.add_argument("--save-rate", type=float, default=SAVE_RATE, help="Saves per second offered.")
        parser.add_argument("--multiples", type=lambda s: [float(x) for x in s.split(",")], default=[0, 1, 2],
                            help=f"Uploads beside the saves, in multiples of {SNAPSHOT_RATE:.1f}/s.")  # fmt: skip
        parser.add_argument("--step-seconds", type=float, default=None)
        parser.add_argument("--rounds", type=int, default=None)
        parser.add_argument("--settle", type=float, default=None, help="Seconds between steps.")
        parser.add_argument("--max-concurrency", type=int, default=16, help="The write rate: uploads at once.")
        parser.add_argument("--max-seconds", type=float, default=None, help="The write rate: how long.")
        parser.add_argument("--connections", type=int, default=200)
        parser.add_argument("--inprocess", type=int, default=60, help="Candidates timed in process (5 warm up).")
        add_serving_options(parser)

    # (full run, quick run) of every option left unset.
    defaults = {"candidates": (2223, 400), "storm": (60, 5), "step_seconds": (40, 5), "rounds": (3, 1),
                "settle": (3, 1), "max_seconds": (20, 5)}  # fmt: skip

    def run_with(kind, args):
        fill_defaults(args, defaults)
        out = run(kind, args)
        out.update(workers=args.workers, threads=args.threads, worker_class=args.worker_class, quick=args.quick)
        return out

    bench_main(__doc__, run_with, report, options)


if __name__ == "__main__":
    main()
