"""The .lrmx import at scale (issue 26): 5,000 干部任免审批表 forms in one zip, checked and imported on one node.

    .venv/bin/python bench/bench_lrmx.py [--db sqlite|postgresql|both] [--forms 5000] [--new 5000] [--write]

The data: `--forms` cadres already in a throwaway database (the usual case: the department imported its cadres
from a workbook first), and one invented form for each (demo/lrmx_forms.py: half in the form software's layout,
half in another system's GB18030 export; each with its own 295×413 JPEG photo, two education lines dated in the
résumé and three annual assessments), zipped with deflate as a folder. Each step runs through `jobs.runner.execute`
as a worker runs it (claim, handler, files, commit), timed from the claim to the commit:
1. the check (personnel.check-lrmx): unpack, read, match by name and birth date, make the photos, the preview;
2. the import (personnel.import-lrmx): the same again (it checks what it writes), then every profile, ID number,
   photo, degree entry and assessment written, in one transaction;
3. the same zip checked again: every form now matched by its ID number and unchanged;
4. `--new` forms of people not yet in QualExam (a department's first import), checked and imported: each
   becomes a cadre with an account and a one-time password (config.ONE_TIME_PASSWORD_HASH_METHOD).
"""

import io
import sys
import tempfile
import time
import zipfile
from datetime import UTC, date, datetime, timedelta

from common import ROOT, bench_main, build_app, make_database
from flask_migrate import upgrade

NO_LOGIN = "!"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
GIVEN = "晓文思嘉子雨浩然欣怡俊杰婷宇轩梓涵明远佳琪志强海燕丽华建国立新秀英玉兰桂芳春梅国庆红霞伟东"


