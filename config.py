"""Configuration classes; everything environment-dependent is read when the app is created, not at import."""

import ipaddress
import os
import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_secret_key(instance_path: str) -> str:
    """Return SECRET_KEY from the environment, else one generated once and kept in instance/secret_key."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = Path(instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Written whole under a temporary name, then linked into place: several workers starting at once agree on
        # one key, and none ever reads a half-written file. 0600 from the start: never world-readable.
        tmp = path.with_name(f"secret_key.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # fails if another worker won the race; its key is then the key
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()


_HOST_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


def _is_host(host: str) -> bool:
    """A DNS name or an IP address (urlsplit gives an IPv6 address without its brackets)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return bool(_HOST_NAME_RE.match(host)) and len(host) <= 253
    return True


def check_public_url(value: str) -> str:
    """QE_PUBLIC_URL as the app uses it: "https://host[:port]" without a trailing slash. Raises ValueError for
    anything else: another scheme, user info ("https://gov.cn@evil.example"), a path, query or fragment, spaces or
    backslashes (which browsers read differently from the server), or a port out of range."""
    value = (value or "").strip()
    if any(ch.isspace() or ch == "\\" or ord(ch) < 32 for ch in value):
        raise ValueError("QE_PUBLIC_URL must not contain spaces, control characters or backslashes")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError("QE_PUBLIC_URL must start with https:// (or http://)")
    if "@" in parts.netloc or not _is_host(parts.hostname or ""):
        raise ValueError("QE_PUBLIC_URL must name a host, without a user name or password")
    try:
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError as exc:
        raise ValueError("QE_PUBLIC_URL has a bad port") from exc
    if parts.path not in ("", "/") or parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ValueError("QE_PUBLIC_URL is the address only (https://host[:port]), without a path, query or fragment")
    return f"{parts.scheme}://{parts.netloc}"


