"""Fault tests against real processes: a PostgreSQL cluster of their own (so it can be stopped and started without
touching the machine's server), QualExam served by gunicorn as in production, and candidates that save the way
the exam page does: every answer kept until the server acknowledges it, and sent again after a refused
connection or a 503.

Run with `make test-faults` (pytest -m faults tests/faults); `make test` leaves them out (they take minutes).
"""

import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from config import TestConfig

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
SECRET_KEY = "faults-test-secret-key"  # noqa: S105


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)  # noqa: S607
    return Path(out.stdout.strip())


class PgCluster:
    """A throwaway PostgreSQL cluster in a folder, on a port of its own, that a test may stop and start."""

    def __init__(self, root: Path):
        self.root = root
        self.data = root / "data"
        self.sock = root / "sock"
        self.log = root / "postgres.log"
        self.port = free_port()
        self.bin = _pg_bindir()

    def _run(self, *args: str, check=True) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: as the postgres user, which owns the folder
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)  # noqa: S603

    def init(self) -> "PgCluster":
        self.sock.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.sock, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8",
                  "--no-sync")  # fmt: skip
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "-m", mode, "stop", check=False)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres", **kwargs) -> psycopg.Connection:
        return psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/{database}", **kwargs)

    def create_database(self, name: str) -> str:
        with self.connect(autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def pg_cluster():
    # Not under pytest's tmp folder: that one is private to this user, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="qe-faults-pg-"))
    cluster = PgCluster(root).init()
    cluster.start()
    yield cluster
    cluster.stop("immediate")
    shutil.rmtree(root, ignore_errors=True)


def flask_cli(env: dict, *args: str) -> str:
    done = subprocess.run([str(VENV_BIN / "flask"), "--app", "app", *args], cwd=ROOT, env=env, capture_output=True,  # noqa: S603
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def app_env(database_url: str, instance: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QE_", "TEST_"))}
    env.update(DATABASE_URL=database_url, SECRET_KEY=SECRET_KEY, QE_INSTANCE_PATH=str(instance), QE_COOKIE_SECURE="0")
    # The personal data's keys of the suite (config.TestConfig), so the nodes read what the seeding process wrote.
    env.update(QE_DATA_KEYS=",".join(TestConfig.DATA_KEYS), QE_INDEX_KEYS=",".join(TestConfig.INDEX_KEYS))
    env.update(extra)
    return env


class Node:
    """QualExam under `gunicorn -c gunicorn.conf.py wsgi:app`, as production serves it."""

    def __init__(self, env: dict, log: Path, port: int | None = None, workers: int = 2, threads: int = 4):
        self.port = port or free_port()
        self.env = {**env, "QE_BIND": f"127.0.0.1:{self.port}", "QE_WORKERS": str(workers), "QE_THREADS": str(threads),
                    "QE_TIMEOUT": "30", "QE_LOG_LEVEL": "warning"}  # fmt: skip
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def host(self) -> tuple[str, int]:
        return "127.0.0.1", self.port

    def start(self, timeout: float = 60) -> "Node":
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603
                [str(VENV_BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited: {self.log.read_text()[-3000:]}")
            try:
                status, _, _ = request(self.host, "GET", "/login", timeout=2)
                if status == 200 and len(self.worker_pids()) >= 1:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()  # never left running behind a failed test
        raise AssertionError(f"gunicorn did not come up on {self.port}: {self.log.read_text()[-3000:]}")

    def worker_pids(self) -> list[int]:
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in children.split()]

    def kill_worker(self) -> int:
        pid = self.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def kill_master(self) -> None:
        """kill -9 the master; its workers, orphaned, notice within a second or two and exit."""
        workers = self.worker_pids()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        deadline = time.monotonic() + 30
        while any(Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid) for pid in workers):
            assert time.monotonic() < deadline, "orphaned gunicorn workers did not exit"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "zombie"


def request(host, method, path, body=None, headers=None, timeout=10.0):
    """One HTTP request on a new connection: (status, parsed JSON body or text, headers)."""
    conn = http.client.HTTPConnection(*host, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json", **(headers or {})} if data is not None else dict(headers or {})
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return resp.status, parsed, dict(resp.getheaders())
    finally:
        conn.close()


@dataclass
class Candidate:
    """Saves answers like static/js/exam.js: each save is kept until acknowledged, and sent again (same value, same
    seq) after a refused connection, a timeout or a 503, waiting what Retry-After says (at most `max_wait`)."""

    token: str
    hosts: list
    attempt_id: int | None = None
    acked: dict = field(default_factory=dict)  # position -> (seq, value) of the newest acknowledged save
    acks: list = field(default_factory=list)  # every acknowledged save: (position, seq, value)
    sent: dict = field(default_factory=dict)  # position -> the highest seq sent (acknowledged or not)
    outcomes: dict = field(default_factory=dict)  # "200", "503", "conn" … -> count
    refused: list = field(default_factory=list)  # saves answered 4xx: the test decides whether that is right
    _turn: int = 0

    def _send(self, method, path, body=None):
        host = self.hosts[self._turn % len(self.hosts)]
        self._turn += 1
        return request(host, method, path, body, {"Authorization": f"Bearer {self.token}"})

    def _retrying(self, method, path, body=None, give_up: float = 120):
        deadline = time.monotonic() + give_up
        while True:
            try:
                status, data, headers = self._send(method, path, body)
            except (OSError, http.client.HTTPException):
                status, data, headers = "conn", None, {}
            self.outcomes[str(status)] = self.outcomes.get(str(status), 0) + 1
            if status != "conn" and status < 500:
                return status, data
            assert time.monotonic() < deadline, f"{method} {path} never got through: last {status} {data}"
            wait = min(float(headers.get("Retry-After", 0.3)), 1.0)
            time.sleep(wait)

    def start(self, code: str) -> dict:
        status, paper = self._retrying("POST", f"/api/v1/exams/{code}/attempts", {})
        assert status == 200, paper
        if self.attempt_id is not None:
            assert paper["id"] == self.attempt_id, "a second attempt was started instead of resuming"
        self.attempt_id = paper["id"]
        return paper

    def save(self, position: int, value, seq: int) -> None:
        self.sent[position] = max(seq, self.sent.get(position, 0))
        status, data = self._retrying("PUT", f"/api/v1/attempts/{self.attempt_id}/answers/{position}",
                                      {"value": value, "seq": seq})  # fmt: skip
        if status == 200:
            best = self.acked.get(position)
            if data["accepted"]:
                self.acks.append((position, seq, value))
            if data["accepted"] and (best is None or seq > best[0]):
                self.acked[position] = (seq, value)
        else:
            self.refused.append((position, seq, status, data))


def seed_exam(database_url: str, instance: Path, code: str, n_candidates: int, qtypes=("essay",) * 4) -> list[str]:
    """Migrate an empty database, publish an open exam of `qtypes` and return API tokens of n eligible cadres (their
    usernames are in seed_exam.usernames, their password is tests.factories.PASSWORD)."""
    flask_cli(app_env(database_url, instance), "db", "upgrade")
    from accounts.models import Unit
    from accounts.services import create_api_token
    from app import create_app
    from config import TestConfig
    from core.extensions import db
    from core.models import now_utc
    from tests.factories import make_cadre, make_open_exam

    cfg = type("FaultConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": database_url})
    app = create_app(cfg)
    app.instance_path = str(instance)
    with app.app_context():
        exam, first = make_open_exam(code=code, qtypes=qtypes)
        unit = db.session.get(Unit, exam.eligibility["unit_ids"][0])
        users = [first] + [make_cadre(unit=unit).user for _ in range(n_candidates - 1)]
        tokens = [create_api_token(u, "faults", now_utc()) for u in users]
        seed_exam.usernames = [u.username for u in users]
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return tokens


def exam_database(cluster: "PgCluster", instance: Path, code: str, n_candidates: int, **kwargs) -> tuple:
    """A new database on the cluster with an open exam: (database name, URL, tokens, usernames)."""
    name = f"{code.lower()}_{secrets.token_hex(3)}"
    url = cluster.create_database(name)
    tokens = seed_exam(url, instance, code, n_candidates, **kwargs)
    return name, url, tokens, list(seed_exam.usernames)


def start_all(tokens: list[str], hosts: list, code: str) -> tuple[list["Candidate"], list[int]]:
    """Every candidate starts the exam: (the candidates, the positions of the paper's questions)."""
    candidates = [Candidate(t, hosts) for t in tokens]
    positions = [item["position"] for item in candidates[0].start(code)["items"]]
    for c in candidates[1:]:
        c.start(code)
    return candidates, positions


def stored_answers(cluster: PgCluster, database: str) -> dict:
    """{(attempt_id, position): (seq, value)} as the database holds them, and the attempts per user."""
    with cluster.connect(database) as conn:
        rows = conn.execute("SELECT attempt_id, position, seq, value FROM answers").fetchall()
        per_user = conn.execute("SELECT user_id, count(*) FROM attempts GROUP BY user_id").fetchall()
    answers = {}
    for attempt_id, position, seq, value in rows:
        assert (attempt_id, position) not in answers, "two rows for one answer"
        answers[(attempt_id, position)] = (seq, value)
    return {"answers": answers, "attempts_per_user": dict(per_user)}


def assert_nothing_acknowledged_is_lost(candidates: list[Candidate], stored: dict) -> dict:
    """Every acknowledged save is in the database, checked one by one, not only the newest of each answer:
    - its answer is stored with the acknowledged seq and value, or with a higher seq that this candidate sent
      later (a retry whose first try did commit, or a newer save);
    - no answer is stored twice (stored_answers checks), no candidate has two attempts;
    - nothing was refused (4xx) and no request got a 500.
    Returns {"acks": acknowledged saves, "exact": those stored as they were acknowledged}: where every save is to
    a question of its own (the crash and outage tests), the two are equal, so every acknowledgement was tested."""
    acks = exact = 0
    for c in candidates:
        assert not c.refused, f"saves refused: {c.refused[:3]}"
        assert c.outcomes.get("500", 0) == 0, c.outcomes
        for position, seq, value in c.acks:
            acks += 1
            got = stored["answers"].get((c.attempt_id, position))
            assert got is not None, f"acknowledged save lost: attempt {c.attempt_id} position {position} seq {seq}"
            if got[0] == seq:
                assert got[1] == value, f"attempt {c.attempt_id} position {position}: stored {got[1]!r} != {value!r}"
                exact += 1
            else:
                assert seq < got[0] <= c.sent[position], (
                    f"attempt {c.attempt_id} position {position}: stored seq {got[0]}, acknowledged {seq}, "
                    f"highest sent {c.sent[position]}"
                )
    assert all(n == 1 for n in stored["attempts_per_user"].values()), stored["attempts_per_user"]
    return {"acks": acks, "exact": exact}


class SavingCrowd:
    """Candidates saving in threads until stopped: candidate i answers position p with f"c{i}-p{p}-s{seq}"."""

    #: Questions on a fault test's paper: more than any candidate answers before the crowd is stopped.
    PAPER = ("essay",) * 60

    def __init__(self, candidates: list[Candidate], positions: list[int], pause: float = 0.02):
        self.candidates, self.positions, self.pause = candidates, positions, pause
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._run, args=(i, c), daemon=True) for i, c in enumerate(candidates)]

    def _run(self, i: int, c: Candidate) -> None:
        """Each save answers a question of its own, until the paper is done: so that every acknowledged save can
        be checked against the database, none overwritten by a later one."""
        try:
            for seq, position in enumerate(self.positions, start=1):
                if self.stop.is_set():
                    break
                c.save(position, f"c{i}-p{position}-s{seq}", seq)
                time.sleep(self.pause)
        except BaseException as exc:  # reported by join()
            self.errors.append(exc)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(180)
        assert not self.errors, self.errors

    def saves_acknowledged(self) -> int:
        return sum(c.outcomes.get("200", 0) for c in self.candidates)

    def wait_for_acks(self, n: int, timeout: float = 60) -> None:
        target = self.saves_acknowledged() + n
        deadline = time.monotonic() + timeout
        while self.saves_acknowledged() < target:
            assert not self.errors, self.errors
            assert time.monotonic() < deadline, f"fewer than {n} saves acknowledged in {timeout}s"
            time.sleep(0.05)
