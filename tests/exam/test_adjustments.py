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
    exam, candidate = make_open_exam(code="ADJ1", qtypes=("single", "essay"))
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
    # Long past its deadline, a held attempt is not finalized.
    assert attempts.finalize_overdue(old + timedelta(hours=3)) == 0
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