class Config:
    """Production defaults. `from_env` fills what depends on the environment and the instance folder."""

    #: Connections each worker process keeps open to PostgreSQL: one per thread (gunicorn.conf.py), so a thread
    #: never waits for a connection; a few more for the moments a request runs on past its thread's slot.
    DB_POOL_SIZE = 4
    DB_MAX_OVERFLOW = 4
    #: Check a connection with a round trip each time it is taken from the pool. Off: the hot paths count their
    #: round trips, and a connection broken by a database restart is found by the first statement anyway, which
    #: fails that one request (a 500 the exam page sends again) and makes the pool replace every older connection.
    DB_PRE_PING = False
    #: SQLite waits this long for another writer (WAL lets readers run alongside one writer).
    SQLITE_BUSY_SECONDS = 15
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_NAME = "qe_session"
    PERMANENT_SESSION_LIFETIME = 8 * 3600
    WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the session: an exam can outlast an hour
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024

    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = {"zh_CN": "简体中文", "en": "English"}

    #: How passwords are hashed: scrypt, slow on purpose (Werkzeug's default).
    PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105  (a method, not a password)
    #: How the one-time passwords QualExam draws (a new account's, a reset's) are hashed. They are random: 12
    #: characters of 55 (about 69 bits), which no guesser exhausts, so a slow hash buys nothing; PBKDF2 at 2,000
    #: rounds costs half a millisecond where scrypt costs a tenth of a second: a batch of 5,000 new cadres takes
    #: seconds, not minutes. The password the person chooses at the first login is hashed with PASSWORD_HASH_METHOD.
    ONE_TIME_PASSWORD_HASH_METHOD = "pbkdf2:sha256:2000"  # noqa: S105
    #: Login throttling: failures counted in this window, per account and per client address.
    LOGIN_FAILURE_WINDOW_SECONDS = 15 * 60
    LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    #: Higher than per account: a whole office often shares one NAT address.
    LOGIN_MAX_FAILURES_PER_IP = 20
    #: A login session ends this long after login, or after this long without a request.
    SESSION_MAX_HOURS = 12
    SESSION_IDLE_MINUTES = 120

    #: A save this long after the deadline is still taken (the network's delay); later ones are refused.
    EXAM_SAVE_GRACE_SECONDS = 30
    #: A candidate's submit leaves the grading to a job (exam.jobs.GRADE); a read of the result grades the attempt
    #: itself once it has waited this long for one (no worker, or all busy), in seconds.
    EXAM_GRADING_WAIT_SECONDS = 10
    #: 以考促学: right answers in a row that take a question out of a cadre's wrong-answer book (错题本).
    PRACTICE_MASTERED_AFTER = 3
    #: 每日一练: questions in the day's set, and whether everyone gets the same set that day (else one per person).
    PRACTICE_DAILY_SIZE = 5
    PRACTICE_DAILY_PER_PERSON = False
    #: How often the exam page re-reads its attempt (server time, deadline, a proctor's pause), in seconds.
    EXAM_SYNC_SECONDS = 15
    #: How often the proctor's console asks for its JSON twin, in seconds (sitting/console.py says why polling).
    CONSOLE_POLL_SECONDS = 5
    #: Seconds of silence after which the console alerts, overriding the exam's minutes (0: the exam's setting).
    CONSOLE_SILENT_SECONDS = 0
    #: Wrong access codes a candidate may type for one exam within the window before starts are refused for a while.
    ACCESS_CODE_MAX_FAILURES = 10
    ACCESS_CODE_WINDOW_SECONDS = 15 * 60

    CADRES_PER_PAGE = 20
    AUDIT_PER_PAGE = 50
    #: What a 503 (the database unreachable) tells the client to wait before sending again, in seconds.
    DB_RETRY_AFTER_SECONDS = 5
    #: Years a qualification (任职资格) stays valid from the day it was earned.
    QUALIFICATION_VALID_YEARS = 3
    #: The target share of leading cadres with a bachelor's degree or higher (the education profile).
    EDUCATION_TARGET = 0.9
    #: A CJK font for PDFs (a .ttf, .otf or .ttc); empty: the first of the usual system fonts that exists.
    PDF_FONT = ""
    #: Where rate limits are counted (Flask-Limiter): memory for one process; with several processes or nodes set
    #: QE_RATELIMIT_STORAGE_URI=redis://host:6379/0 so that they count together (README, "Several nodes").
    RATELIMIT_STORAGE_URI = "memory://"
    #: The job engine's queue (jobs.engine): None is instance/jobs.sqlite3 (one machine, no server); several nodes
    #: share QE_JOBS_URL=redis://host:6379/1 or postgresql://… (README, "Workers").
    JOBS_URL = None
    #: Where camera snapshots are kept (proctoring.snapshots); default <instance>/snapshots. Several nodes share
    #: one folder (QE_SNAPSHOT_DIR), as they share the instance's.
    SNAPSHOT_DIR = None
    #: A running job whose worker has not reported for this long is taken back and tried again.
    JOBS_STALE_SECONDS = 120
    #: How often a running job's own thread says it is alive (well under JOBS_STALE_SECONDS).
    JOBS_HEARTBEAT_SECONDS = 30
    #: Tries per job (the first and the retries, with back-off: 5 s, then 15 s).
    JOBS_MAX_ATTEMPTS = 3
    #: Seconds to sleep at each progress step: for fault drills only (to kill a worker mid-job).
    JOBS_DRILL_DELAY = 0.0
    #: An import (cadres, questions) of more rows than this runs as a job with a progress bar once confirmed; smaller
    #: ones are written within the confirming request (QE_IMPORT_INLINE_ROWS).
    IMPORT_INLINE_ROWS = 300
    #: Keys of this installation in a shared store (QE_RATELIMIT_KEY_PREFIX), when one Redis serves several.
    RATELIMIT_KEY_PREFIX = "qualexam"
    #: With the shared store unreachable, count in each process's memory meanwhile rather than fail the page; and
    #: give up on it within a second, not after the system's connect timeout (longer than a worker may take).
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}
    VERIFY_RATE_LIMIT = "30 per minute"
    #: The address people reach this system at, e.g. https://ks.example.gov.cn (QE_PUBLIC_URL): certificates print
    #: their verification link and QR code with it, never with the Host header of the request that printed them
    #: (which the client chooses). Without it certificates are refused, except in debug mode (development).
    PUBLIC_URL = ""
    QUESTIONS_PER_PAGE = 20
    #: Rows per page of a ranking.
    RANKING_PER_PAGE = 50
    #: An exam's item analysis is recomputed on opening the page when it is out of date and the exam has at most
    #: this many ranked candidates; a larger exam's on request (one pass over its answers takes seconds).
    REPORTS_LIVE_ANALYSIS_LIMIT = 5000
    #: An export of at most this many rows downloads at once; a longer one is made by a job ("reports.export") and
    #: waits on the job page (QE_REPORTS_EXPORT_INLINE_ROWS).
    REPORTS_EXPORT_INLINE_ROWS = 5000
    #: An exam's kept ranking is recomputed on opening a page when its results changed and it has at most this many
    #: graded attempts (about 0.1 s); a larger exam's pages show the last one while a job recomputes it (seconds).
    REPORTS_LIVE_RANKING_LIMIT = 5000
    #: Seconds a ranking job may wait for a worker before the pages stop waiting and recompute it themselves.
    REPORTS_RANKING_WAIT = 60
    #: Keys of personal data at rest (core.crypto): QE_DATA_KEYS (Fernet keys, the first encrypts) and QE_INDEX_KEYS
    #: (blind-index keys, the first indexes); without them, keys made once in instance/personal_data_keys.json.
    DATA_KEYS: list = []
    INDEX_KEYS: list = []
    #: An .lrmx batch sent through the page (one zip or several files) is at most this many MB; the command line
    #: takes larger ones (QE_LRMX_UPLOAD_MB).
    LRMX_UPLOAD_MB = 100
    TESTING = False

    @classmethod
    def from_env(cls, instance_path: str) -> dict:
        from core.crypto import load_keys

        values = {}
        values.update(load_keys(instance_path))
        db_url = os.environ.get("DATABASE_URL")
        if db_url:
            # Accept the short scheme people copy from hosting docs; SQLAlchemy needs the driver named.
            if db_url.startswith("postgres://"):
                db_url = "postgresql+psycopg://" + db_url[len("postgres://") :]
            elif db_url.startswith("postgresql://"):
                db_url = "postgresql+psycopg://" + db_url[len("postgresql://") :]
        else:
            db_url = "sqlite:///" + str(Path(instance_path) / "qualexam.db")
        values["SQLALCHEMY_DATABASE_URI"] = db_url
        values["SECRET_KEY"] = load_secret_key(instance_path)
        values["SESSION_COOKIE_SECURE"] = env_bool("QE_COOKIE_SECURE", True)
        values["PRACTICE_DAILY_PER_PERSON"] = env_bool("QE_PRACTICE_DAILY_PER_PERSON", False)
        for name in ("DB_POOL_SIZE", "DB_MAX_OVERFLOW"):
            if os.environ.get(f"QE_{name}"):
                values[name] = int(os.environ[f"QE_{name}"])
        if os.environ.get("QE_DB_PRE_PING"):
            values["DB_PRE_PING"] = env_bool("QE_DB_PRE_PING", False)
        for name in ("PDF_FONT", "RATELIMIT_STORAGE_URI", "RATELIMIT_KEY_PREFIX", "JOBS_URL", "SNAPSHOT_DIR"):
            if os.environ.get(f"QE_{name}"):
                values[name] = os.environ[f"QE_{name}"]
        for name in (
            "JOBS_STALE_SECONDS",
            "JOBS_MAX_ATTEMPTS",
            "IMPORT_INLINE_ROWS",
            "REPORTS_EXPORT_INLINE_ROWS",
            "EXAM_GRADING_WAIT_SECONDS",
            "PRACTICE_MASTERED_AFTER",
            "PRACTICE_DAILY_SIZE",
            "LRMX_UPLOAD_MB",
        ):
            if os.environ.get(f"QE_{name}"):
                values[name] = int(os.environ[f"QE_{name}"])
        if os.environ.get("QE_JOBS_DRILL_DELAY"):
            values["JOBS_DRILL_DELAY"] = float(os.environ["QE_JOBS_DRILL_DELAY"])
        if os.environ.get("QE_PUBLIC_URL"):
            values["PUBLIC_URL"] = check_public_url(os.environ["QE_PUBLIC_URL"])
        if os.environ.get("QE_TRUSTED_PROXIES"):
            values["TRUSTED_PROXIES"] = int(os.environ["QE_TRUSTED_PROXIES"])
        return values


