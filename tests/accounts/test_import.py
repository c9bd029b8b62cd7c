"""Bulk import of cadres from .xlsx, in the UI and the CLI: good files import whole, bad files change nothing."""

import io
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from accounts import importing
from accounts.models import Cadre, User
from jobs.models import Job, JobState, StoredFile
from tests.factories import make_cadre, make_unit, make_user, workbook_bytes

HEADERS = ["工号", "姓名", "性别", "出生日期", "单位", "职级", "职务", "学历", "政治面貌", "手机号码"]


def good_rows():
    return [
        ["QE5001", "李文博", "男", date(1994, 3, 2), "QSZ", "副科级", "副镇长", "大学本科", "中共党员", "13900001111"],
        ["QE5002", "王思琪", "女", "1996/7/15", "青山镇", "科员", "", "硕士研究生", "共青团员", ""],
        ["QE5003", "赵志强", "male", "1988-11-30", "QSZ", "Section chief", "镇长", "bachelor", "CPC member", None],
    ]


def workbook(rows, headers=HEADERS) -> bytes:
    return workbook_bytes(headers, rows)


@pytest.fixture
def town(db):
    unit = make_unit("青山镇", code="QSZ", kind="town")
    db.session.commit()
    return unit


def count_cadres(db):
    return db.session.scalar(select(func.count(Cadre.id)))


def parse(data, actor):
    return importing.parse_cadre_workbook(io.BytesIO(data), actor, date(2026, 11, 28))


def issue_texts(result):
    return [str(i) for i in result.issues]


def upload_token(html: str) -> str:
    return re.search(r'name="upload" value="([^"]+)"', html).group(1)


def confirm(client, preview_html: str):
    """Press the preview's confirmation button: the token of the stored upload travels in the form."""
    return client.post_form("/admin/cadres/import/commit", {"upload": upload_token(preview_html)})


# ---------------------------------------------------------------- the parser and the commit


def test_good_file_parses_all_spellings(app, town):
    admin = make_user(roles=("org_admin",))
    result = parse(workbook(good_rows()), admin)
    assert result.ok, issue_texts(result)
    first, second, third = (r.data for r in result.rows)
    assert (first.gender, first.rank, first.education) == ("male", "deputy_section_chief", "bachelor")
    assert second.birth_date == date(1996, 7, 15) and second.unit.id == town.id
    assert (third.gender, third.rank, third.political_status) == ("male", "section_chief", "cpc_member")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda rows: rows[1].__setitem__(3, "1996年13月1日"), r"第3行 D列（出生日期）：.*不是有效日期"),
        (lambda rows: rows[1].__setitem__(3, "last spring"), r"第3行 D列（出生日期）"),
        (lambda rows: rows[2].__setitem__(4, "不存在的单位"), r"第4行 E列（单位）：.*不存在"),
        (lambda rows: rows[0].__setitem__(1, ""), r"第2行 B列（姓名）：.*必填"),
        (lambda rows: rows[0].__setitem__(2, "未知"), r"第2行 C列（性别）：.*男、女"),
        (lambda rows: rows[2].__setitem__(0, "QE5001"), r"第4行 A列（工号）：.*第2行"),
        (lambda rows: rows[0].__setitem__(3, datetime(2099, 1, 1)), r"第2行：.*出生日期"),
    ],
    ids=["impossible-date", "not-a-date", "unknown-unit", "empty-required", "bad-choice", "dup-in-file", "future"],
)
def test_bad_cells_are_reported_by_row_and_column(app, town, mutate, expected):
    admin = make_user(roles=("org_admin",))
    rows = good_rows()
    mutate(rows)
    result = parse(workbook(rows), admin)
    assert not result.ok
    assert any(re.search(expected, text) for text in issue_texts(result)), issue_texts(result)


def test_existing_employee_number_is_reported_not_merged(app, town):
    make_cadre(unit=town, user=make_user(username="QE5002"))
    admin = make_user(roles=("org_admin",))
    result = parse(workbook(good_rows()), admin)
    assert any("第3行 A列（工号）" in t and "已存在" in t for t in issue_texts(result)), issue_texts(result)


def test_existing_number_is_reported_even_on_a_row_with_other_problems(app, town):
    make_user(username="QE5001")
    admin = make_user(roles=("org_admin",))
    rows = good_rows()
    rows[0][5] = "处长"
    texts = issue_texts(parse(workbook(rows), admin))
    assert texts[0].startswith("第2行 A列（工号）") and "QE5001" in texts[0], texts
    assert texts[1].startswith("第2行 F列（职级）"), texts


