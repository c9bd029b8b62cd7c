"""The exam engine's work on the job engine (exam.jobs): the papers drawn at publishing as a job, in batches that a
second run never repeats, and the finalizer as the workers' periodic work."""

import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from accounts.models import User
from core.audit import AuditEvent
from core.extensions import db as _db
from core.models import now_utc
from core.policy import Role
from exam import attempts, definition, jobs, papers, publishing
from exam.models import Attempt, AttemptStatus, Exam, Paper, PaperItem
from jobs import engine, registry, runner, sweep
from jobs.models import Job, JobState
from question_bank.models import Question
from tests.exam.test_engine import fill_bank, make_exam
from tests.factories import make_bank, make_cadre, make_unit, make_user


def _district(n: int, code: str = "JOB1", opens_in=timedelta(days=1), twin: str | None = None):
    """A unit of `n` cadres and an exam (or two alike) drawing three of six questions for each of them."""
    bank = make_bank(code="QB")
    fill_bank(bank, n=6)
    unit = make_unit(code="TOWN")
    for _ in range(n):
        make_cadre(unit=unit)
    now = now_utc()
    exams = [
        make_exam(
            bank,
            code=c,
            opens_at=now + opens_in,
            closes_at=now + opens_in + timedelta(hours=3),
            eligibility={"unit_ids": [unit.id]},
        )  # fmt: skip
        for c in [code, twin]
        if c
    ]
    _db.session.commit()
    return exams


def _papers_per_user(exam: Exam) -> Counter:
    _db.session.expire_all()
    return Counter(_db.session.scalars(select(Paper.user_id).where(Paper.exam_id == exam.id)))


def _items_per_paper(exam: Exam) -> Counter:
    rows = _db.session.execute(
        select(func.count(PaperItem.id), func.count(func.distinct(PaperItem.question_version_id)))
        .join(Paper, PaperItem.paper_id == Paper.id)
        .where(Paper.exam_id == exam.id)
        .group_by(Paper.id)
    )
    return Counter(tuple(row) for row in rows)


def _exposure() -> int:
    return _db.session.scalar(select(func.sum(Question.exposure_count))) or 0


def _jobs(exam: Exam) -> list[Job]:
    _db.session.expire_all()
    return list(
        _db.session.scalars(select(Job).where(Job.kind == jobs.PREPARE_PAPERS).order_by(Job.id))
    )  # fmt: skip


def test_publishing_from_the_page_draws_one_paper_each_through_the_job_as_before(client, auth, db):
    exam, twin = _district(300, twin="TWIN")
    assert publishing.publish(make_user(roles=(Role.ORG_ADMIN,)), twin, now_utc()) == 300  # in one transaction
    db.session.commit()
    admin = auth.login_as("org_admin")
    response = client.post_form(f"/exams/{exam.code}/publish")
    [job] = _jobs(exam)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/jobs/{job.id}")
    assert (job.state, job.done, job.total, job.result["drawn"]) == (JobState.DONE, 300, 300, 300)
    assert job.created_by_id == admin.id and job.params == {"exam_id": exam.id}
    assert job.result["url"] == f"/exams/{exam.code}/"
    per_user = _papers_per_user(exam)
    assert len(per_user) == 300 and set(per_user.values()) == {1}
    assert set(per_user) == set(_papers_per_user(twin))  # the same candidates as publishing in one transaction
    assert _items_per_paper(exam) == _items_per_paper(twin) == Counter({(3, 3): 300})  # 3 different questions
    assert _exposure() == 2 * 300 * 3  # each question counted once per paper that uses it
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "exam.published", AuditEvent.target == f"exam:{exam.code}"
    )) == 1  # fmt: skip
    assert db.session.get(Exam, exam.id).status == "published"
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "300 / 300" in page and f"/exams/{exam.code}/" in page


class Killed(BaseException):
    """A worker killed with -9: nothing after it runs (not even the runner's bookkeeping)."""


