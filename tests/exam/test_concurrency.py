"""Concurrent writers on one attempt, and concurrent starts, through separate sessions and connections
(meaningful on PostgreSQL, where requests really run in parallel; SQLite serialises them)."""

import threading
from datetime import timedelta

from sqlalchemy import func, select

from core.extensions import db as database
from exam import services
from exam.models import Answer, Attempt
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
    attempt = services.start_attempt(exam, user, T0)
    db.session.commit()
    attempt_id = attempt.id
    acknowledged = []  # (position, seq, value) of every save that returned
    lock = threading.Lock()

    def save(i):
        position, seq, value = i % 5 + 1, i + 1, i % 3  # sequence numbers start at 1
        a = database.session.get(Attempt, attempt_id)
        services.save_answer(a, position, value, seq, T0 + timedelta(minutes=1))
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

        attempt = services.start_attempt(
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
            services.start_attempt(exam, database.session.get(User, user_id), start_at)

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
