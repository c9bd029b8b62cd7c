"""每日一练 (the day's set, the same for everyone or one each, and the streak), mastery by knowledge point, and mock
exams (laid out like a formal exam ahead, drawn from the practice pool, graded like it, reviewed at once)."""

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event

from core.errors import DomainError
from core.extensions import db as _db
from core.models import now_utc
from core.policy import Role
from exam import publishing
from exam.models import Exam, ExamSection, SectionRule
from practice import mock, services
from practice.models import PracticeSession
from question_bank import services as qb
from tests.factories import SECRET, make_bank, make_cadre, make_question, make_unit, make_user


@pytest.fixture
def many(db):
    """A bank opened for practice with twelve single-choice questions (three tagged 党章), and two cadres."""
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    bank = make_bank(actor=admin)
    questions = []
    for i in range(12):
        q = make_question(bank, actor=admin, status="active", stem=f"第{i}题：我国的根本政治制度是______。")
        if i < 3:
            q.tags = qb.get_tags(["党章"])
        questions.append(q)
    qb.open_for_practice(admin, bank, True, now_utc())
    one, two = make_cadre().user, make_cadre().user
    _db.session.commit()
    return bank, questions, one, two, admin


def test_the_day_set_is_the_same_for_everyone_and_kept_for_the_day(many, app):
    _bank, _questions, one, two, _admin = many
    now = now_utc()
    first = services.daily(one, now)
    assert len(first.question_ids) == app.config["PRACTICE_DAILY_SIZE"] == 5
    assert services.daily(two, now).question_ids == first.question_ids
    assert services.daily(one, now + timedelta(minutes=5)).id == first.id
    tomorrow = services.daily(one, now + timedelta(days=1))
    assert tomorrow.id != first.id and tomorrow.question_ids != first.question_ids


def test_the_day_set_can_be_one_per_person(many, app):
    _bank, _questions, one, two, _admin = many
    app.config["PRACTICE_DAILY_PER_PERSON"] = True
    try:
        now = now_utc()
        assert services.daily(one, now).question_ids != services.daily(two, now).question_ids
    finally:
        app.config["PRACTICE_DAILY_PER_PERSON"] = False


def _do_daily(user, when):
    session = services.daily(user, when)
    while (served := services.current(session, when)) is not None:
        services.answer(session, served.position, 0, when)
    return session


def test_the_streak_counts_days_in_a_row_and_today_open_does_not_break_it(many):
    _bank, _questions, one, _two, _admin = many
    now = now_utc()
    for days_ago in (4, 2, 1):
        _do_daily(one, now - timedelta(days=days_ago))
    assert services.streak(one, now) == 2  # yesterday and the day before; four days ago is not in the run
    services.daily(one, now)  # opened today, not done: the run still stands
    assert services.streak(one, now) == 2
    _do_daily(one, now)
    assert services.streak(one, now) == 3
    assert services.streak(one, now + timedelta(days=2)) == 0


def test_mastery_is_the_share_right_of_the_last_answers_per_knowledge_point(many):
    bank, questions, one, _two, _admin = many
    now = now_utc()
    session = services.start(one, now, bank=bank)
    for i in range(len(session.question_ids)):
        served = services.current(session, now + timedelta(seconds=i))
        tagged = served.question.id in {q.id for q in questions[:3]}
        services.answer(session, served.position, 0 if not tagged or served.position == 0 else 1, now)
    (found,) = services.mastery(one)
    assert found.tag == "党章" and found.answered == 3 and found.share == pytest.approx(1 / 3)


def _exam_ahead(bank, unit, admin, code="MOCK1"):
    now = now_utc()
    exam = Exam(code=code, title="模拟对象考试", subject="政治理论", duration_minutes=30, pass_mark=1,
                opens_at=now + timedelta(days=1), closes_at=now + timedelta(days=2),
                eligibility={"unit_ids": [unit.id]}, mc_policy="partial")  # fmt: skip
    section = ExamSection(position=1, title="一、单选题", qtype="single", points_per_question=2)
    section.rules.append(SectionRule(bank=bank, count=4))
    exam.sections.append(section)
    _db.session.add(exam)
    _db.session.flush()
    publishing.publish(admin, exam, now)
    return exam


