"""Grading off the submit request (issue 23): a candidate's submit records the end and leaves grading to the exam's
job; the candidate sees "being graded" until it has run; nothing waits long whatever the workers do."""

from datetime import timedelta

from sqlalchemy import func, select

from accounts.services import create_api_token
from core.models import now_utc
from exam import attempts, verification
from exam import jobs as exam_jobs
from exam.models import Answer, Attempt, AttemptStatus
from jobs import engine
from jobs.models import Job, JobState
from tests.factories import make_cadre, make_open_exam


def _sit(client, db, exam, user, answer=True):
    token = create_api_token(user, "t", now_utc())
    db.session.commit()
    auth = {"Authorization": f"Bearer {token}"}
    paper = client.post(f"/api/v1/exams/{exam.code}/attempts", headers=auth, json={}).get_json()
    if answer:
        single = next(i["position"] for i in paper["items"] if i["type"] == "single")
        client.put(f"/api/v1/attempts/{paper['id']}/answers/{single}", headers=auth, json={"value": 0, "seq": 1})
    return paper["id"], auth


def _graded_jobs(db):
    return db.session.scalars(select(Job).where(Job.kind == exam_jobs.GRADE).order_by(Job.id)).all()


def test_the_submit_leaves_grading_to_a_job_and_the_candidate_sees_it_being_graded(client, db, queued_jobs):
    exam, user = make_open_exam(code="GL1", qtypes=("single", "truefalse"))
    attempt_id, auth = _sit(client, db, exam, user)
    done = client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=auth)
    assert done.status_code == 200
    body = done.get_json()
    assert body["status"] == "submitted"
    assert body["result"]["grading"] is True and body["result"]["score"] is None
    assert body["result"]["fully_graded"] is False
    attempt = db.session.get(Attempt, attempt_id)
    assert attempt.graded_at is None and attempt.awaits_grading
    # Nothing is graded yet: no answer has points, the unanswered item has no row.
    assert db.session.scalar(select(func.count()).where(Answer.attempt_id == attempt_id,
                                                        Answer.points.is_not(None))) == 0  # fmt: skip
    # A read before the wait is over does not grade (the job will).
    read = client.get(f"/api/v1/attempts/{attempt_id}", headers=auth).get_json()
    assert read["result"]["grading"] is True
    # The result page says so, and reloads itself.
    assert [j.state for j in _graded_jobs(db)] == [JobState.QUEUED]
    engine.run_pending()
    db.session.expire_all()
    attempt = db.session.get(Attempt, attempt_id)
    assert attempt.graded_at is not None and attempt.fully_graded and attempt.score is not None
    assert _graded_jobs(db)[0].state == JobState.DONE and _graded_jobs(db)[0].result["graded"] == 1
    after = client.get(f"/api/v1/attempts/{attempt_id}", headers=auth).get_json()["result"]
    assert after["grading"] is False and after["fully_graded"] is True and after["score"] == attempt.score
    # Every item has its row and points once graded (the unanswered one too).
    assert db.session.scalar(select(func.count()).where(Answer.attempt_id == attempt_id,
                                                        Answer.points.is_not(None))) == 2  # fmt: skip


def test_the_result_page_shows_being_graded_and_reloads(client, db, queued_jobs, auth):
    exam, user = make_open_exam(code="GL2", qtypes=("single",))
    attempt_id, api_auth = _sit(client, db, exam, user)
    client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=api_auth)
    auth.login(user.username)
    page = client.get(f"/my/attempts/{attempt_id}/result")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="grading"' in html and 'http-equiv="refresh"' in html
    assert 'class="score"' not in html
    engine.run_pending()
    html = client.get(f"/my/attempts/{attempt_id}/result").get_data(as_text=True)
    assert 'id="grading"' not in html and 'http-equiv="refresh"' not in html and 'class="score"' in html


def test_a_burst_of_submits_asks_for_one_job_that_grades_them_all(client, db, queued_jobs):
    exam, first = make_open_exam(code="GL3", qtypes=("single", "truefalse"))
    people = [first] + [make_cadre(unit=first.cadre.unit).user for _ in range(5)]
    db.session.commit()
    sat = [_sit(client, db, exam, user, answer=i % 2 == 0) for i, user in enumerate(people)]
    for attempt_id, auth in sat:
        assert client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=auth).status_code == 200
    assert len(_graded_jobs(db)) == 1  # one waits for the exam, however many submit meanwhile
    engine.run_pending()
    db.session.expire_all()
    graded = db.session.scalars(select(Attempt).where(Attempt.exam_id == exam.id)).all()
    assert len(graded) == 6 and all(a.graded_at is not None and a.fully_graded for a in graded)
    # Each score is what grading the stored paper and answers again gives (the options are shuffled per paper).
    summary = verification.verify_scores([exam])
    assert summary.attempts == 6 and not summary.differences
    assert sum(a.score == 0 for a in graded) >= 3  # the three who answered nothing
    # A submit after the job ran asks for a new one.
    late = make_cadre(unit=first.cadre.unit).user
    db.session.commit()
    attempt_id, auth = _sit(client, db, exam, late)
    client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=auth)
    assert [j.state for j in _graded_jobs(db)] == [JobState.DONE, JobState.QUEUED]