def test_a_worker_killed_after_a_batch_keeps_it_and_the_next_run_draws_only_the_rest(app, db, queued_jobs,
                                                                                     monkeypatch):  # fmt: skip
    [exam] = _district(300)
    admin = make_user(roles=(Role.ORG_ADMIN,))
    publishing.publish(admin, exam, now_utc(), draw=False)
    job = jobs.prepare_later(exam, admin)
    db.session.commit()
    assert _papers_per_user(exam) == Counter()
    store, batches = papers.store, []

    def killed_at_the_second_batch(drawn, now):
        batches.append(len(drawn))
        if len(batches) == 2:
            raise Killed()
        return store(drawn, now)

    monkeypatch.setattr(papers, "store", killed_at_the_second_batch)
    with pytest.raises(Killed):
        runner.execute(job.id)
    db.session.rollback()
    assert batches == [papers.BATCH, 300 - papers.BATCH]
    assert len(_papers_per_user(exam)) == papers.BATCH  # the first batch was committed
    assert _exposure() == papers.BATCH * 3
    assert db.session.get(Job, job.id).state == JobState.RUNNING  # as a killed worker leaves it
    monkeypatch.setattr(papers, "store", store)

    queued_jobs.put(f"job-progress:{job.id}", {**engine.progress_of(job.id), "at": time.time() - 600})
    queued_jobs.put(f"job-beat:{job.id}", time.time() - 600)  # its run's heartbeat died with the worker
    ten_minutes_ago = now_utc() - timedelta(minutes=10)
    db.session.execute(Job.__table__.update().where(Job.id == job.id).values(started_at=ten_minutes_ago))
    db.session.commit()
    assert sweep.run()["recovered"] == 1  # the minute's sweep takes it back ...
    engine.run_pending()  # ... and a worker runs it again
    job = db.session.get(Job, job.id)
    assert (job.state, job.attempts, job.result["drawn"], job.total) == (JobState.DONE, 2, 300 - papers.BATCH, 100)
    per_user = _papers_per_user(exam)
    assert len(per_user) == 300 and set(per_user.values()) == {1}
    assert _items_per_paper(exam) == Counter({(3, 3): 300})
    assert _exposure() == 300 * 3

    again = jobs.prepare_later(exam, admin)  # run once more (`exams prepare`, the page's button): nothing to add
    db.session.commit()
    engine.run_pending()
    again = db.session.get(Job, again.id)
    assert (again.state, again.result["drawn"]) == (JobState.DONE, 0)
    assert sum(_papers_per_user(exam).values()) == 300 and _exposure() == 300 * 3


def test_a_batch_that_meets_a_paper_drawn_at_a_start_draws_the_others(app, db):
    [exam] = _district(3, opens_in=-timedelta(minutes=5))
    publishing.publish(make_user(roles=(Role.ORG_ADMIN,)), exam, now_utc(), draw=False)
    user_ids = papers.papers_wanted(exam, now_utc())
    first = attempts.start_attempt(exam, db.session.get(User, user_ids[0]), now_utc())
    assert papers.draw_first_papers(exam, user_ids, now_utc()) == 2  # the started one keeps the paper it has
    per_user = _papers_per_user(exam)
    assert per_user == Counter({uid: 1 for uid in user_ids})
    assert db.session.get(Attempt, first.id).paper.user_id == user_ids[0]


def test_the_exam_page_follows_the_drawing_and_a_start_meanwhile_gets_its_paper(client, auth, db, queued_jobs):
    [exam] = _district(3, opens_in=-timedelta(minutes=5))
    auth.login_as("org_admin")
    assert client.post_form(f"/exams/{exam.code}/publish").status_code == 302
    [job] = _jobs(exam)
    assert job.state == JobState.QUEUED and _papers_per_user(exam) == Counter()
    page = client.get(f"/exams/{exam.code}/").get_data(as_text=True)
    assert 'id="papers-job"' in page and f'id="job-{job.id}"' in page and "/static/js/jobs." in page
    assert client.get(f"/jobs/{job.id}/status").get_json()["state"] == JobState.QUEUED

    # A candidate starts before the job has run: the paper is drawn at the start, and the job leaves it alone.
    sitter_id = min(eligible := papers.papers_wanted(db.session.get(Exam, exam.id), now_utc()))
    exam = db.session.get(Exam, exam.id)
    attempt = attempts.start_attempt(exam, db.session.get(User, sitter_id), now_utc())
    db.session.commit()
    paper_id = attempt.paper_id
    engine.run_pending()
    job = db.session.get(Job, job.id)
    assert (job.state, job.result["drawn"]) == (JobState.DONE, 2)
    assert _papers_per_user(exam) == Counter({uid: 1 for uid in eligible})
    assert db.session.get(Attempt, attempt.id).paper_id == paper_id
    assert 'id="papers-job"' not in client.get(f"/exams/{exam.code}/").get_data(as_text=True)