def test_wrong_header_is_reported(app, town):
    admin = make_user(roles=("org_admin",))
    headers = [*HEADERS[:2], "性 别?", *HEADERS[3:]]
    result = parse(workbook(good_rows(), headers), admin)
    texts = issue_texts(result)
    assert any("第1行 C列（性 别?）" in t for t in texts), texts
    assert any("性别" in t and "缺少" in t for t in texts), texts


def test_not_a_workbook(app):
    admin = make_user(roles=("org_admin",))
    result = parse(b"this is not a spreadsheet", admin)
    assert len(result.issues) == 1 and ".xlsx" in issue_texts(result)[0]
    assert not result.rows


def test_unit_outside_the_importers_scope(app, town):
    other = make_unit("柳河镇", code="LHZ")
    unit_admin = make_user(roles=("unit_admin",), unit=other)
    result = parse(workbook(good_rows()), unit_admin)
    assert any("管辖范围" in t for t in issue_texts(result)), issue_texts(result)


def test_empty_rows_are_skipped_and_empty_file_is_an_error(app, town):
    admin = make_user(roles=("org_admin",))
    rows = good_rows()
    rows.insert(1, [None] * 10)
    assert parse(workbook(rows), admin).ok
    assert not parse(workbook([]), admin).ok


def test_template_round_trip(app, town):
    admin = make_user(roles=("org_admin",))
    wb = load_workbook(io.BytesIO(importing.build_template(admin)))
    assert [c.value for c in wb.worksheets[0][1]] == HEADERS
    assert wb.worksheets[0].freeze_panes == "A2"
    codes = [row[0] for row in wb.worksheets[1].iter_rows(min_row=2, values_only=True) if row[0]]
    assert "QSZ" in codes
    ws = wb.worksheets[0]
    ws.append(good_rows()[0])
    buf = io.BytesIO()
    wb.save(buf)
    assert parse(buf.getvalue(), admin).ok


# ---------------------------------------------------------------- the pages


