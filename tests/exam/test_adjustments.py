"""A proctor's changes to one attempt (exam/adjustments.py): an extension moves the deadline and the save window;
a pause refuses saves (409 paused) and is never finalized; a resume moves the deadline on by the pause; a forced
submit grades; a reopening passes the ORM's guards and the database's trigger (SQLite and PostgreSQL), which still
refuses a raw change of status without the count."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.errors import DomainError
from core.extensions import db
from core.models import now_utc
from core.policy import Role
from exam import adjustments, answers, attempts
from exam.models import Attempt, AttemptEvent
from tests.exam.test_immutable_records import allowed, refused
from tests.factories import make_open_exam, make_user


def _running():
    exam, candidate = make_open_exam(code="ADJ1", qtypes=("single", "essay"), release="after_close")
    proctor = make_user(username="adjproctor", roles=(Role.PROCTOR,))
    attempt = attempts.start_attempt(exam, candidate, now_utc())
    db.session.commit()
    essay = next(i.position for i in attempt.paper.items if i.section.qtype == "essay")
    return attempt, proctor, essay


def test_an_extension_moves_the_deadline_and_the_save_window(app, db):
    attempt, proctor, essay = _running()
    now = now_utc()
    old = attempt.deadline_at
    late = old + attempts.grace() + timedelta(minutes=5)  # past the old window
    with pytest.raises(DomainError) as refused_late, db.session.begin_nested():
        answers.save_answer(attempt.id, essay, "迟到", 1, late)
    assert refused_late.value.code == "deadline_passed"
    db.session.rollback()
    adjustments.extend(attempt, 10, proctor, "电脑死机", now)
    db.session.commit()
    assert attempt.deadline_at == old + timedelta(minutes=10)
    assert answers.save_answer(attempt.id, essay, "延时后作答", 2, late).accepted
    event = db.session.scalar(select(AttemptEvent).where(AttemptEvent.kind == "extended"))
    assert event.detail["minutes"] == 10 and event.detail["reason"] == "电脑死机" and event.detail["by"] == proctor.id
    with pytest.raises(DomainError):
        adjustments.extend(attempt, 0, proctor, "零", now)
    with pytest.raises(DomainError):
        adjustments.extend(attempt, 5, proctor, "   ", now)


def test_a_pause_refuses_saves_and_is_never_finalized_and_a_resume_moves_the_deadline(app, db, client, auth):
    attempt, proctor, essay = _running()
    now = now_utc()
    old = attempt.deadline_at
    adjustments.pause(attempt, proctor, "停电", now)
    db.session.commit()
    with pytest.raises(DomainError) as held, db.session.begin_nested():
        answers.save_answer(attempt.id, essay, "暂停中", 1, now + timedelta(seconds=5))
    assert (held.value.code, held.value.status) == ("paused", 409)
    db.session.rollback()
    # Through the API too, and the attempt's payload says it is paused with its time frozen.
    auth.login(attempt.user.username)
    response = client.put(f"/api/v1/attempts/{attempt.id}/answers/{essay}", json={"value": "x", "seq": 1},
                          headers={"X-CSRFToken": client.csrf_token()})  # fmt: skip
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "paused"
    body = client.get(f"/api/v1/attempts/{attempt.id}").get_json()
    assert body["paused"] is True and body["status"] == "in_progress"
    # Past its deadline (but before the exam closes), a held attempt is not finalized.
    assert attempts.finalize_overdue(old + timedelta(minutes=30)) == 0
    assert db.session.get(Attempt, attempt.id).status == "in_progress"
    held_for = timedelta(minutes=7)
    adjustments.resume(attempt, proctor, "来电", now + held_for)
    db.session.commit()
    assert attempt.paused_at is None and attempt.deadline_at == old + held_for
    assert answers.save_answer(attempt.id, essay, "恢复后", 2, now + held_for).accepted
    with pytest.raises(DomainError) as again:
        adjustments.resume(attempt, proctor, "再次", now + held_for)
    assert again.value.code == "not_paused"


def test_a_forced_submit_grades(app, db):
    attempt, proctor, essay = _running()
    single = next(i for i in attempt.paper.items if i.section.qtype == "single")
    answers.save_answer(attempt.id, single.position, 0, 1, now_utc())
    adjustments.pause(attempt, proctor, "准备收卷", now_utc())
    adjustments.force_submit(attempt, proctor, "考生离场", now_utc())
    db.session.commit()
    assert attempt.status == "submitted" and attempt.paused_at is None and attempt.ended_at is not None
    assert attempt.score is not None  # graded as a submit
    assert db.session.scalar(select(AttemptEvent.kind).where(AttemptEvent.attempt_id == attempt.id,
                                                             AttemptEvent.kind == "forced")) == "forced"  # fmt: skip


def test_a_reopening_passes_the_guards_and_the_trigger_which_still_refuse_a_raw_change(app, db):
    attempt, proctor, essay = _running()
    attempts.submit(attempt, now_utc())
    db.session.commit()
    # Raw SQL: the status back to running without the count is refused by the database; with it, allowed.
    refused(db, "UPDATE attempts SET status = 'in_progress', ended_at = NULL WHERE id = :id", id=attempt.id)
    assert allowed(db, "UPDATE attempts SET status = 'in_progress', ended_at = NULL, reopened = reopened + 1 "
                       "WHERE id = :id", id=attempt.id) == 1  # fmt: skip
    db.session.expire_all()
    attempt = db.session.get(Attempt, attempt.id)
    now = now_utc()
    adjustments.reopen(attempt, 15, proctor, "误点交卷", now)
    db.session.commit()
    db.session.expire_all()
    attempt = db.session.get(Attempt, attempt.id)
    assert (attempt.status, attempt.reopened, attempt.score) == ("in_progress", 1, None)
    assert attempt.deadline_at == now + timedelta(minutes=15)
    assert answers.save_answer(attempt.id, essay, "重开后作答", 5, now).accepted
    with pytest.raises(DomainError) as running:
        adjustments.reopen(attempt, 15, proctor, "再开", now)
    assert running.value.code == "attempt_running"
    attempts.submit(attempt, now + timedelta(minutes=1))
    db.session.commit()
    assert attempt.status == "submitted" and attempt.score is not None


def test_no_change_of_a_proctor_runs_an_attempt_past_the_exams_close(app, db):
    """The keys, the review and the end of the conflicts of interest open at the close: nobody answers then."""
    attempt, proctor, essay = _running()
    now = now_utc()
    close = attempt.exam.closes_at
    adjustments.extend(attempt, 240, proctor, "多次死机", now)  # cut short at the close
    assert attempt.deadline_at == close
    with pytest.raises(DomainError) as at_close:
        adjustments.extend(attempt, 5, proctor, "再延", now)
    assert at_close.value.code == "exam_closes"
    # A clock held across the close resumes with no time left, and the finalizer ends it after the close.
    adjustments.pause(attempt, proctor, "停电", now)
    db.session.commit()
    assert attempts.finalize_overdue(close - timedelta(minutes=1)) == 0
    assert attempts.finalize_overdue(close + attempts.grace() + timedelta(seconds=1)) == 1
    ended = db.session.get(Attempt, attempt.id)
    assert ended.status == "expired" and ended.paused_at is None and ended.ended_at <= close + attempts.grace()


def test_a_held_clock_is_not_submitted_at_the_focus_loss_limit(app, db):
    from exam.timeline import record_event

    attempt, proctor, _essay = _running()
    attempt.exam.focus_loss_limit = 1
    now = now_utc()
    adjustments.pause(attempt, proctor, "检查设备", now)
    record_event(attempt, "focus_loss", now)
    assert attempt.status == "in_progress" and attempt.focus_losses == 1  # counted, not submitted
    adjustments.resume(attempt, proctor, "继续", now)
    record_event(attempt, "focus_loss", now)
    assert attempt.status == "submitted"


def test_a_reopening_is_refused_once_the_score_was_shown_a_second_time_and_for_an_earlier_attempt(app, db):
    exam, candidate = make_open_exam(code="ADJ2", qtypes=("single",), release="immediate")
    proctor = make_user(username="adjproctor2", roles=(Role.PROCTOR,))
    now = now_utc()
    attempt = attempts.submit(attempts.start_attempt(exam, candidate, now), now)
    with pytest.raises(DomainError) as shown:  # the score was on the result page at once: a way to the keys
        adjustments.reopen(attempt, 10, proctor, "误交卷", now)
    assert shown.value.code == "result_shown"
    exam.release_policy, exam.attempts_allowed = "after_close", 2
    adjustments.reopen(attempt, 10, proctor, "误交卷", now)
    attempts.submit(attempt, now)
    with pytest.raises(DomainError) as twice:
        adjustments.reopen(attempt, 10, proctor, "再次", now)
    assert twice.value.code == "reopened_before"
    attempts.submit(attempts.start_attempt(exam, candidate, now), now)  # a second attempt
    first = db.session.scalar(select(Attempt).where(Attempt.number == 1))
    first.reopened = 0  # (as if never reopened: the rule on the latest attempt alone)
    with pytest.raises(DomainError) as earlier:
        adjustments.reopen(first, 10, proctor, "旧卷", now)
    assert earlier.value.code == "not_latest"
