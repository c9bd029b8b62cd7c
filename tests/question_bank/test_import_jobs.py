"""Question imports: the preview's file waits in the database for its uploader alone, and a large import runs as a
job (progress on the job page, every question or none)."""

import io
import re

from sqlalchemy import delete, func, select

from accounts.models import RoleAssignment
from jobs import engine
from jobs.models import Job, JobState, StoredFile
from question_bank.models import Question
from tests.factories import confirmation, make_bank, make_user
from tests.question_bank.test_formats import row, xlsx


def preview(client, code, rows, status="draft") -> str:
    form = {"file": (io.BytesIO(xlsx(rows)), "q.xlsx"), "status": status}
    response = client.post_form(f"/banks/{code}/import", form, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert f"/banks/{code}/import/commit" in html, re.findall(r"<li>[^<]*</li>", html)
    return html


def confirm(client, code, html):
    return client.post_form(f"/banks/{code}/import/commit", confirmation(html))


def questions(db) -> int:
    return db.session.scalar(select(func.count(Question.id)))


def two_rows():
    return [row(stem="第一题______"), row(stem="第二题______", answer="B")]


def test_another_user_cannot_confirm_someones_upload(client, auth, db):
    make_bank(code="OWN")
    db.session.commit()
    owner = auth.login_as("org_admin")
    html = preview(client, "OWN", two_rows())
    auth.logout()
    auth.login_as("org_admin")  # the same rights, and the first one's confirmation
    response = confirm(client, "OWN", html)
    assert response.status_code == 302 and response.location.endswith("/banks/OWN/import")
    assert questions(db) == 0
    stored = db.session.scalar(select(StoredFile))
    assert stored.owner_id == owner.id and stored.claimed_at is None
    auth.logout()
    auth.login(owner.username)
    assert confirm(client, "OWN", html).status_code == 302
    assert questions(db) == 2
    assert db.session.scalar(select(func.count(StoredFile.id))) == 0  # the upload went with its import


def test_an_upload_checked_for_one_bank_is_not_imported_into_another(client, auth, db):
    make_bank(code="ONE")
    make_bank(code="TWO")
    db.session.commit()
    auth.login_as("org_admin")
    html = preview(client, "ONE", two_rows())
    response = confirm(client, "TWO", html)
    assert response.status_code == 302 and response.location.endswith("/banks/TWO/import")
    assert questions(db) == 0


def test_a_large_import_runs_as_a_job_and_links_back_to_the_bank(client, auth, db, app):
    app.config["IMPORT_INLINE_ROWS"] = 1
    bank = make_bank(code="BIG")
    db.session.commit()
    owner = auth.login_as("org_admin")
    html = preview(client, "BIG", two_rows(), status="active")
    assert questions(db) == 0
    response = confirm(client, "BIG", html)
    job = db.session.scalar(select(Job))
    assert response.status_code == 302 and response.location.endswith(f"/jobs/{job.id}")
    assert (job.kind, job.state, job.created_by_id) == ("question_bank.import-questions", JobState.DONE, owner.id)
    statuses = db.session.scalars(select(Question.status).where(Question.bank_id == bank.id)).all()
    assert statuses == ["active", "active"]
    status = client.get(f"/jobs/{job.id}/status").get_json()
    assert (status["done"], status["total"], status["result"]["url"]) == (2, 2, "/banks/BIG/")
    assert 'href="/banks/BIG/"' in client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert db.session.scalar(select(func.count(StoredFile.id))) == 0


def test_a_second_click_while_the_job_waits_starts_nothing(client, auth, db, app, queued_jobs):
    app.config["IMPORT_INLINE_ROWS"] = 1
    make_bank(code="DBL")
    db.session.commit()
    auth.login_as("org_admin")
    html = preview(client, "DBL", two_rows())
    assert confirm(client, "DBL", html).status_code == 302
    again = confirm(client, "DBL", html)
    assert again.status_code == 302 and again.location.endswith("/banks/DBL/")
    assert "该文件正在导入中。" in client.get("/banks/DBL/").get_data(as_text=True)
    assert db.session.scalar(select(func.count(Job.id))) == 1
    engine.run_pending()
    assert questions(db) == 2


def test_a_job_whose_starter_lost_the_right_fails_with_the_reason_and_writes_nothing(
    client, auth, db, app, queued_jobs
):
    app.config["IMPORT_INLINE_ROWS"] = 1
    make_bank(code="LOST")
    db.session.commit()
    owner = auth.login_as("org_admin")
    html = preview(client, "LOST", two_rows())
    job_id = int(confirm(client, "LOST", html).location.rsplit("/", 1)[1])
    db.session.execute(delete(RoleAssignment).where(RoleAssignment.user_id == owner.id))
    db.session.commit()
    engine.run_pending()
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert job.state == JobState.FAILED and job.error == "你已无权管理此题库。"
    assert questions(db) == 0


def test_cli_import_runs_as_a_recorded_job(runner, db, tmp_path):
    make_user(username="root", roles=("system_admin",))
    make_bank(code="CLI")
    db.session.commit()
    path = tmp_path / "q.xlsx"
    path.write_bytes(xlsx(two_rows()))
    result = runner.invoke(args=["questions", "import", str(path), "--bank", "CLI", "--status", "in_review"])
    assert result.exit_code == 0, result.output
    assert "2 question(s) imported into CLI." in result.output
    job = db.session.scalar(select(Job))
    assert (job.kind, job.state, job.done, job.total) == ("question_bank.import-questions", "done", 2, 2)
    assert job.result["url"] == "/banks/CLI/"  # the link built outside any request
    assert set(db.session.scalars(select(Question.status))) == {"in_review"}
    assert db.session.scalar(select(func.count(StoredFile.id))) == 0
