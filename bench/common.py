"""What the benchmarks share: a throwaway database (SQLite or PostgreSQL), the app built on it, percentiles, and
writing a section into bench/RESULTS.md (newest first)."""

import argparse
import base64
import os
import secrets
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from config import Config  # noqa: E402

PG_BASE = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def make_database(kind: str) -> tuple[str, callable]:
    if kind == "sqlite":
        path = Path(tempfile.mkdtemp(prefix="qe-bench-")) / "bench.db"
        return f"sqlite:///{path}", lambda: None
    import psycopg
    from sqlalchemy import make_url

    name = f"qe_bench_{secrets.token_hex(4)}"
    admin = make_url(PG_BASE).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    url = make_url(PG_BASE).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False), drop


def bench_keys() -> dict:
    """Personal data's keys (core.crypto), made for one run: a throwaway database needs no others."""
    return {"DATA_KEYS": [base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()],
            "INDEX_KEYS": [secrets.token_urlsafe(48)]}  # fmt: skip


def key_env(app) -> dict:
    """The app's personal data keys as the environment of a server or command serving the same database."""
    return {"QE_DATA_KEYS": ",".join(app.config["DATA_KEYS"]), "QE_INDEX_KEYS": ",".join(app.config["INDEX_KEYS"])}


def build_app(url: str, instance: str):
    cfg = type(
        "BenchConfig",
        (Config,),
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "SESSION_COOKIE_SECURE": False, **bench_keys()},
    )
    cfg.from_env = classmethod(lambda cls, path: {})
    app = create_app(cfg)
    app.instance_path = instance
    return app


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def write_results(text: str) -> None:
    path = ROOT / "bench" / "RESULTS.md"
    old = (
        path.read_text()
        if path.exists()
        else "# Benchmark results\n\nNewest first. Each section says how it was run.\n\n"
    )
    head, _sep, rest = old.partition("\n## ")
    path.write_text(head.rstrip() + "\n\n" + text + ("\n## " + rest if rest else ""))


def bench_main(doc: str, run, report, add_arguments) -> None:
    """The command line every benchmark shares: --db sqlite|postgresql|both and --write, plus its own options
    (`add_arguments(parser)`); `run(kind, args)` measures one database, `report(results)` makes the section."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--write", action="store_true", help="Append the results to bench/RESULTS.md.")
    add_arguments(parser)
    args = parser.parse_args()
    results = []
    for kind in ["sqlite", "postgresql"] if args.db == "both" else [args.db]:
        print(f"… {kind}", file=sys.stderr)
        results.append(run(kind, args))
    text = report(results)
    print(text)
    if args.write:
        write_results(text)
