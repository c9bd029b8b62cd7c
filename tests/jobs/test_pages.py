"""The jobs pages: a job and its downloads are its owner's or the district's, whatever else the viewer is."""

from core.extensions import db
from core.policy import Role
from jobs import engine, submit
from jobs.models import Job, JobState
from tests.factories import PASSWORD, make_cadre, make_unit, make_user
from tests.jobs import test_engine  # noqa: F401  (registers the test kinds)


def _login(client, user):
    assert client.post_form("/login", {"username": user.username, "password": PASSWORD}).status_code == 302


def test_the_owner_sees_progress_result_and_download(app, client):
    cadre = make_user(roles=(Role.CADRE, Role.AUTHOR))
    job = submit("tests.count", {"n": 3}, user=cadre)
    db.session.commit()
    _login(client, cadre)
    status = client.get(f"/jobs/{job.id}/status").get_json()
    assert (status["state"], status["done"], status["total"], status["finished"]) == ("done", 3, 3, True)
    assert status["result"]["message"] == "counted 3"
    [f] = status["result"]["files"]
    response = client.get(f["url"])
    assert response.status_code == 200 and response.data == b"3"
    assert response.headers["Cache-Control"] == "no-store"
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "count.txt" in page and "data-job-status-url" in page
    assert f"/jobs/{job.id}" in client.get("/jobs/").get_data(as_text=True)


def test_another_person_holding_every_other_role_cannot_see_the_job_or_its_file(app, client):
    owner_unit = make_unit()
    owner = make_cadre(unit=owner_unit).user  # the unit admin below administers the owner's own unit
    job = submit("tests.count", {"n": 1}, user=owner)
    db.session.commit()
    token = db.session.get(Job, job.id)
    from jobs.models import StoredFile

    stored = db.session.query(StoredFile).filter_by(job_id=job.id).one()
    many = make_user(roles=(Role.CADRE, Role.AUTHOR, Role.GRADER, Role.UNIT_ADMIN), unit=owner_unit)
    db.session.commit()
    _login(client, many)
    assert client.get(f"/jobs/{job.id}").status_code == 404
    assert client.get(f"/jobs/{job.id}/status").status_code == 404
    assert client.get(f"/jobs/{job.id}/files/{stored.token}").status_code == 404
    assert client.post_form(f"/jobs/{job.id}/cancel").status_code == 404
    assert f'/jobs/{token.id}"' not in client.get("/jobs/").get_data(as_text=True)


def test_a_district_admin_sees_every_job(app, client):
    owner = make_user(roles=(Role.CADRE,))
    job = submit("tests.count", {"n": 1}, user=owner)
    db.session.commit()
    admin = make_user(roles=(Role.ORG_ADMIN, Role.CADRE))
    db.session.commit()
    _login(client, admin)
    assert client.get(f"/jobs/{job.id}/status").get_json()["state"] == "done"
    listing = client.get("/jobs/").get_data(as_text=True)
    assert f"/jobs/{job.id}" in listing and owner.name in listing


def test_a_waiting_job_is_cancelled_with_a_csrf_token_only(app, client, queued_jobs):
    owner = make_user(roles=(Role.CADRE,))
    job = submit("tests.count", {"n": 1}, user=owner)
    db.session.commit()
    _login(client, owner)
    status = client.get(f"/jobs/{job.id}/status").get_json()
    assert status["state"] == "queued" and status["cancellable"] and status["waited"] is not None
    assert client.post(f"/jobs/{job.id}/cancel", data={}).status_code == 400  # no CSRF token
    assert client.post_form(f"/jobs/{job.id}/cancel").status_code == 302
    engine.run_pending()
    db.session.expire_all()
    assert db.session.get(Job, job.id).state == JobState.CANCELLED
    from core.audit import AuditEvent

    event = db.session.query(AuditEvent).filter_by(action="job.cancelled").one()
    assert (event.actor_id, event.target) == (owner.id, f"job:{job.id}")