def test_a_failed_drawing_shows_on_the_exam_page_with_a_button_to_draw_again(client, auth, db, queued_jobs):
    [exam] = _district(2)
    auth.login_as("org_admin")
    client.post_form(f"/exams/{exam.code}/publish")
    [job] = _jobs(exam)
    job.state, job.error, job.finished_at = JobState.FAILED, "the worker stopped during the job", now_utc()
    db.session.commit()
    page = client.get(f"/exams/{exam.code}/").get_data(as_text=True)
    assert "the worker stopped during the job" in page and f"/exams/{exam.code}/prepare" in page
    response = client.post_form(f"/exams/{exam.code}/prepare")
    second = _jobs(exam)[-1]
    assert second.id != job.id and response.headers["Location"].endswith(f"/jobs/{second.id}")
    engine.run_pending()
    assert len(_papers_per_user(exam)) == 2


def test_taking_the_exam_back_to_draft_before_the_job_runs_draws_nothing(client, auth, db, queued_jobs):
    [exam] = _district(3)
    auth.login_as("org_admin")
    client.post_form(f"/exams/{exam.code}/publish")
    client.post_form(f"/exams/{exam.code}/withdraw")
    assert db.session.get(Exam, exam.id).status == "draft"
    engine.run_pending()
    [job] = _jobs(exam)
    assert (job.state, job.result["drawn"]) == (JobState.DONE, 0)
    assert _papers_per_user(exam) == Counter() and _exposure() == 0


def test_the_workers_finalize_overdue_attempts_once_a_minute(app, db, queued_jobs):
    work = {w.name: w for w in registry.periodic_work()}
    assert work[jobs.FINALIZE_OVERDUE].every == 60
    [exam] = _district(2, opens_in=-timedelta(hours=2))
    publishing.publish(make_user(roles=(Role.ORG_ADMIN,)), exam, now_utc() - timedelta(hours=3))
    first, second = db.session.scalars(select(Paper).where(Paper.exam_id == exam.id).order_by(Paper.id)).all()
    started = now_utc() - timedelta(hours=1)

    def sit(paper, deadline):
        db.session.add(Attempt(exam_id=exam.id, user_id=paper.user_id, number=1, paper_id=paper.id,
                               started_at=started, deadline_at=deadline))  # fmt: skip

    sit(first, now_utc() - timedelta(minutes=5))  # overdue
    sit(second, now_utc() + timedelta(minutes=30))  # still sitting
    db.session.commit()
    report = sweep.run()
    assert jobs.FINALIZE_OVERDUE in report["periodic"]
    db.session.expire_all()
    statuses = dict(db.session.execute(select(Attempt.paper_id, Attempt.status)).all())
    assert statuses == {first.id: AttemptStatus.EXPIRED, second.id: AttemptStatus.IN_PROGRESS}

    still = db.session.scalar(select(Attempt).where(Attempt.paper_id == second.id))
    still.deadline_at = now_utc() - timedelta(minutes=5)  # overdue now too
    db.session.commit()
    assert jobs.FINALIZE_OVERDUE not in sweep.run()["periodic"]  # not again within the minute
    db.session.expire_all()
    assert db.session.scalar(select(Attempt.status).where(Attempt.paper_id == second.id)) == AttemptStatus.IN_PROGRESS


def test_the_command_line_draws_with_a_progress_bar_and_records_the_job(runner, db):
    make_user(username="root", roles=(Role.SYSTEM_ADMIN,))
    [exam] = _district(3)
    result = runner.invoke(args=["exams", "publish", exam.code])
    assert result.exit_code == 0, result.output
    assert f"{exam.code}: drawing papers" in result.output  # click's bar (a terminal also shows the count)
    assert result.output.strip().endswith(f"Exam {exam.code} published; 3 paper(s) drawn.")
    [job] = _jobs(exam)
    assert (job.state, job.done, job.total, job.created_by.username) == (JobState.DONE, 3, 3, "root")
    assert (
        runner.invoke(args=["exams", "prepare", exam.code])
        .output.strip()
        .endswith(f"0 paper(s) drawn for {exam.code}.")
    )


