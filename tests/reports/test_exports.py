"""Large exports: written row by row (write-only), made by the job "reports.export" past the inline limit, with the
scope of the person who started it applied again when the job runs."""

import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from core.extensions import db as _db
from core.policy import Role
from jobs import Job, JobState, StoredFile, engine
from reports import documents
from tests import poppler as pdf_tools
from tests.factories import make_cadre, make_unit, make_user
from tests.reports.test_reports import exam_of, sit


@pytest.fixture
def low_limit(app):
    app.config["REPORTS_EXPORT_INLINE_ROWS"] = 2
    yield
    app.config["REPORTS_EXPORT_INLINE_ROWS"] = 5000


@pytest.fixture(autouse=True)
def _later(monkeypatch):
    """After the exams below (they are sat on 2026-12-05 from 09:00 Beijing time): no conflict of interest keeps a
    unit admin who may sit them from their results, in the pages or in the jobs."""
    later = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
    monkeypatch.setattr("reports.views.now_utc", lambda: later)
    monkeypatch.setattr("reports.exports.now_utc", lambda: later)


def _district():
    """An exam sat by two cadres of 青山镇 (one in its office) and two of 柳河镇."""
    exam = exam_of(k=2, pass_mark=1)
    town = make_unit("青山镇")
    office = make_unit("青山镇党政办", parent=town)
    other = make_unit("柳河镇")
    people = [(town, "镇内甲", (0, 0)), (office, "镇内乙", (0, 1)), (other, "镇外丙", (0, 0)),
              (other, "镇外丁", (1, 1))]  # fmt: skip
    for i, (unit, name, pattern) in enumerate(people):
        sit(exam, make_cadre(unit=unit, name=name), pattern, start_minute=i, minutes=5)
    _db.session.commit()
    return exam, town, office, other


def _job_of(response) -> Job:
    assert response.status_code == 302 and "/jobs/" in response.headers["Location"], response.status_code
    return _db.session.get(Job, int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1]))


def _download(client, job: Job) -> bytes:
    files = _db.session.scalars(select(StoredFile).where(StoredFile.job_id == job.id)).all()
    assert [f.name for f in files] == [f"ranking-{job.params['exam']}.xlsx"]
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert f"/jobs/{job.id}/files/{files[0].token}" in page  # the job page offers the download
    response = client.get(f"/jobs/{job.id}/files/{files[0].token}")
    assert response.status_code == 200
    return response.data


def _names(data: bytes) -> list[str]:
    sheet = load_workbook(io.BytesIO(data)).active
    return [row[3] for row in sheet.iter_rows(min_row=2, values_only=True)]


def test_a_small_export_downloads_at_once_and_a_large_one_is_a_job(app, db, client, auth, low_limit):
    exam, town, _office, _other = _district()
    auth.login_as("org_admin")
    small = client.get(f"/reports/exams/{exam.code}/ranking.xlsx?unit={town.id}")  # 2 rows: at the limit
    assert small.status_code == 200 and _names(small.data) == ["镇内甲", "镇内乙"]
    assert _db.session.scalar(select(Job.id).where(Job.kind == "reports.export")) is None
    job = _job_of(client.get(f"/reports/exams/{exam.code}/ranking.xlsx"))
    assert job.state == JobState.DONE and (job.done, job.total) == (4, 4)
    assert job.params == {"export": "ranking", "exam": exam.code, "filters": {}}
    assert "4" in job.result["message"]
    book = load_workbook(io.BytesIO(_download(client, job)))
    sheet = book.active
    assert [c.value for c in sheet[1]][:4] == ["名次", "并列", "所列人员中的名次", "姓名"]
    assert sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[1], r[3], r[7]) for r in rows] == [
        (1, None, "镇内甲", 2), (2, None, "镇外丙", 2), (3, None, "镇内乙", 1), (4, None, "镇外丁", 0),
    ]  # fmt: skip
    assert isinstance(rows[0][8], int | float) and sheet.column_dimensions["F"].width >= 20


