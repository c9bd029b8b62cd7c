"""Concurrent writers on one attempt, and concurrent starts, through separate sessions and connections
(meaningful on PostgreSQL, where requests really run in parallel; SQLite serialises them)."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.extensions import db as database
from exam import answers
from exam.attempts import start_attempt, start_for_request, submit
from exam.models import Answer, Attempt
from exam.papers import prepare_papers
from tests.exam.test_engine import T0, started


def run_threads(app, work, n):
    errors = []

    def target(i):
        try:
            with app.app_context():
                work(i)
                database.session.commit()
        except Exception as exc:  # noqa: BLE001  (collected and asserted below)
            errors.append(getattr(exc, "code", None) or repr(exc))
        finally:
            with app.app_context():
                database.session.remove()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


def test_fifty_writers_on_one_attempt_keep_the_highest_sequence(app, db):
    exam, user = started(db, n=5)
    attempt = start_attempt(exam, user, T0)
    db.session.commit()
    attempt_id = attempt.id
    acknowledged = []  # (position, seq, value) of every save that returned
    lock = threading.Lock()

    def save(i):
        position, seq, value = i % 5 + 1, i + 1, i % 3  # sequence numbers start at 1
        a = database.session.get(Attempt, attempt_id)
        answers.save_answer(a, position, value, seq, T0 + timedelta(minutes=1))
        database.session.commit()
        with lock:
            acknowledged.append((position, seq, value))

    errors = run_threads(app, save, 50)
    assert errors == []
    assert len(acknowledged) == 50
    db.session.expire_all()
    stored = {a.position: a for a in db.session.scalars(select(Answer).where(Answer.attempt_id == attempt_id))}
    paper_items = {i.position: i for i in db.session.get(Attempt, attempt_id).paper.items}
    for position in range(1, 6):
        best = max((a for a in acknowledged if a[0] == position), key=lambda a: a[1])
        assert stored[position].seq == best[1]
        assert stored[position].value == paper_items[position].option_order[best[2]]


def test_two_concurrent_starts_make_one_attempt(app, db):
    exam, user = started(db)
    db.session.commit()
    exam_id, user_id = exam.id, user.id
    started_ids = []

    def start(_i):
        from accounts.models import User
        from exam.models import Exam

        attempt = start_attempt(
            database.session.get(Exam, exam_id), database.session.get(User, user_id), T0 + timedelta(minutes=1)
        )
        database.session.commit()
        started_ids.append(attempt.id)

    errors = run_threads(app, start, 2)
    assert db.session.scalar(select(func.count(Attempt.id))) == 1  # the database let only one through
    if database.engine.dialect.name == "postgresql":
        assert errors == [] and len(started_ids) == 2 and len(set(started_ids)) == 1  # the second resumed it
    else:  # SQLite: the loser may not see the winner's row yet; it is told to retry, never given a second one
        assert len(started_ids) + len(errors) == 2
        assert errors in ([], ["start_conflict"]), errors


def test_a_change_and_the_first_start_never_interleave(app, db):
    """An admin's change holding the exam row and a first start at the same moment: either the change lands first
    and the start uses it, or the start lands first and the change is refused; never a start on old settings
    followed by a change of what its candidate sees."""
    import time

    from accounts.models import User
    from core.policy import Role
    from exam import definition
    from exam.models import Exam
    from tests.factories import make_user

    exam, user = started(db, duration_minutes=60)
    admin = make_user(roles=(Role.ORG_ADMIN,))
    db.session.commit()
    exam_id, user_id, admin_id = exam.id, user.id, admin.id
    both_ready = threading.Barrier(2)
    start_at = T0 + timedelta(minutes=1)

    def work(i):
        exam = database.session.get(Exam, exam_id)
        if i == 0:
            definition.lock(exam)  # the admin's transaction holds the row (PostgreSQL) ...
            both_ready.wait()
            time.sleep(0.5)  # ... while the candidate presses Start
            definition.update_settings(database.session.get(User, admin_id), exam, {"duration_minutes": 45}, T0)
        else:
            both_ready.wait()
            start_attempt(exam, database.session.get(User, user_id), start_at)

    errors = run_threads(app, work, 2)
    db.session.expire_all()
    exam = db.session.get(Exam, exam_id)
    attempt = db.session.scalar(select(Attempt).where(Attempt.exam_id == exam_id))
    assert attempt is not None and exam.first_started_at is not None
    if exam.duration_minutes == 45:
        assert errors == [] and attempt.deadline_at == start_at + timedelta(minutes=45)
    else:
        assert errors == ["bad_settings"] and attempt.deadline_at == start_at + timedelta(minutes=60)
    if database.engine.dialect.name == "postgresql":
        assert exam.duration_minutes == 45  # the start waited for the lock, then read the new duration


# ---------------------------------------------------------------- sixteen starts at once


def _sixteen(app, work):
    """Run work(i) in sixteen threads released together; returns what each returned (or the error it raised)."""
    gate = threading.Barrier(16)
    results: list = [None] * 16

    def target(i):
        try:
            with app.app_context():
                gate.wait()
                results[i] = work(i)
        except Exception as exc:  # noqa: BLE001  (collected and asserted by the caller)
            results[i] = exc
        finally:
            with app.app_context():
                database.session.remove()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def _one_attempt_and_paper(db, exam_id, user_id, number):
    from exam.models import Paper

    db.session.expire_all()
    attempts = db.session.scalars(select(Attempt).where(Attempt.exam_id == exam_id, Attempt.user_id == user_id)).all()
    assert sorted(a.number for a in attempts) == list(range(1, number + 1))
    papers = select(func.count(Paper.id)).where(
        Paper.exam_id == exam_id, Paper.user_id == user_id, Paper.attempt_number == number
    )
    assert db.session.scalar(papers) == 1
    return next(a for a in attempts if a.number == number)


@pytest.mark.parametrize("retake", [False, True], ids=["first", "retake"])
def test_sixteen_concurrent_starts_all_get_the_one_attempt(app, db, retake):
    exam, user = started(db, attempts_allowed=2)
    at = T0 + timedelta(minutes=1)
    if retake:  # attempt 1 sat and submitted: attempt 2's paper is drawn at its start
        submit(start_attempt(exam, user, at), at)
    db.session.commit()
    exam_id, user_id = exam.id, user.id

    def start(_i):
        from accounts.models import User
        from exam.models import Exam

        attempt = start_for_request(
            database.session.get(Exam, exam_id), database.session.get(User, user_id), at + timedelta(seconds=30)
        )
        database.session.commit()
        return attempt.id

    results = _sixteen(app, start)
    attempt = _one_attempt_and_paper(db, exam_id, user_id, 2 if retake else 1)
    assert results == [attempt.id] * 16, results


def _open_exam_for_retakes(db, retake):
    from accounts.services import create_api_token
    from core.models import now_utc
    from tests.factories import make_open_exam

    exam, user = make_open_exam(qtypes=("single", "truefalse"))
    exam.attempts_allowed = 2
    if retake:
        submit(start_attempt(exam, user, now_utc()), now_utc())
    token = create_api_token(user, "test", now_utc())
    db.session.commit()
    return exam, user, token


@pytest.mark.parametrize("retake", [False, True], ids=["first", "retake"])
def test_sixteen_concurrent_starts_through_the_api(app, db, retake):
    exam, user, token = _open_exam_for_retakes(db, retake)
    code, exam_id, user_id = exam.code, exam.id, user.id

    def start(_i):
        response = app.test_client().post(
            f"/api/v1/exams/{code}/attempts", headers={"Authorization": f"Bearer {token}"}, json={}
        )
        return response.status_code, (response.get_json() or {}).get("id")

    results = _sixteen(app, start)
    attempt = _one_attempt_and_paper(db, exam_id, user_id, 2 if retake else 1)
    assert results == [(200, attempt.id)] * 16, results


@pytest.mark.parametrize("retake", [False, True], ids=["first", "retake"])
def test_sixteen_concurrent_starts_through_the_start_form(app, db, client, auth, retake):
    """Sixteen presses of 开始答题 in one browser (one session cookie): every one lands on the one attempt."""
    exam, user, _token = _open_exam_for_retakes(db, retake)
    code, exam_id, user_id = exam.code, exam.id, user.id
    auth.login(user.username)
    token = client.csrf_token()
    cookie = client.get_cookie("qe_session")
    assert cookie is not None

    def start(_i):
        browser = app.test_client()
        browser.set_cookie("qe_session", cookie.value)
        response = browser.post(f"/my/exams/{code}/start", data={"csrf_token": token, "confirm": "1"})
        return response.status_code, response.headers.get("Location")

    results = _sixteen(app, start)
    attempt = _one_attempt_and_paper(db, exam_id, user_id, 2 if retake else 1)
    assert results == [(302, f"/my/attempts/{attempt.id}")] * 16, results


def test_a_start_while_its_paper_is_being_prepared_takes_that_paper(app, db):
    """`exams prepare` draws a candidate's paper while the candidate presses start: the start's own draw meets the
    prepared paper at the unique constraint (PostgreSQL) and takes it; SQLite's start waits for the writer."""
    import time

    from exam.models import Paper

    exam, user = started(db)
    db.session.delete(db.session.scalar(select(Paper).where(Paper.user_id == user.id)))  # not prepared yet
    db.session.commit()
    exam_id, user_id = exam.id, user.id
    both_ready = threading.Barrier(2)
    at = T0 + timedelta(minutes=1)

    def work(i):
        from accounts.models import User
        from exam.models import Exam

        exam = database.session.get(Exam, exam_id)
        if i == 0:
            prepare_papers(exam, at)  # inserted, not yet committed ...
            both_ready.wait()
            time.sleep(0.5)  # ... while the candidate's start draws its own
        else:
            both_ready.wait()
            return start_attempt(exam, database.session.get(User, user_id), at).paper_id
        return None

    errors = run_threads(app, work, 2)
    assert errors == []
    attempt = _one_attempt_and_paper(db, exam_id, user_id, 1)
    assert attempt.paper_id == db.session.scalar(select(Paper.id).where(Paper.user_id == user_id))