def engine_options(config) -> dict:
    """SQLAlchemy's engine options for the configured database (Flask-SQLAlchemy reads them at init_app)."""
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # pysqlite's own busy wait (WAL and the other pragmas: core.extensions, on every new connection).
        options.setdefault("connect_args", {}).setdefault("timeout", config["SQLITE_BUSY_SECONDS"])
    else:
        options.setdefault("pool_size", config["DB_POOL_SIZE"])
        options.setdefault("max_overflow", config["DB_MAX_OVERFLOW"])
        options.setdefault("pool_timeout", 10)  # a request waits at most this long for a connection, then fails
        options.setdefault("pool_recycle", 1800)  # under the idle timeouts of proxies such as PgBouncer
        options.setdefault("pool_pre_ping", config["DB_PRE_PING"])
    return options


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-only-secret-key-not-for-production"  # noqa: S105
    SESSION_COOKIE_SECURE = False
    WTF_CSRF_ENABLED = True
    #: Tests hash many passwords (every demo load sets fifty); a fast method there, scrypt everywhere else.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # noqa: S105
    PUBLIC_URL = "http://127.0.0.1:5000"
    #: Jobs run in the process that asks, right after its transaction commits (tests of the queue use "memory").
    JOBS_URL = "immediate"
    DATA_KEYS = ["dGVzdC1vbmx5LWRhdGEta2V5LW5vdC1mb3ItcHJvZCE="]
    INDEX_KEYS = ["test-only-index-key-not-for-production-use"]

    @classmethod
    def from_env(cls, instance_path: str) -> dict:
        return {}