def test_a_job_of_a_person_with_several_roles_exports_only_their_units(app, db, client, auth, low_limit):
    """A unit admin of 青山镇 who also writes questions, grades and is a cadre there: their job writes the town's
    candidates only; the filters they chose apply on top, and a unit outside their scope is refused."""
    exam, town, office, other = _district()
    person = make_user(roles=(Role.UNIT_ADMIN, Role.AUTHOR, Role.GRADER, Role.CADRE), unit=town, name="多角色者")
    make_cadre(unit=town, user=person)
    extra = [make_cadre(unit=office, name=f"镇内{i}") for i in range(3)]
    for i, cadre in enumerate(extra):
        sit(exam, cadre, (1, 1), start_minute=10 + i, minutes=5)
    _db.session.commit()
    auth.login(person.username)
    job = _job_of(client.get(f"/reports/exams/{exam.code}/ranking.xlsx"))
    assert job.state == JobState.DONE and job.created_by_id == person.id
    names = _names(_download(client, job))
    assert names == ["镇内甲", "镇内乙", "镇内0", "镇内1", "镇内2"]  # nobody of 柳河镇
    sheet = load_workbook(io.BytesIO(_download(client, job))).active
    first = next(sheet.iter_rows(min_row=2, values_only=True))
    assert first[:3] == (1, None, 1)  # the rank in the exam, and the rank among those shown
    second = list(sheet.iter_rows(min_row=3, max_row=3, values_only=True))[0]
    assert second[:4] == (3, None, 2, "镇内乙")  # 3rd in the exam (镇外丙 is 2nd), 2nd among the town's
    job = _job_of(client.get(f"/reports/exams/{exam.code}/ranking.xlsx?unit={office.id}&outcome=failed"))
    assert _names(_download(client, job)) == ["镇内0", "镇内1", "镇内2"]
    assert client.get(f"/reports/exams/{exam.code}/ranking.xlsx?unit={other.id}").status_code == 404


def test_the_job_applies_the_scope_its_owner_has_when_it_runs(app, db, client, auth, low_limit, queued_jobs):
    """Between asking and running, the person's scope narrows to a sub-unit: the file holds the sub-unit only. Once
    they may no longer see reports, the job fails with a reason and writes nothing."""
    exam, town, office, _other = _district()
    for i in range(2):
        sit(exam, make_cadre(unit=office, name=f"办内{i}"), (1, 1), start_minute=10 + i, minutes=5)
    person = auth.login_as("unit_admin", unit=town)
    url = f"/reports/exams/{exam.code}/ranking.xlsx"
    job = _job_of(client.get(url))
    assert job.state == JobState.QUEUED
    assert _job_of(client.get(url)).id == job.id  # asked again while it waits: the same job
    assignment = next(r for r in person.roles if r.role == Role.UNIT_ADMIN)
    assignment.unit = office
    _db.session.commit()
    engine.run_pending()
    _db.session.expire_all()
    assert _db.session.get(Job, job.id).state == JobState.DONE
    assert _names(_download(client, job)) == ["镇内乙", "办内0", "办内1"]
    second = _job_of(client.get(url + "?rank=staff"))  # 3 rows in the office: a job again
    person.roles.remove(assignment)
    _db.session.commit()
    engine.run_pending()
    _db.session.expire_all()
    failed = _db.session.get(Job, second.id)
    assert failed.state == JobState.FAILED and "已无权" in failed.error
    assert _db.session.scalar(select(StoredFile.id).where(StoredFile.job_id == second.id)) is None


def test_a_job_asked_for_a_unit_outside_the_scope_fails_and_exports_nothing(app, db, client, auth, low_limit):
    exam, town, _office, other = _district()
    person = auth.login_as("unit_admin", unit=town)
    from jobs import submit

    job = submit("reports.export", {"export": "ranking", "exam": exam.code, "filters": {"unit": other.id}}, user=person)
    _db.session.commit()  # immediate: it runs now
    _db.session.expire_all()
    job = _db.session.get(Job, job.id)
    assert job.state == JobState.FAILED and job.error
    assert _db.session.scalar(select(StoredFile.id).where(StoredFile.job_id == job.id)) is None


