"""The same practice answer sent twice at the same moment (a double tap, a phone resending), and one question
answered wrong in two sessions at once: one answer and one book entry are kept, and every request gets its
feedback (meaningful on PostgreSQL, where requests really run in parallel; SQLite serialises them)."""

import threading

from sqlalchemy import func, select

from core.extensions import db as database
from core.models import now_utc
from practice import services
from practice.models import Mode, PracticeAnswer, PracticeSession, WrongBookEntry
from tests.exam.test_concurrency import run_threads


def test_one_position_answered_twice_at_once_is_kept_once(app, opened):
    _bank, chapter, _questions, cadre, _admin = opened
    session = services.start(cadre, now_utc(), mode=Mode.CATEGORY, category=chapter)
    database.session.commit()
    session_id, got, lock = session.id, [], threading.Lock()
    barrier = threading.Barrier(4)

    def send(_i):
        s = database.session.get(PracticeSession, session_id)
        barrier.wait(timeout=10)
        feedback = services.answer(s, 0, 1, now_utc())
        database.session.commit()
        with lock:
            got.append(feedback.outcome)

    assert run_threads(app, send, 4) == []
    assert got == ["wrong"] * 4
    database.session.expire_all()
    assert database.session.scalar(select(func.count()).select_from(PracticeAnswer)) == 1
    assert database.session.scalar(select(WrongBookEntry.wrong_count)) == 1


def test_one_question_wrong_in_two_sessions_at_once_has_one_book_entry(app, opened):
    bank, chapter, _questions, cadre, _admin = opened
    now = now_utc()
    ids = [services.start(cadre, now, mode=Mode.CATEGORY, category=chapter).id,
           services.start(cadre, now, mode=Mode.CATEGORY, bank=bank).id]  # fmt: skip
    database.session.commit()
    barrier = threading.Barrier(2)

    def send(i):
        s = database.session.get(PracticeSession, ids[i])
        barrier.wait(timeout=10)
        services.answer(s, 0, 1, now_utc())
        database.session.commit()

    assert run_threads(app, send, 2) == []
    database.session.expire_all()
    assert database.session.scalar(select(func.count()).select_from(WrongBookEntry)) == 1
    assert database.session.scalar(select(func.count()).select_from(PracticeAnswer)) == 2
