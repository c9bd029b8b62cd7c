"""The item analysis and the kept ranking as jobs: the same figures as computed inline, progress to the end, one
job per exam at a time, the same rights as the pages, and the pages while a job works (or no worker runs)."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.extensions import db as _db
from core.policy import Role
from jobs import engine
from jobs.models import Job, JobState
from reports import items, ranking
from reports.jobs import ITEM_ANALYSIS, RANKING
from reports.models import ExamAnalysis, RankSet
from tests.factories import PASSWORD, make_cadre, make_unit, make_user
from tests.reports.test_reports import T0, exam_of, sit

PATTERNS = [(0, 0, 0), (0, 0, 2), (0, 1, 1), (1, 3, None), (0, 0, 1), (2, 0, 0), (0, 2, 0)]


def _sat(n=None, code="J1"):
    exam = exam_of(code=code)
    unit = make_unit()
    for i, pattern in enumerate(PATTERNS[:n]):
        sit(exam, make_cadre(unit=unit), pattern, start_minute=i, minutes=10 + i)
    _db.session.commit()
    return exam, unit


def _jobs(kind):
    return _db.session.scalars(select(Job).where(Job.kind == kind).order_by(Job.id)).all()


def _plain(data):
    return json.loads(json.dumps(data))  # as kept in the JSON column


# ---------------------------------------------------------------- item analysis


def test_the_job_keeps_the_analysis_the_inline_function_computes_with_progress_to_the_end(app, client, auth):
    exam, _unit = _sat()
    expected = _plain(items.compute(exam))
    admin = auth.login_as("org_admin")
    response = client.post_form(f"/reports/exams/{exam.code}/items/refresh")
    [job] = _jobs(ITEM_ANALYSIS)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/jobs/{job.id}")
    assert (job.state, job.params, job.created_by_id) == (JobState.DONE, {"exam_id": exam.id}, admin.id)
    assert (job.done, job.total) == (len(PATTERNS), len(PATTERNS))
    assert job.result["url"] == f"/reports/exams/{exam.code}/items"
    kept = _db.session.get(ExamAnalysis, exam.id)
    assert kept.data == expected and kept.attempts == len(PATTERNS)
    assert kept.fingerprint == items.fingerprint(exam)
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert f"/reports/exams/{exam.code}/items" in page


def test_batches_of_candidates_add_up_to_the_one_query(app, db, monkeypatch):
    exam, _unit = _sat()
    whole = items.compute(exam)
    monkeypatch.setattr(items, "BATCH_MIN", 2)
    steps = []
    batched = items.compute(exam, progress=lambda done, total: steps.append((done, total)))
    assert steps == [(0, 7), (2, 7), (4, 7), (6, 7), (7, 7)]
    assert batched["n"] == whole["n"] == 7 and batched["flagged"] == whole["flagged"]
    assert batched["reliability"] == pytest.approx(whole["reliability"])
    for got, want in zip(batched["items"], whole["items"], strict=True):
        assert got["options"] == want["options"] and got["omitted"] == want["omitted"]
        for key in ("n", "mean", "facility", "variance", "point_biserial", "discrimination_index"):
            assert got[key] == pytest.approx(want[key]), key


def test_a_second_click_while_it_runs_follows_the_running_job(app, client, auth, queued_jobs):
    exam, _unit = _sat()
    auth.login_as("org_admin")
    first = client.post_form(f"/reports/exams/{exam.code}/items/refresh")
    second = client.post_form(f"/reports/exams/{exam.code}/items/refresh", follow_redirects=True)
    [job] = _jobs(ITEM_ANALYSIS)
    assert first.headers["Location"].endswith(f"/jobs/{job.id}") and job.state == JobState.QUEUED
    assert "已在计算" in second.get_data(as_text=True) and second.request.path == f"/jobs/{job.id}"
    page = client.get(f"/reports/exams/{exam.code}/items").get_data(as_text=True)
    assert 'id="analysis-computing"' in page and f"/jobs/{job.id}/status" in page
    assert f"/reports/exams/{exam.code}/items/refresh" not in page  # no second start from the page
    assert _db.session.get(ExamAnalysis, exam.id) is None  # the page computed nothing itself meanwhile
    assert engine.run_pending() == 1
    _db.session.expire_all()
    assert _db.session.get(Job, job.id).state == JobState.DONE
    page = client.get(f"/reports/exams/{exam.code}/items").get_data(as_text=True)
    assert 'id="analysis-computing"' not in page and f"/reports/exams/{exam.code}/items/refresh" in page


def test_cancelling_keeps_the_previous_analysis(app, client, auth, queued_jobs, monkeypatch):
    exam, _unit = _sat()
    auth.login_as("org_admin")
    client.get(f"/reports/exams/{exam.code}/items")  # a small exam: computed on opening the page
    before = _db.session.get(ExamAnalysis, exam.id).computed_at
    client.post_form(f"/reports/exams/{exam.code}/items/refresh")
    [job] = _jobs(ITEM_ANALYSIS)
    engine.request_cancel(job.id)  # as the cancel button does for a running job
    monkeypatch.setattr("jobs.runner.PROGRESS_EVERY", 0)
    engine.run_pending()
    _db.session.expire_all()
    assert _db.session.get(Job, job.id).state == JobState.CANCELLED
    assert _db.session.get(ExamAnalysis, exam.id).computed_at == before


def _login(client, user):
    assert client.post_form("/login", {"username": user.username, "password": PASSWORD}).status_code == 302


@pytest.mark.usefixtures("clock_before_t0")
@pytest.mark.parametrize("who", ["unit_admin", "cadre_author", "district_candidate"])
def test_who_may_not_see_the_analysis_cannot_start_it(app, client, who):
    exam, unit = _sat()
    if who == "unit_admin":
        user = make_user(roles=(Role.UNIT_ADMIN,), unit=unit)
        expected = 403
    elif who == "cadre_author":
        user = make_user(roles=(Role.CADRE, Role.AUTHOR))
        make_cadre(unit=unit, user=user)
        expected = 403
    else:  # a district admin who sits the exam: kept from its questions (a conflict of interest)
        user = make_user(roles=(Role.ORG_ADMIN, Role.CADRE))
        cadre = make_cadre(unit=unit, user=user)
        sit(exam, cadre, (0, 0, 0), start_minute=30, minutes=5)
        expected = 403
    _db.session.commit()
    _login(client, user)
    assert client.post_form(f"/reports/exams/{exam.code}/items/refresh").status_code == expected
    assert client.get(f"/reports/exams/{exam.code}/items").status_code == expected
    assert _jobs(ITEM_ANALYSIS) == []


def test_the_command_line_runs_the_job_with_a_progress_bar(app, runner):
    exam, _unit = _sat()
    result = runner.invoke(args=["reports", "analyse", exam.code])
    assert result.exit_code == 0, result.output
    assert f"{exam.code}: 7 candidates, 3 questions" in result.output
    assert "题目分析" in result.stderr  # click draws the bar itself only on a terminal: its label here
    [job] = _jobs(ITEM_ANALYSIS)
    assert (job.state, job.done, job.total, job.created_by_id) == (JobState.DONE, 7, 7, None)
    assert runner.invoke(args=["reports", "analyse", "NOPE"]).exit_code != 0


# ---------------------------------------------------------------- the kept ranking


@pytest.fixture
def large(app, monkeypatch):
    """Every exam counts as large: its ranking is recomputed by a job, not by the page."""
    monkeypatch.setitem(app.config, "REPORTS_LIVE_RANKING_LIMIT", 3)


def test_a_small_exam_is_ranked_on_opening_the_page_without_a_job(app, client, auth, queued_jobs):
    exam, unit = _sat(n=3)
    auth.login_as("org_admin")
    client.get(f"/reports/exams/{exam.code}/ranking")
    sit(exam, make_cadre(unit=unit, name="后来者"), (0, 0, 0), start_minute=20, minutes=5)
    _db.session.commit()
    page = client.get(f"/reports/exams/{exam.code}/ranking").get_data(as_text=True)
    assert "后来者" in page and 'id="ranking-updating"' not in page and _jobs(RANKING) == []


def test_a_large_exam_shows_the_last_ranking_while_one_job_updates_it(app, client, auth, queued_jobs, large):
    exam, unit = _sat(n=4)
    admin = auth.login_as("org_admin")
    page = client.get(f"/reports/exams/{exam.code}/ranking").get_data(as_text=True)
    assert 'id="ranking-updating"' not in page and _jobs(RANKING) == []  # never kept: ranked here
    before = ranking.score_table(exam, admin)
    sit(exam, make_cadre(unit=unit, name="后来者"), (0, 0, 0), start_minute=20, minutes=5)
    _db.session.commit()
    page = client.get(f"/reports/exams/{exam.code}/ranking").get_data(as_text=True)
    assert 'id="ranking-updating"' in page and "后来者" not in page  # the last kept ranking meanwhile
    [job] = _jobs(RANKING)
    assert job.state == JobState.QUEUED and f"/jobs/{job.id}/status" in page  # its starter follows it
    for url in ("ranking", "units", "statistics"):
        page = client.get(f"/reports/exams/{exam.code}/{url}").get_data(as_text=True)
        assert 'id="ranking-updating"' in page, url
    assert len(_jobs(RANKING)) == 1  # one job for every page that found the ranking out of date
    assert ranking.score_table(exam, admin) == before  # the figures of the kept rows, not of a new key
    assert engine.run_pending() == 1
    _db.session.expire_all()
    job = _db.session.get(Job, job.id)
    assert (job.state, job.done, job.total) == (JobState.DONE, 1, 1)
    assert job.result["url"] == f"/reports/exams/{exam.code}/ranking"
    page = client.get(f"/reports/exams/{exam.code}/ranking").get_data(as_text=True)
    assert "后来者" in page and 'id="ranking-updating"' not in page
    assert sum(n for _u, _s, n, _p in ranking.score_table(exam, admin)) == 5
    assert _db.session.get(RankSet, exam.id).ranked == 5


def test_a_viewer_who_did_not_start_it_sees_the_notice_without_the_job(app, client, queued_jobs, large):
    exam, unit = _sat(n=4)
    # Kept before the late-comer ends (a kept ranking computed after an attempt ended may hold its score, so that
    # attempt's grading asks for the job itself: reports.standing).
    ranking.kept_ranks(exam, T0 + timedelta(minutes=20))
    sit(exam, make_cadre(unit=unit, name="后来者"), (0, 0, 0), start_minute=20, minutes=5)
    starter = make_user(roles=(Role.UNIT_ADMIN,), unit=unit)  # not candidates: no conflict of interest
    other = make_user(roles=(Role.UNIT_ADMIN,), unit=unit)
    _db.session.commit()
    _login(client, starter)
    assert "/status" in client.get(f"/reports/exams/{exam.code}/ranking").get_data(as_text=True)
    client.post_form("/logout")
    _login(client, other)
    page = client.get(f"/reports/exams/{exam.code}/ranking").get_data(as_text=True)
    assert 'id="ranking-updating"' in page and "/status" not in page  # the job is its starter's
    assert len(_jobs(RANKING)) == 1


def test_without_a_worker_the_page_stops_waiting_and_ranks_itself(app, client, auth, queued_jobs, large):
    exam, unit = _sat(n=4)
    auth.login_as("org_admin")
    client.get(f"/reports/exams/{exam.code}/ranking")
    sit(exam, make_cadre(unit=unit, name="后来者"), (0, 0, 0), start_minute=20, minutes=5)
    _db.session.commit()
    assert "后来者" not in client.get(f"/reports/exams/{exam.code}/ranking").get_data(as_text=True)
    app.config["REPORTS_RANKING_WAIT"] = -1  # the job has waited longer than that for a worker
    try:
        page = client.get(f"/reports/exams/{exam.code}/ranking").get_data(as_text=True)
    finally:
        app.config["REPORTS_RANKING_WAIT"] = 60
    assert "后来者" in page
    assert len(_jobs(RANKING)) == 1
    engine.run_pending()  # the late job finds the ranking current
    _db.session.expire_all()
    assert _jobs(RANKING)[0].state == JobState.DONE and _db.session.get(RankSet, exam.id).ranked == 5


def test_with_jobs_run_at_once_the_next_page_is_current(app, client, auth, large):
    exam, unit = _sat(n=4)
    auth.login_as("org_admin")
    client.get(f"/reports/exams/{exam.code}/ranking")
    sit(exam, make_cadre(unit=unit, name="后来者"), (0, 0, 0), start_minute=20, minutes=5)
    _db.session.commit()
    client.get(f"/reports/exams/{exam.code}/ranking")  # starts the job, which runs once the request commits
    assert [j.state for j in _jobs(RANKING)] == [JobState.DONE]
    page = client.get(f"/reports/exams/{exam.code}/ranking").get_data(as_text=True)
    assert "后来者" in page and 'id="ranking-updating"' not in page
    assert _db.session.scalar(select(func.count()).select_from(Job)) == 1


def test_the_ranking_export_is_never_the_stale_one(app, client, auth, queued_jobs, large):
    exam, unit = _sat(n=4)
    auth.login_as("org_admin")
    client.get(f"/reports/exams/{exam.code}/ranking")
    sit(exam, make_cadre(unit=unit, name="后来者"), (0, 0, 0), start_minute=20, minutes=5)
    _db.session.commit()
    response = client.get(f"/reports/exams/{exam.code}/ranking.xlsx")
    assert response.status_code == 200 and _db.session.get(RankSet, exam.id).ranked == 5


def test_the_job_checks_the_rights_of_its_starter_as_they_are_when_it_runs(app, db):
    from jobs import submit

    exam, _unit = _sat(n=3)
    cadre = make_user(roles=(Role.CADRE, Role.AUTHOR))
    job = submit(ITEM_ANALYSIS, {"exam_id": exam.id}, user=cadre)  # e.g. an admin who lost the role meanwhile
    _db.session.commit()
    _db.session.expire_all()
    job = _db.session.get(Job, job.id)
    assert job.state == JobState.FAILED and job.error == "您已无权查看该考试的题目分析。"
    assert _db.session.get(ExamAnalysis, exam.id) is None


def _correct_q1(exam):
    from exam import grading

    admin = make_user(roles=(Role.ORG_ADMIN,))
    analysis = items.compute(exam)
    q1 = next(i for i in analysis["items"] if i["stem"].endswith("#1"))
    version = next(v for v, _t, _n in grading.used_versions(exam) if v.id == q1["version_id"])
    grading.correct_key(admin, exam, version, "B", "选项B才是正确答案", exam.opens_at + timedelta(hours=4))
    _db.session.commit()


def test_a_key_correction_starts_the_ranking_job_of_a_large_exam_at_once(app, db, queued_jobs, large):
    exam, _unit = _sat()
    ranking.kept_ranks(exam, exam.opens_at + timedelta(hours=3))
    _db.session.commit()
    before = ranking.results_fingerprint(exam)
    _correct_q1(exam)
    [job] = _jobs(RANKING)
    assert job.state == JobState.QUEUED and job.params == {"exam_id": exam.id}
    engine.run_pending()
    _db.session.expire_all()
    kept = _db.session.get(RankSet, exam.id)
    assert kept.fingerprint == ranking.results_fingerprint(exam) != before


def test_a_key_correction_asks_one_ranking_job_of_a_small_exam_too(app, db, queued_jobs):
    # Changed with reports.standing: the candidates' result pages read only the kept ranking (they never rank the
    # exam themselves), so a regrade asks for the job whatever the exam's size; one for all its regraded attempts.
    exam, _unit = _sat()
    ranking.kept_ranks(exam, exam.opens_at + timedelta(hours=3))
    _db.session.commit()
    _correct_q1(exam)
    [job] = _jobs(RANKING)
    assert job.state == JobState.QUEUED