def test_the_qualification_progress_export_is_a_job_past_the_limit(app, db, client, auth, low_limit):
    exam = exam_of(k=2, pass_mark=1, qualification_part="political_theory", qualification_cycle="2026")
    unit = make_unit("区财政局")
    for i in range(3):
        sit(exam, make_cadre(unit=unit, name=f"财政{i}"), (0, 0), start_minute=i, minutes=5)
    _db.session.commit()
    auth.login_as("org_admin")
    job = _job_of(client.get("/reports/qualifications.xlsx?cycle=2026"))
    assert job.state == JobState.DONE and job.total >= 3
    stored = _db.session.scalar(select(StoredFile).where(StoredFile.job_id == job.id))
    assert stored.name == "qualifications-2026.xlsx"
    sheet = load_workbook(io.BytesIO(stored.data)).active
    assert sheet.title == "2026" and sheet.freeze_panes == "A2"
    assert {"财政0", "财政1", "财政2"} <= {row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert client.get("/reports/qualifications.xlsx?cycle=1999").status_code == 404


def test_the_streamed_ranking_keeps_formula_like_names_as_text_and_formats_numbers(app, db):
    """What the write-only sheets keep of the former workbooks: text that starts like a formula stays text, number
    formats and the header's style are on the cells, the page header of the unit table is printed."""

    class Row:
        exam_rank, tied, rank, username, unit_name, post_rank, score, seconds, ended_at, passed = (
            1, 1, 1, "QE1", "=A1", "staff", 3, 600, None, True)  # fmt: skip
        name = '=HYPERLINK("http://evil.example","x")'

    with app.test_request_context():
        data = documents.ranking_xlsx(None, [Row()])
        units = documents.units_xlsx("二〇二六年", [{"place": 1, "unit": "局", "eligible": 2, "took": 2,
                                     "participation": 1.0, "ranked": 2, "passed": 1, "pass_rate": 0.5, "mean": 1.5,
                                     "median": 1.5}])  # fmt: skip
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet["D2"].value == Row.name and sheet["D2"].data_type == "s" and sheet["F2"].data_type == "s"
    assert sheet["A1"].font.bold and sheet["H2"].value == 3 and sheet["I2"].value == 10
    table = load_workbook(io.BytesIO(units)).active
    assert table["E2"].number_format == "0.0%" and table["H2"].number_format == "0.0%" and table["H2"].value == 0.5
    assert table["C2"].number_format == "General" and table.oddHeader.center.text == "二〇二六年"


# ---------------------------------------------------------------- score slips in one PDF


@pytest.fixture
def poppler():
    return pdf_tools.tools()


def test_the_slips_of_those_who_passed_in_the_scope_are_one_pdf_a_page_each(app, db, client, auth, poppler, tmp_path):
    """Started from the ranking page by a unit admin who also grades: one page per passed candidate of their units,
    in rank order, each with their name and rank; nobody outside their units, nobody who failed."""
    exam, town, office, _other = _district()
    person = make_user(roles=(Role.UNIT_ADMIN, Role.GRADER), unit=town, name="阅卷管理员")
    _db.session.commit()
    auth.login(person.username)
    page = client.get(f"/reports/exams/{exam.code}/ranking").get_data(as_text=True)
    assert f'action="/reports/exams/{exam.code}/slips"' in page
    job = _job_of(client.post_form(f"/reports/exams/{exam.code}/slips"))
    assert job.kind == "reports.slips" and job.state == JobState.DONE, job.error
    assert (job.done, job.total) == (2, 2)  # 镇内甲 (2 points) and 镇内乙 (1 point, the pass mark); 柳河镇 left out
    stored = _db.session.scalar(select(StoredFile).where(StoredFile.job_id == job.id))
    assert stored.name == f"slips-{exam.code}.pdf" and stored.mimetype == "application/pdf"
    assert client.get(f"/jobs/{job.id}/files/{stored.token}").data == stored.data
    pdf = tmp_path / "slips.pdf"
    pdf.write_bytes(stored.data)
    pages = pdf_tools.text(poppler, "-layout", pdf).split("\f")[:-1]
    assert len(pages) == 2
    assert "镇内甲" in pages[0] and "第 1 名，共 4 人" in pages[0] and "成绩单" in pages[0]
    assert "镇内乙" in pages[1] and "第 3 名，共 4 人" in pages[1] and "镇内甲" not in pages[1]
    assert not any(name in "".join(pages) for name in ("镇外丙", "镇外丁"))


def test_slips_with_nobody_passed_in_the_scope_fail_with_a_reason(app, db, client, auth):
    exam, _town, _office, other = _district()
    quiet = make_unit("无人镇")
    auth.login_as("unit_admin", unit=quiet)
    job = _job_of(client.post_form(f"/reports/exams/{exam.code}/slips"))
    assert job.state == JobState.FAILED and "没有" in job.error
    assert _db.session.scalar(select(StoredFile.id).where(StoredFile.job_id == job.id)) is None
    assert client.post_form("/reports/exams/NOPE/slips").status_code == 404


def test_an_export_that_fails_half_way_is_tried_again_and_keeps_one_file(app, db, client, auth, low_limit, queued_jobs,
                                                                          monkeypatch):  # fmt: skip
    """A worker that dies (here: an error) after writing part of the file leaves nothing: the file is kept in the
    job's own transaction, so the next try writes it once."""
    from jobs import runner

    exam, *_units = _district()
    auth.login_as("org_admin")
    job = _job_of(client.get(f"/reports/exams/{exam.code}/ranking.xlsx"))
    written = documents.ranking_xlsx
    tries = []

    def dies_once(exam, rows):
        tries.append(1)
        if len(tries) == 1:
            next(iter(rows))
            raise OSError("the worker's disk went away")
        return written(exam, rows)

    monkeypatch.setattr(documents, "ranking_xlsx", dies_once)
    with pytest.raises(runner.Retry):
        runner.execute(job.id)
    assert _db.session.get(Job, job.id).state == JobState.RETRYING
    assert _db.session.scalar(select(StoredFile.id).where(StoredFile.job_id == job.id)) is None
    assert runner.execute(job.id) == JobState.DONE
    assert len(tries) == 2
    assert _names(_download(client, job)) == ["镇内甲", "镇外丙", "镇内乙", "镇外丁"]


def test_the_job_writes_in_the_language_of_the_person_who_asked(app, db, client, auth, low_limit):
    exam, *_units = _district()
    person = auth.login_as("org_admin")
    person.locale = "en"
    _db.session.commit()
    job = _job_of(client.get(f"/reports/exams/{exam.code}/ranking.xlsx"))
    sheet = load_workbook(io.BytesIO(_download(client, job))).active
    assert sheet.title == "Ranking" and [c.value for c in sheet[1]][:2] == ["Placing", "Tied"]
    assert job.result["message"] == "4 rows exported."


def test_a_results_file_closes_to_a_reader_in_conflict_the_owner_included(
    app, db, client, auth, low_limit, monkeypatch
):
    """A ranking export is read through the jobs pages at every download under the rules of the results: someone who
    now sits the exam (here: the owner, as core.policy.conflict would say) neither lists nor downloads it; another
    district admin, not in conflict, still does."""
    exam, *_rest = _district()
    owner = auth.login_as("org_admin")
    job = _job_of(client.get(f"/reports/exams/{exam.code}/ranking.xlsx"))
    assert _download(client, job)
    token = _db.session.scalar(select(StoredFile.token).where(StoredFile.job_id == job.id))
    monkeypatch.setattr("reports.exports.policy.conflict", lambda user, **_kw: user.id == owner.id)
    assert client.get(f"/jobs/{job.id}/status").get_json()["result"]["files"] == []
    assert client.get(f"/jobs/{job.id}/files/{token}").status_code == 404
    auth.logout()
    auth.login_as("system_admin")
    assert len(client.get(f"/jobs/{job.id}/status").get_json()["result"]["files"]) == 1
    assert client.get(f"/jobs/{job.id}/files/{token}").status_code == 200