def upload(client, data, name="cadres.xlsx"):
    return client.post_form(
        "/admin/cadres/import",
        {"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_ui_import_preview_then_commit(client, auth, db, town):
    auth.login_as("org_admin")
    before = count_cadres(db)
    html = preview_html = upload(client, workbook(good_rows())).get_data(as_text=True)
    assert "李文博" in html and "/admin/cadres/import/commit" in html and "确认后将在后台导入" not in html
    assert count_cadres(db) == before  # the preview writes nothing

    response = confirm(client, html)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert count_cadres(db) == before + 3
    passwords = re.findall(r"<td><code>([^<]+)</code></td>", html)
    assert len(passwords) == 3
    user = db.session.scalar(select(User).where(User.username == "QE5001"))
    assert user.must_change_password and user.check_password(passwords[0])

    # The one-time passwords can be exported from the page that shows them.
    form = {"number": ["QE5001"], "name": ["李文博"], "unit": ["青山镇"], "password": [passwords[0]]}
    export = client.post_form("/admin/cadres/import/credentials", form)
    sheet = load_workbook(io.BytesIO(export.data)).active
    assert [c.value for c in sheet[2]] == ["QE5001", "李文博", "青山镇", passwords[0]]
    # A second commit (a double click) finds nothing pending, and the file is gone from the database.
    again = confirm(client, preview_html)
    assert again.status_code == 302 and again.location.endswith("/admin/cadres/import")
    assert db.session.scalar(select(func.count(StoredFile.id))) == 0


def test_ui_bad_file_lists_problems_and_writes_nothing(client, auth, db, town):
    auth.login_as("org_admin")
    rows = good_rows()
    rows[1][3] = "不是日期"
    rows[2][4] = "火星镇"
    before = count_cadres(db)
    response = upload(client, workbook(rows))
    html = response.get_data(as_text=True)
    assert "第3行 D列（出生日期）" in html and "第4行 E列（单位）" in html
    assert "/admin/cadres/import/commit" not in html
    assert client.post_form("/admin/cadres/import/commit").status_code == 302  # a bad file is never kept pending
    assert db.session.scalar(select(func.count(StoredFile.id))) == 0
    assert count_cadres(db) == before


def test_ui_import_in_english(client, auth, db, town):
    auth.login_as("org_admin")
    client.post_form("/language", {"locale": "en"})
    rows = good_rows()
    rows[0][1] = ""
    html = upload(client, workbook(rows)).get_data(as_text=True)
    assert "Row 2, column B (姓名): This cell is required." in html


def test_commit_rechecks_what_changed_since_the_preview(client, auth, db, town):
    auth.login_as("org_admin")
    preview = upload(client, workbook(good_rows())).get_data(as_text=True)
    make_user(username="QE5003")  # someone takes a number between preview and commit
    db.session.commit()
    before = count_cadres(db)
    html = confirm(client, preview).get_data(as_text=True)
    assert "第4行 A列（工号）" in html
    assert count_cadres(db) == before


def test_template_download(client, auth, db, town):
    auth.login_as("unit_admin", unit=town)
    response = client.get("/admin/cadres/import/template")
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert [c.value for c in load_workbook(io.BytesIO(response.data)).active[1]] == HEADERS


# ---------------------------------------------------------------- the CLI


@pytest.fixture
def cli_admin(db):
    admin = make_user(username="root", roles=("system_admin",))
    db.session.commit()
    return admin


def test_cli_import_dry_run_then_real(runner, db, town, cli_admin, tmp_path):
    path = tmp_path / "cadres.xlsx"
    path.write_bytes(workbook(good_rows()))
    before = count_cadres(db)
    result = runner.invoke(args=["cadres", "import", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert count_cadres(db) == before
    out = tmp_path / "passwords.xlsx"
    result = runner.invoke(args=["cadres", "import", str(path), "--passwords-out", str(out)])
    assert result.exit_code == 0, result.output
    assert count_cadres(db) == before + 3
    rows = list(load_workbook(out).active.iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in rows] == ["QE5001", "QE5002", "QE5003"]


def test_cli_import_bad_file_exits_nonzero_and_writes_nothing(runner, db, town, cli_admin, tmp_path):
    rows = good_rows()
    rows[0][0] = ""
    path = tmp_path / "bad.xlsx"
    path.write_bytes(workbook(rows))
    before = count_cadres(db)
    result = runner.invoke(args=["cadres", "import", str(path)])
    assert result.exit_code == 1
    assert "第2行 A列（工号）" in result.output
    assert count_cadres(db) == before


def test_cli_template(runner, db, town, cli_admin, tmp_path):
    out = tmp_path / "template.xlsx"
    result = runner.invoke(args=["cadres", "template", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert [c.value for c in load_workbook(out).active[1]] == HEADERS


def test_cli_create_admin(runner, db):
    result = runner.invoke(args=["accounts", "create-admin", "boss", "--password-stdin"], input="Granite-63-owl\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "boss"))
    assert user.check_password("Granite-63-owl") and "system_admin" in user.role_names
    result = runner.invoke(args=["accounts", "create-admin", "boss2", "--password-stdin"], input="weak\n")
    assert result.exit_code != 0
    assert db.session.scalar(select(User).where(User.username == "boss2")) is None


# ---------------------------------------------------------------- previews in the database, large imports as jobs


def test_the_preview_waits_in_the_database_not_in_the_instance_folder(client, auth, db, town, app):
    auth.login_as("org_admin")
    data = workbook(good_rows())
    preview = upload(client, data).get_data(as_text=True)
    stored = db.session.scalar(select(StoredFile).where(StoredFile.token == upload_token(preview)))
    assert stored.purpose == "upload" and stored.claimed_at is None and stored.data == data
    assert not (Path(app.instance_path) / "imports").exists()


def test_another_user_cannot_confirm_someones_upload(client, auth, db, town):
    """The token alone is not enough: the stored upload is its uploader's, whoever else holds the same rights."""
    owner = auth.login_as("org_admin")
    preview = upload(client, workbook(good_rows())).get_data(as_text=True)
    auth.logout()
    auth.login_as("org_admin")  # another district admin, given the first one's confirmation
    before = count_cadres(db)
    refused = confirm(client, preview)
    assert refused.status_code == 302 and refused.location.endswith("/admin/cadres/import")
    assert count_cadres(db) == before
    stored = db.session.scalar(select(StoredFile).where(StoredFile.token == upload_token(preview)))
    assert stored.owner_id == owner.id and stored.claimed_at is None  # still waiting for its owner
    auth.logout()
    auth.login(owner.username)
    assert confirm(client, preview).status_code == 200
    assert count_cadres(db) == before + 3


def test_a_large_import_runs_as_a_job_with_progress_and_the_passwords_to_download(client, auth, db, town, app):
    app.config["IMPORT_INLINE_ROWS"] = 2
    owner = auth.login_as("org_admin")
    before = count_cadres(db)
    preview = upload(client, workbook(good_rows())).get_data(as_text=True)
    assert "确认后将在后台导入" in preview
    response = confirm(client, preview)
    assert response.status_code == 302 and "/jobs/" in response.location
    job = db.session.scalar(select(Job).where(Job.kind == "accounts.import-cadres"))
    assert response.location.endswith(f"/jobs/{job.id}") and job.created_by_id == owner.id
    assert count_cadres(db) == before + 3
    status = client.get(f"/jobs/{job.id}/status").get_json()
    assert (status["state"], status["done"], status["total"]) == ("done", 3, 3)
    assert status["result"]["url"] == "/admin/cadres" and "3" in status["result"]["message"]
    [download] = status["result"]["files"]
    sheet = load_workbook(io.BytesIO(client.get(download["url"]).data)).active
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in rows] == ["QE5001", "QE5002", "QE5003"]
    user = db.session.scalar(select(User).where(User.username == "QE5001"))
    assert user.must_change_password and user.check_password(rows[0][3])
    # The upload went with the import; only the passwords' download is left, and only for a day.
    files = db.session.scalars(select(StoredFile)).all()
    assert [(f.purpose, f.job_id) for f in files] == [("secret", job.id)]
    assert files[0].expires_at - files[0].created_at <= timedelta(days=1)
    # A double click on the confirmation starts nothing more.
    assert confirm(client, preview).status_code == 302
    assert db.session.scalar(select(func.count(Job.id))) == 1
    # The passwords are the uploader's alone: a district admin, who sees every job, neither lists nor reads them.
    auth.logout()
    auth.login_as("system_admin")
    assert client.get(f"/jobs/{job.id}/status").get_json()["result"]["files"] == []
    assert client.get(download["url"]).status_code == 404


def test_a_row_refused_when_the_job_runs_fails_it_with_the_reason_and_writes_nothing(
    client, auth, db, town, app, queued_jobs
):
    from jobs import engine

    app.config["IMPORT_INLINE_ROWS"] = 2
    auth.login_as("org_admin")
    preview = upload(client, workbook(good_rows())).get_data(as_text=True)
    response = confirm(client, preview)
    job_id = int(response.location.rsplit("/", 1)[1])
    make_user(username="QE5003")  # someone takes a number while the job waits
    db.session.commit()
    before = count_cadres(db)
    engine.run_pending()
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert job.state == JobState.FAILED and "第4行 A列（工号）" in job.error
    assert count_cadres(db) == before
    assert db.session.scalar(select(func.count(StoredFile.id)).where(StoredFile.purpose == "download")) == 0
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "第4行 A列（工号）" in page


def test_cli_import_runs_as_a_recorded_job_and_keeps_no_passwords(runner, db, town, cli_admin, tmp_path):
    path = tmp_path / "cadres.xlsx"
    path.write_bytes(workbook(good_rows()))
    result = runner.invoke(args=["cadres", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "3 cadre(s) imported" in result.output and "QE5002\t王思琪\t" in result.output
    job = db.session.scalar(select(Job))
    assert (job.kind, job.state, job.done, job.total) == ("accounts.import-cadres", "done", 3, 3)
    assert db.session.scalar(select(func.count(StoredFile.id))) == 0  # neither the file nor the passwords stay


def test_cli_import_refused_by_the_job_exits_1_and_keeps_nothing(runner, db, town, cli_admin, tmp_path, monkeypatch):
    path = tmp_path / "cadres.xlsx"
    path.write_bytes(workbook(good_rows()))
    real = importing.parse_cadre_workbook
    calls = []

    def parse_then_number_taken(stream, actor, today):  # the number is taken between the check and the job
        calls.append(1)
        if len(calls) == 2:
            make_user(username="QE5003")
        return real(stream, actor, today)

    monkeypatch.setattr(importing, "parse_cadre_workbook", parse_then_number_taken)
    before = count_cadres(db)
    result = runner.invoke(args=["cadres", "import", str(path)])
    assert result.exit_code == 1
    assert "第4行 A列（工号）" in result.output
    assert count_cadres(db) == before
    assert db.session.scalar(select(func.count(StoredFile.id))) == 0