def test_with_no_worker_a_read_grades_once_the_job_has_kept_it_waiting(app, client, db, queued_jobs):
    exam, user = make_open_exam(code="GL4", qtypes=("single", "truefalse"))
    attempt_id, auth = _sit(client, db, exam, user)
    client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=auth)
    app.config["EXAM_GRADING_WAIT_SECONDS"] = 0  # (10 s by default): the wait is over at once
    try:
        result = client.get(f"/api/v1/attempts/{attempt_id}", headers=auth).get_json()["result"]
    finally:
        app.config["EXAM_GRADING_WAIT_SECONDS"] = 10
    assert result["grading"] is False and result["score"] is not None and result["fully_graded"] is True
    assert not verification.verify_scores([exam]).differences
    # The job, when a worker runs it at last, finds nothing left to grade.
    engine.run_pending()
    assert _graded_jobs(db)[0].state == JobState.DONE and _graded_jobs(db)[0].result["graded"] == 0


def test_the_finalizer_grades_what_the_job_kept_waiting(client, db, queued_jobs):
    exam, user = make_open_exam(code="GL5", qtypes=("single",))
    attempt_id, auth = _sit(client, db, exam, user)
    client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=auth)
    ended = db.session.get(Attempt, attempt_id).ended_at
    assert exam_jobs.finalize_overdue_each(ended + timedelta(seconds=5)) == 0  # not waited long enough yet
    assert db.session.get(Attempt, attempt_id).awaits_grading
    exam_jobs.finalize_overdue_each(ended + attempts.grading_wait() + timedelta(seconds=1))
    db.session.expire_all()
    attempt = db.session.get(Attempt, attempt_id)
    assert not attempt.awaits_grading and attempt.score is not None and attempt.fully_graded


def test_the_submits_refusals_hold_and_a_resubmit_is_harmless(client, db, queued_jobs):
    exam, user = make_open_exam(code="GL6", qtypes=("single",))
    attempt_id, auth = _sit(client, db, exam, user)
    other = make_cadre(unit=user.cadre.unit).user
    db.session.commit()
    other_token = create_api_token(other, "t", now_utc())
    db.session.commit()
    stranger = {"Authorization": f"Bearer {other_token}"}
    assert client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=stranger).status_code == 404  # not theirs
    client.post(f"/api/v1/attempts/{attempt_id}/claim", headers=auth, json={"client": "pageAAAAAAAA"})
    taken = client.post(f"/api/v1/attempts/{attempt_id}/submit",
                        headers={**auth, "X-Exam-Client": "pageBBBBBBBB"})  # fmt: skip
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "taken_over"
    assert db.session.get(Attempt, attempt_id).status == AttemptStatus.IN_PROGRESS and not _graded_jobs(db)
    assert client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=auth).status_code == 200
    again = client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=auth)
    assert again.status_code == 200 and len(_graded_jobs(db)) == 1  # harmless twice: no second job
    saved = client.put(f"/api/v1/attempts/{attempt_id}/answers/1", headers=auth, json={"value": 1, "seq": 9})
    assert saved.status_code == 409 and saved.get_json()["error"]["code"] == "attempt_ended"


def test_verify_leaves_out_an_attempt_waiting_for_its_grading(client, db, queued_jobs):
    exam, user = make_open_exam(code="GL7", qtypes=("single",))
    attempt_id, auth = _sit(client, db, exam, user)
    client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=auth)
    summary = verification.verify_scores([exam])
    assert summary.attempts == 0 and not summary.differences  # no score to check yet, and none called wrong
    engine.run_pending()
    summary = verification.verify_scores([exam])
    assert summary.attempts == 1 and not summary.differences


def test_grading_jobs_running_side_by_side_share_the_exams_attempts(app, client, db, queued_jobs):
    """Two workers' grading jobs of one exam at once: each attempt is graded by one of them, and (PostgreSQL) one
    that another transaction holds is passed over at once, not waited for."""
    from core.extensions import db as database
    from exam.models import Exam
    from tests.exam.test_concurrency import run_threads

    exam, first = make_open_exam(code="GL8", qtypes=("single", "truefalse"))
    people = [first] + [make_cadre(unit=first.cadre.unit).user for _ in range(11)]
    db.session.commit()
    for user in people:
        attempt_id, auth = _sit(client, db, exam, user)
        assert client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=auth).status_code == 200
    exam_id, counts = exam.id, []

    def grade(_i):
        counts.append(exam_jobs.grade_waiting_each(now_utc(), database.session.get(Exam, exam_id)))

    assert run_threads(app, grade, 2) == []
    assert sum(counts) == 12  # none graded twice
    db.session.expire_all()
    assert not attempts.grading_due(now_utc(), exam)
    assert not verification.verify_scores([exam]).differences
    if database.engine.dialect.name != "postgresql":
        return  # SQLite has one writer and no row locks: nothing is held while another grades
    late = make_cadre(unit=first.cadre.unit).user
    db.session.commit()
    attempt_id, auth = _sit(client, db, exam, late)
    client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=auth)
    with database.engine.connect() as other:  # another job grading it at this moment
        other.execute(select(Attempt.id).where(Attempt.id == attempt_id).with_for_update())
        assert exam_jobs.grade_waiting_each(now_utc(), exam) == 0  # passed over, and at once (no lock timeout)
        other.rollback()
    assert exam_jobs.grade_waiting_each(now_utc(), exam) == 1