def person(i: int):
    """The i-th invented person: a distinct name and birth date."""
    name = SURNAMES[i % len(SURNAMES)] + GIVEN[(i // len(SURNAMES)) % len(GIVEN)] + GIVEN[(i * 7 + 3) % len(GIVEN)]
    birth = date(1975, 1, 1) + timedelta(days=(i * 37) % 9000)
    return name, birth


def forms_zip(start: int, n: int, numbered: bool) -> bytes:
    from demo.lrmx_forms import Form, export, photo_jpeg, software

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(start, start + n):
            name, birth = person(i)
            form = Form(name=name, male=i % 2 == 0, birth=birth, seq=i, photo=photo_jpeg(i),
                        employee_number=f"N{i:06d}" if numbered else "")  # fmt: skip
            layout = software if i % 2 else export
            prefix = f"N{i:06d}_" if numbered else ""
            z.writestr(f"干部任免审批表/{prefix}{name}{i}.lrmx", layout(form))
    return out.getvalue()


def build(n: int):
    from accounts.models import Cadre, RoleAssignment, User
    from accounts.services import create_unit
    from core.extensions import db
    from core.policy import Role

    admin = User(username="benchadmin", name="组织部", password_hash=NO_LOGIN, must_change_password=False)
    admin.roles.append(RoleAssignment(role=Role.ORG_ADMIN))
    db.session.add(admin)
    unit = create_unit("BENCH", "基准测试单位", "department", None)
    for i in range(n):
        name, birth = person(i)
        user = User(username=f"b{i:06d}", name=name, password_hash=NO_LOGIN, must_change_password=False)
        user.roles.append(RoleAssignment(role=Role.CADRE))
        db.session.add(user)
        db.session.add(Cadre(user=user, unit=unit, gender="male" if i % 2 == 0 else "female", birth_date=birth,
                             rank="staff", position="综合岗", education="bachelor",
                             political_status="cpc_member"))  # fmt: skip
        if i % 1000 == 999:
            db.session.flush()
    db.session.commit()
    return admin, unit


def timed(kind: str, params: dict, admin) -> tuple[float, object]:
    from core.extensions import db
    from jobs import Job, runner, submit

    job = submit(kind, params, user=admin)
    db.session.commit()
    started = time.perf_counter()
    state = runner.execute(job.id)
    seconds = time.perf_counter() - started
    job = db.session.get(Job, job.id)
    assert state == "done", (state, job.error)
    return seconds, job


def check_and_import(data: bytes, admin, unit_id=None) -> dict:
    import json

    from sqlalchemy import select

    from core.extensions import db
    from jobs import StoredFile, files
    from personnel import batches

    stored = files.store(batches.pack([("forms.zip", data)]), "lrmx-batch.zip", "application/zip", purpose="upload",
                         owner_id=admin.id)  # fmt: skip
    db.session.commit()
    params = {"upload": stored.token, "unit": unit_id, "rank": None}
    check_s, check = timed("personnel.check-lrmx", params, admin)
    preview = json.loads(db.session.scalar(select(StoredFile.data).where(StoredFile.job_id == check.id)))
    assert not preview["issues"], preview["issues"][:5]
    import_s, _job = timed("personnel.import-lrmx", {**params, "fingerprint": preview["fingerprint"]}, admin)
    db.session.expire_all()
    return {"check": check_s, "import": import_s, "counts": preview["counts"]}


def run(kind: str, args) -> dict:
    url, drop = make_database(kind)
    try:
        app = build_app(url, tempfile.mkdtemp(prefix="qe-bench-instance-"))
        app.config["JOBS_URL"] = "memory"
        with app.app_context():
            import json

            from sqlalchemy import func, select

            from accounts.models import Cadre
            from archive.models import AnnualAssessment, ArchiveEntry
            from core.extensions import db
            from jobs import StoredFile, files
            from personnel import batches

            upgrade(directory=str(ROOT / "migrations"))
            admin, unit = build(args.forms)
            started = time.perf_counter()
            data = forms_zip(0, args.forms, numbered=False)
            made = time.perf_counter() - started
            first = check_and_import(data, admin)
            assert first["counts"] == {"new": 0, "updated": args.forms, "unchanged": 0}, first["counts"]
            written = {
                "ids": db.session.scalar(select(func.count()).where(Cadre.id_number_index.is_not(None))),
                "entries": db.session.scalar(select(func.count(ArchiveEntry.id))),
                "assessments": db.session.scalar(select(func.count(AnnualAssessment.id))),
            }
            stored = files.store(batches.pack([("forms.zip", data)]), "b.zip", "application/zip", purpose="upload",
                                 owner_id=admin.id)  # fmt: skip
            db.session.commit()
            again_s, again = timed("personnel.check-lrmx", {"upload": stored.token}, admin)
            preview = json.loads(db.session.scalar(select(StoredFile.data).where(StoredFile.job_id == again.id)))
            assert preview["counts"]["unchanged"] == args.forms, preview["counts"]
            new = check_and_import(forms_zip(args.forms, args.new, numbered=True), admin, unit.id) if args.new else None
            return {"kind": kind, "forms": args.forms, "zip_mb": len(data) / 1e6, "made": made, "first": first,
                    "again": again_s, "new": new, "new_n": args.new, "written": written}  # fmt: skip
    finally:
        drop()


def report(results) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    r0 = results[0]
    lines = [
        f"## {when} · .lrmx import: {r0['forms']:,} forms in one zip (issue 26)",
        "",
        f"`bench/bench_lrmx.py`: {r0['forms']:,} cadres in a throwaway database and an invented form for each "
        f"(half in each layout, each with its own photo, two dated education lines and three annual assessments; "
        f"the zip {r0['zip_mb']:.0f} MB), checked and imported through `jobs.runner.execute` as a worker runs the "
        f"jobs; 2 shared cores; Python {sys.version.split()[0]}. The import writes, per form: the profile's changes "
        "(rank, post, education), the ID number (encrypted, indexed), the photo, two degree entries and three "
        "assessments.",
        "",
        "| database | forms | check, s | import, s | check + import, s | forms/s | check again (unchanged), s | "
        "new cadres: forms, check + import, s (forms/s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        f = r["first"]
        total = f["check"] + f["import"]
        new = r["new"]
        new_text = (f"{r['new_n']:,}: {new['check']:.1f} + {new['import']:.1f} "
                    f"({r['new_n'] / (new['check'] + new['import']):.0f})") if new else "—"  # fmt: skip
        lines.append(f"| {r['kind']} | {r['forms']:,} | {f['check']:.1f} | {f['import']:.1f} | {total:.1f} | "
                     f"{r['forms'] / total:.0f} | {r['again']:.1f} | {new_text} |")  # fmt: skip
    lines.append("")
    w = r0["written"]
    lines.append(f"Written by the first import ({r0['kind']}): {w['ids']:,} ID numbers, {w['entries']:,} degree "
                 f"entries, {w['assessments']:,} assessments.")  # fmt: skip
    return "\n".join(lines) + "\n"


def _arguments(parser) -> None:
    parser.add_argument("--forms", type=int, default=5000)
    parser.add_argument("--new", type=int, default=5000)


if __name__ == "__main__":
    bench_main(__doc__, run, report, _arguments)
