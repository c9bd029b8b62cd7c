"""The admin API at the personnel system's scale (issue 26): a nightly sync of 5,000 cadres, and the reads back.

    .venv/bin/python bench/bench_admin_api.py [--db sqlite|postgresql|both] [--cadres 5000] [--write]

In a throwaway database: a district of 10 towns, and a system account for the whole district with two tokens
(accounts.system): every scope but `personal:read` (the sync: it writes numbers, and its answers carry them
masked), and every scope (to read the numbers in full). The personnel system's client is Flask's test client in
this process: each request goes through the whole app (token check, scope, permission, JSON schema, services,
audit, commit) but no socket, so the figures are the app's and the database's own time, one request at a time
(one sync client, as a personnel system runs):
1. `PUT /api/v1/admin/cadres/{number}` for `--cadres` people not yet in QualExam (each a cadre, an account, a
   one-time password, an audit event);
2. the same again, unchanged (the idempotent no-op a nightly sync mostly is);
3. the same with one field changed each (a new post): an update and an audit event each;
4. `GET /api/v1/admin/cadres` paged through (500 a page), masked; then with `personal:read` (numbers in full,
   each page audited); then `updated_since` the start of step 3 (every profile changed since).
"""

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime

from bench_lrmx import NO_LOGIN, person
from common import ROOT, bench_main, build_app, make_database, percentile
from flask_migrate import upgrade

TOWNS = 10


def body(i: int, position: str) -> dict:
    name, birth = person(i)
    return {"name": name, "gender": "male" if i % 2 == 0 else "female", "birth_date": birth.isoformat(),
            "unit": f"T{i % TOWNS:02d}",
            "rank": "staff", "position": position, "education": "bachelor", "political_status": "cpc_member",
            "phone": f"139{i:08d}"}  # fmt: skip


def build(app):
    from accounts import system
    from accounts.models import RoleAssignment, User
    from accounts.services import create_unit
    from core.extensions import db
    from core.models import now_utc
    from core.policy import API_SCOPES, Role

    admin = User(username="benchadmin", name="组织部", password_hash=NO_LOGIN, must_change_password=False)
    admin.roles.append(RoleAssignment(role=Role.ORG_ADMIN))
    db.session.add(admin)
    root = create_unit("QW", "区委", "party_committee", None)
    for t in range(TOWNS):
        create_unit(f"T{t:02d}", f"第{t + 1}镇", "town", root)
    account = system.create_account(admin, "hr-system", "人事系统", [], now_utc())
    read_only = [s for s in API_SCOPES if s != "personal:read"]
    tokens = {"all": system.mint_token(admin, account, "bench", list(API_SCOPES), now_utc()),
              "masked": system.mint_token(admin, account, "bench-masked", read_only, now_utc())}  # fmt: skip
    db.session.commit()
    return {k: {"Authorization": f"Bearer {v}"} for k, v in tokens.items()}


def timed_puts(client, headers, n: int, position: str, expect: int, changed: bool) -> dict:
    times = []
    started = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        response = client.put(f"/api/v1/admin/cadres/H{i:06d}", headers=headers, json=body(i, position))
        times.append(time.perf_counter() - t0)
        assert response.status_code == expect, (response.status_code, response.get_data(as_text=True)[:300])
        assert response.get_json()["changed"] is changed
    return _figures(times, time.perf_counter() - started)


def timed_pages(client, headers, n: int, masked: bool, query: str = "") -> dict:
    times, seen, page = [], 0, 1
    started = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        response = client.get(f"/api/v1/admin/cadres?per_page=500&page={page}{query}", headers=headers)
        times.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        items = response.get_json()["items"]
        assert all(item["numbers_masked"] is masked for item in items)
        seen += len(items)
        if len(items) < 500:
            break
        page += 1
    assert seen == n, (seen, n)
    return {**_figures(times, time.perf_counter() - started), "rows": seen}


def _figures(times: list[float], total: float) -> dict:
    ms = [t * 1000 for t in times]
    shares = {f"p{p}": percentile(ms, p) for p in (50, 95, 99)}
    return {"n": len(ms), "seconds": total, "per_s": len(ms) / total, "mean": statistics.fmean(ms), **shares,
            "max": max(ms)}  # fmt: skip


def run(kind: str, args) -> dict:
    url, drop = make_database(kind)
    try:
        app = build_app(url, tempfile.mkdtemp(prefix="qe-bench-instance-"))
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            headers = build(app)
        # The requests run outside any app context of ours: each gets its own, as in a server (an outer one would
        # be shared, and with it flask.g: the first request's login and scopes would serve every later one).
        client = app.test_client()
        n = args.cadres
        steps = {"create": timed_puts(client, headers["masked"], n, "科员", 201, True)}
        steps["unchanged"] = timed_puts(client, headers["masked"], n, "科员", 200, False)
        since = datetime.now(UTC).isoformat().replace("+00:00", "%2B00:00")
        steps["update"] = timed_puts(client, headers["masked"], n, "综合办科员", 200, True)
        steps["list, masked"] = timed_pages(client, headers["masked"], n, masked=True)
        steps["list, numbers in full"] = timed_pages(client, headers["all"], n, masked=False)
        steps["list, updated_since"] = timed_pages(client, headers["masked"], n, masked=True,
                                                   query=f"&updated_since={since}")  # fmt: skip
        with app.app_context():
            from sqlalchemy import func, select

            from core.audit import AuditEvent
            from core.extensions import db

            audited = dict(db.session.execute(select(AuditEvent.action, func.count(AuditEvent.id))
                                              .group_by(AuditEvent.action)).all())  # fmt: skip
        return {"kind": kind, "cadres": n, "steps": steps, "audited": audited}
    finally:
        drop()


def report(results) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    r0 = results[0]
    lines = [
        f"## {when} · the admin API: a sync of {r0['cadres']:,} cadres and the reads back (issue 26)",
        "",
        f"`bench/bench_admin_api.py`: a district of {TOWNS} towns and a system account for the whole district; the "
        "personnel system's client is Flask's test client in the benchmark's process, one request at a time (the "
        "whole app, no socket): PUT each cadre by employee number with a token without `personal:read` (new, then "
        "unchanged, then with a new post), "
        "then GET the roster 500 a page (masked, in full with `personal:read`, and `updated_since`). 2 shared "
        f"cores; Python {sys.version.split()[0]}. Times per request in ms.",
        "",
        "| database | step | requests | s | req/s | mean | p50 | p95 | p99 | max |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for name, f in r["steps"].items():
            ms = " | ".join(f"{f[k]:.1f}" for k in ("mean", "p50", "p95", "p99", "max"))
            lines.append(f"| {r['kind']} | {name} | {f['n']:,} | {f['seconds']:.1f} | {f['per_s']:.0f} | {ms} |")
    lines.append("")
    kinds = ", ".join(f"{action} {n:,}" for action, n in sorted(r0["audited"].items(), key=lambda kv: -kv[1]))
    lines.append(f"Audit events written by the run ({r0['kind']}): {sum(r0['audited'].values()):,}: {kinds}.")
    return "\n".join(lines) + "\n"


def _arguments(parser) -> None:
    parser.add_argument("--cadres", type=int, default=5000)


if __name__ == "__main__":
    bench_main(__doc__, run, report, _arguments)