def test_a_failed_job_says_why(app, client):
    owner = make_user(roles=(Role.CADRE,))
    job = submit("tests.count", {"fail": "user"}, user=owner)
    db.session.commit()
    _login(client, owner)
    status = client.get(f"/jobs/{job.id}/status").get_json()
    assert status["state"] == "failed" and status["error"] == "The exam has no questions."
    assert "The exam has no questions." in client.get(f"/jobs/{job.id}").get_data(as_text=True)


def test_the_command_line_lists_jobs(app, runner):
    job = submit("tests.count", {"n": 2})
    db.session.commit()
    result = runner.invoke(args=["jobs", "list"])
    assert (
        result.exit_code == 0
        and f"{job.id}" in result.output
        and "tests.count" in result.output
        and "2/2" in result.output
    )


def test_run_here_shows_a_progress_bar(app, capsys):
    from jobs.cli import run_here

    job = run_here("tests.count", {"n": 3})
    assert job.state == JobState.DONE and job.created_by_id is None
    assert "Counting (test)" in capsys.readouterr().err  # click draws the bar itself only on a terminal


def test_a_download_with_a_chinese_name_keeps_it(app, client):
    from core.web import attachment

    assert attachment("items-T1.xlsx") == "attachment; filename=items-T1.xlsx"
    header = attachment('名单 "A".xlsx')
    assert header == "attachment; filename=\"__ _A_.xlsx\"; filename*=UTF-8''%E5%90%8D%E5%8D%95%20%22A%22.xlsx"
    # A name cannot add a parameter of its own (an exam's cycle is free text).
    sneaky = attachment("qualifications-x; filename*=UTF-8''a.html.xlsx")
    assert sneaky.count(";") == 2 and sneaky.startswith('attachment; filename="qualifications-x_ filename_')


def test_the_runners_reasons_read_in_the_readers_language(app, client):
    from jobs import runner

    owner = make_user(roles=(Role.CADRE,))
    job = submit("tests.count", {"n": 1}, user=owner)
    db.session.commit()
    db.session.execute(Job.__table__.update().where(Job.id == job.id).values(state="failed", error=runner.GAVE_UP))
    db.session.commit()
    _login(client, owner)
    assert (
        client.get(f"/jobs/{job.id}/status").get_json()["error"]
        == "任务已在最后一次尝试后停止：运行它的后台进程丢失，或任务反复失败。"
    )


def test_stored_files_are_encrypted_at_rest_and_a_dropped_key_is_told(app, client):
    from cryptography.fernet import Fernet
    from sqlalchemy import LargeBinary, select, type_coerce

    from core import crypto
    from jobs.models import StoredFile

    owner = make_user(roles=(Role.CADRE, Role.ORG_ADMIN))
    job = submit("tests.count", {"n": 4}, user=owner)
    db.session.commit()
    stored = db.session.scalar(select(StoredFile).where(StoredFile.job_id == job.id))
    raw = db.session.scalar(select(type_coerce(StoredFile.data, LargeBinary)).where(StoredFile.id == stored.id))
    assert raw.startswith(b"gAAAA")  # a Fernet token, not the file
    assert crypto.keyring().decrypt_bytes(raw) == b"4" and stored.data == b"4"
    _login(client, owner)
    url = f"/jobs/{job.id}/files/{stored.token}"
    assert client.get(url).data == b"4"
    old = app.config["DATA_KEYS"]
    try:
        app.config["DATA_KEYS"] = [Fernet.generate_key().decode()]  # the key that wrote it, dropped too early
        crypto.init_app(app)
        response = client.get(url)
    finally:
        app.config["DATA_KEYS"] = old
        crypto.init_app(app)
    assert response.status_code == 500 and "QE_DATA_KEYS" in response.get_data(as_text=True)
    assert "数据无法读取" in response.get_data(as_text=True)