def test_a_mock_is_laid_out_like_the_exam_ahead_and_drawn_only_from_practice_questions(db):
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    bank = make_bank(actor=admin)
    formal = [make_question(bank, actor=admin, status="active") for _ in range(5)]
    practice_only = []
    for _ in range(6):
        q = make_question(bank, actor=admin, status="active", explanation=SECRET)
        qb.set_usage(admin, q, "practice", now_utc())
        practice_only.append(q)
    unit = make_unit()
    cadre = make_cadre(unit=unit).user
    exam = _exam_ahead(bank, unit, admin)
    _db.session.commit()
    now = now_utc()
    assert mock.exams_to_mock(cadre, now) == [exam]
    session = mock.start(cadre, exam, now)
    assert len(session.question_ids) == 4 and set(session.question_ids) <= {q.id for q in practice_only}
    assert not set(session.question_ids) & {q.id for q in formal}  # the exam's own pool is held
    assert session.deadline_at == now + timedelta(minutes=30) and session.max_score == 8
    assert mock.start(cadre, exam, now).id == session.id  # resumed
    with pytest.raises(DomainError):
        services.answer(session, 0, 0, now)  # answered whole, never one by one
    values = {0: 0, 1: 1, 2: 0}  # position 3 left empty
    score = mock.submit(session, values, now + timedelta(minutes=10))
    assert score == 4.0 and session.done and session.right_count == 2
    assert services.book_count(cadre) == 2  # the wrong one and the empty one
    assert mock.submit(session, {0: 1}, now) == 4.0  # harmless twice
    other = make_cadre().user
    _db.session.commit()
    with pytest.raises(DomainError) as refused:
        mock.start(other, exam, now)
    assert refused.value.status == 404  # not a candidate of that exam


def _mock_world(code):
    """An exam ahead of a cadre's, drawing four single-choice questions of a bank that also holds four for
    practice only (each explanation SECRET)."""
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    bank = make_bank(actor=admin)
    for _ in range(4):
        make_question(bank, actor=admin, status="active")  # the exam's own
        qb.set_usage(admin, make_question(bank, actor=admin, status="active", explanation=SECRET), "practice",
                     now_utc())  # fmt: skip
    unit = make_unit()
    cadre = make_cadre(unit=unit).user
    return _exam_ahead(bank, unit, admin, code=code), cadre


def test_the_mock_page_hides_keys_until_handed_in_and_the_api_reviews_it(client, auth, db):
    exam, cadre = _mock_world("MOCK2")
    _db.session.commit()
    auth.login(cadre.username)
    home = client.get("/practice/").get_data(as_text=True)
    assert exam.title in home
    response = client.post_form(f"/practice/mocks/{exam.code}")
    assert response.status_code == 302
    url = response.headers["Location"]
    page = client.get(url).get_data(as_text=True)
    assert 'id="mock-paper"' in page and SECRET not in page and "data-seconds-left" in page
    client.post_form(url + "/submit", {"q0": "0", "q1": "1"})
    review = client.get(url).get_data(as_text=True)
    assert 'id="mock-result"' in review and SECRET in review
    session_id = int(url.rstrip("/").split("/")[-1])
    body = client.get(f"/api/v1/practice/mocks/{session_id}").get_json()
    assert body["finished"] and body["score"] == 2.0 and len(body["review"]) == 4
    assert {r["outcome"] for r in body["review"]} == {"right", "wrong"}


def test_the_api_starts_a_mock_and_hands_it_in(client, auth, db):
    exam, cadre = _mock_world("MOCK3")
    _db.session.commit()
    auth.login(cadre.username)
    csrf = {"X-CSRFToken": client.csrf_token()}
    assert client.get("/api/v1/practice").get_json()["mocks"] == [{"code": "MOCK3", "title": exam.title}]
    paper = client.post("/api/v1/practice/mocks", json={"exam": "MOCK3"}, headers=csrf).get_json()
    assert len(paper["items"]) == 4 and "review" not in paper and SECRET not in str(paper)
    done = client.post(f"/api/v1/practice/mocks/{paper['id']}/submit", json={"answers": {"0": 0, "1": 0}},
                       headers=csrf).get_json()  # fmt: skip
    assert done["finished"] and done["score"] == 4.0 and done["review"][0]["explanation"]
    assert client.post("/api/v1/practice/mocks", json={"exam": "NOPE"}, headers=csrf).status_code == 404


@contextmanager
def _statements():
    """Every SQL statement sent while the block runs."""
    sent: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        sent.append(" ".join(statement.split()))

    event.listen(_db.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(_db.engine, "before_cursor_execute", record)


def test_a_mock_counts_its_right_answers_as_it_grades_them_without_reading_them_back(db):
    exam, cadre = _mock_world("MOCK4")
    _db.session.commit()
    now = now_utc()
    session = mock.start(cadre, exam, now)
    with _statements() as sent:
        mock.submit(session, {0: 0, 1: 1, 2: 0}, now + timedelta(minutes=5))  # two right, one wrong, one empty
    assert not [s for s in sent if s.startswith("SELECT") and "FROM practice_answers" in s]
    _db.session.commit()
    _db.session.expire_all()
    stored = _db.session.get(PracticeSession, session.id)
    assert stored.right_count == 2 and stored.score == 4.0
    outcomes = [a.outcome for a in services.session_answers(stored)]
    assert outcomes.count("right") == 2 and len(outcomes) == 4