def test_a_withdrawal_during_a_batch_waits_for_it_and_discards_its_papers(app, db, monkeypatch):
    """The batch writes under the exam's lock (papers.hold_exam): a withdrawal that comes meanwhile waits for the
    batch's commit, then discards its papers with the others. (PostgreSQL runs the two really side by side, and
    fails this without the lock; SQLite's one writer makes the withdrawal wait for the batch's write lock.)"""
    import threading

    from tests.exam.test_concurrency import run_threads

    [exam] = _district(4)
    admin = make_user(roles=(Role.ORG_ADMIN,))
    publishing.publish(admin, exam, now_utc(), draw=False)
    db.session.commit()
    exam_id, admin_id, at = exam.id, admin.id, now_utc()
    todo = papers.papers_wanted(exam, at)
    writing, store = threading.Event(), papers.store

    def slow_store(drawn, now):
        writing.set()
        time.sleep(0.5)  # the withdrawal asks for the exam now, before the batch's inserts ...
        return store(drawn, now)

    monkeypatch.setattr(papers, "store", slow_store)

    def work(i):
        exam = _db.session.get(Exam, exam_id)
        if i == 0:
            assert jobs._draw_batch(exam, todo[:2], at, {}, None) == 2
        else:
            assert writing.wait(10)
            definition.withdraw(_db.session.get(User, admin_id), exam, at)  # ... and waits for the batch

    assert run_threads(app, work, 2) == []
    db.session.expire_all()
    exam = db.session.get(Exam, exam_id)
    assert exam.status == "draft" and _papers_per_user(exam) == Counter() and _exposure() == 0


def test_a_batch_after_a_withdrawal_draws_nothing_and_the_job_stops(app, db):
    [exam] = _district(3)
    admin = make_user(roles=(Role.ORG_ADMIN,))
    publishing.publish(admin, exam, now_utc(), draw=False)
    todo = papers.papers_wanted(exam, now_utc())
    definition.withdraw(admin, exam, now_utc())
    with pytest.raises(jobs._Stopped):
        jobs._draw_batch(exam, todo, now_utc(), {}, None)
    assert _papers_per_user(exam) == Counter()


def test_new_rules_draw_a_few_papers_at_once_and_leave_many_to_the_job(app, db, monkeypatch):
    from exam import eligibility

    monkeypatch.setattr(papers, "BATCH", 3)
    [exam] = _district(2)
    admin = make_user(roles=(Role.ORG_ADMIN,))
    publishing.publish(admin, exam, now_utc())
    db.session.commit()
    town = exam.eligibility["unit_ids"][0]
    few, many = make_unit(code="FEW"), make_unit(code="MANY")
    for unit, n in ((few, 2), (many, 5)):
        for _ in range(n):
            make_cadre(unit=unit)
    db.session.commit()

    assert definition.set_eligibility(admin, exam, {"unit_ids": [town, few.id]}, now_utc()) == 2  # at once
    assert jobs.preparing(exam) is None
    db.session.commit()
    assert len(_papers_per_user(exam)) == 4 and _jobs(exam) == []

    exam = db.session.get(Exam, exam.id)
    assert definition.set_eligibility(admin, exam, {"unit_ids": [town, few.id, many.id]}, now_utc()) == 0
    assert jobs.preparing(exam) is not None and len(_papers_per_user(exam)) == 4  # asked for, not drawn here
    db.session.commit()  # the job runs (TestConfig: right after the commit)
    [job] = _jobs(exam)
    assert (job.state, job.result["drawn"]) == (JobState.DONE, 5)
    per_user = _papers_per_user(exam)
    assert len(per_user) == 9 and set(per_user.values()) == {1}

    # One person added by hand gets their own paper at once, and nobody else's is drawn with it.
    outsider = make_cadre(unit=make_unit(code="ELSE"))
    waiting = make_cadre(unit=many)  # eligible, no paper yet
    db.session.commit()
    exam = db.session.get(Exam, exam.id)
    eligibility.set_candidate(admin, exam, outsider.user, now_utc(), included=True)
    db.session.commit()
    per_user = _papers_per_user(exam)
    assert per_user[outsider.user_id] == 1 and waiting.user_id not in per_user and len(_jobs(exam)) == 1


def test_a_job_that_waits_is_asked_for_once_and_a_running_one_gets_a_successor(app, db, queued_jobs):
    [exam] = _district(2)
    admin = make_user(roles=(Role.ORG_ADMIN,))
    publishing.publish(admin, exam, now_utc(), draw=False)
    first = jobs.prepare_later(exam, admin)
    assert jobs.prepare_later(exam, admin).id == first.id
    first.state = JobState.RUNNING  # it listed its candidates already: people added since need another run
    assert jobs.prepare_later(exam, admin).id != first.id
