"""Practice sessions: the order served, resuming, feedback at once, only the current question answered, questions
closed since skipped, the wrong-answer book and mastery, and nothing written to the formal exams' tables."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.errors import DomainError
from core.extensions import db as _db
from core.models import now_utc
from core.policy import Role
from exam.models import Answer, Attempt, Exam, ExamSection, SectionRule
from practice import services
from practice.models import Mode, Outcome, PracticeAnswer, WrongBookEntry
from question_bank import services as qb
from tests.factories import make_bank, make_cadre, make_category, make_question, make_user


def _answer_all(session, values, now):
    got = []
    while (served := services.current(session, now)) is not None:
        got.append(services.answer(session, served.position, values[served.question.type], now))
    return got


RIGHT = {"single": 0, "multiple": [0, 1, 3], "truefalse": True, "fill": ["全国代表大会", " 中央委员会 "], "essay": "略"}
WRONG = {"single": 1, "multiple": [0], "truefalse": False, "fill": ["人民", "中央委员会"], "essay": "略"}


def test_a_chapter_is_served_in_order_with_feedback_after_each_answer(opened):
    bank, chapter, questions, cadre, _admin = opened
    now = now_utc()
    session = services.start(cadre, now, mode=Mode.CATEGORY, category=chapter)
    assert session.question_ids == sorted(q.id for q in questions.values())
    feedback = _answer_all(session, RIGHT, now)
    outcomes = {f.question.type: f.outcome for f in feedback}
    assert outcomes == {"single": "right", "multiple": "right", "truefalse": "right", "fill": "right",
                        "essay": "self_check"}  # fmt: skip
    assert session.done and session.right_count == 4
    assert all(f.version.explanation for f in feedback)  # the explanation comes with the feedback
    assert _db.session.scalar(select(func.count()).select_from(WrongBookEntry)) == 0


def test_wrong_answers_fill_the_book_and_right_ones_in_a_row_master_them(opened, app):
    bank, chapter, questions, cadre, _admin = opened
    now = now_utc()
    session = services.start(cadre, now, mode=Mode.CATEGORY, bank=bank)
    feedback = _answer_all(session, WRONG, now)
    outcomes = {f.question.type: f.outcome for f in feedback}
    assert outcomes == {
        "single": "wrong",
        "multiple": "wrong",
        "truefalse": "wrong",
        "fill": "partly",
        "essay": "self_check",
    }
    assert {f.question.type for f in feedback if f.wrong_book == "added"} == {"single", "multiple", "truefalse", "fill"}
    assert services.book_count(cadre) == 4
    # The book's own practice: right answers in a row master each question (PRACTICE_MASTERED_AFTER).
    need = app.config["PRACTICE_MASTERED_AFTER"]
    for round_ in range(need):
        book = services.start(cadre, now + timedelta(minutes=round_ + 1), mode=Mode.WRONG_BOOK)
        assert sorted(book.question_ids) == sorted(q.id for t, q in questions.items() if t != "essay")
        results = _answer_all(book, RIGHT, now)
        assert all(r.outcome == "right" for r in results)
        assert {r.wrong_book for r in results} == ({"mastered"} if round_ == need - 1 else {None})
    assert services.book_count(cadre) == 0
    with pytest.raises(DomainError) as nothing:
        services.start(cadre, now, mode=Mode.WRONG_BOOK)
    assert nothing.value.code == "nothing_open"
    # A wrong answer later puts a mastered question back.
    assert services.record_in_book(cadre.id, questions["single"].id, Outcome.WRONG, now, "practice") == "added"
    assert services.book_count(cadre) == 1


def test_a_right_answer_breaks_no_streak_it_did_not_start(opened, app):
    _bank, _chapter, questions, cadre, _admin = opened
    qid, now = questions["single"].id, now_utc()
    services.record_in_book(cadre.id, qid, Outcome.WRONG, now, "practice")
    services.record_in_book(cadre.id, qid, Outcome.RIGHT, now, "practice")
    services.record_in_book(cadre.id, qid, Outcome.WRONG, now, "practice")
    entry = _db.session.scalar(select(WrongBookEntry).filter_by(user_id=cadre.id, question_id=qid))
    assert (entry.wrong_count, entry.right_streak, entry.mastered_at) == (2, 0, None)


def test_the_unfinished_session_of_the_same_choice_is_resumed(opened):
    bank, chapter, _questions, cadre, _admin = opened
    now = now_utc()
    first = services.start(cadre, now, mode=Mode.CATEGORY, category=chapter)
    services.answer(first, 0, RIGHT[services.current(first, now).question.type], now)
    again = services.start(cadre, now, mode=Mode.CATEGORY, category=chapter)
    assert again.id == first.id and again.position == 1
    shuffled = services.start(cadre, now, mode=Mode.CATEGORY, category=chapter, shuffled=True)
    assert shuffled.id != first.id
    # Those never practised come first.
    assert shuffled.question_ids[-1] == first.question_ids[0]
    assert services.start(cadre, now, mode=Mode.CATEGORY, bank=bank).id not in (first.id, shuffled.id)


def test_only_the_question_shown_now_can_be_answered(opened):
    _bank, chapter, _questions, cadre, _admin = opened
    now = now_utc()
    session = services.start(cadre, now, mode=Mode.CATEGORY, category=chapter)
    for position in (1, 4, -1):
        with pytest.raises(DomainError) as refused:
            services.answer(session, position, 0, now)
        assert refused.value.code == "wrong_position"
    assert _db.session.scalar(select(func.count()).select_from(PracticeAnswer)) == 0
    with pytest.raises(DomainError) as bad:
        services.answer(session, 0, [5], now)  # no shape of a single-choice answer
    assert bad.value.code == "bad_answer"


def test_a_question_held_by_an_exam_set_up_since_the_start_is_skipped_and_never_keyed(opened):
    bank, chapter, questions, cadre, _admin = opened
    now = now_utc()
    session = services.start(cadre, now, mode=Mode.CATEGORY, category=chapter)
    assert session.question_ids[0] == questions["single"].id
    exam = Exam(code="LATE", title="后来的考试", subject="政治理论", duration_minutes=60, opens_at=now,
                closes_at=now + timedelta(days=2), pass_mark=1)  # fmt: skip
    section = ExamSection(position=1, title="一、单选题", qtype="single", points_per_question=1)
    section.rules.append(SectionRule(bank=bank, count=1))
    exam.sections.append(section)
    _db.session.add(exam)
    _db.session.flush()
    with pytest.raises(DomainError) as refused:
        services.answer(session, 0, 0, now)
    assert refused.value.code == "wrong_position"  # position 0 is passed over: its key is never given
    served = services.current(session, now)
    assert served.position == 1 and served.question.id != questions["single"].id


def test_practice_writes_nothing_of_the_formal_exams(opened):
    _bank, chapter, _questions, cadre, _admin = opened
    now = now_utc()
    _answer_all(services.start(cadre, now, mode=Mode.CATEGORY, category=chapter), WRONG, now)
    assert _db.session.scalar(select(func.count()).select_from(Answer)) == 0
    assert _db.session.scalar(select(func.count()).select_from(Attempt)) == 0
    assert _db.session.scalar(select(func.count()).select_from(PracticeAnswer)) == 5


def test_a_session_is_its_owners_only(opened):
    _bank, chapter, _questions, cadre, _admin = opened
    session = services.start(cadre, now_utc(), mode=Mode.CATEGORY, category=chapter)
    other = make_cadre().user
    assert services.own_session(other, session.id) is None
    assert services.own_session(cadre, session.id) is session


def test_wrong_answers_of_a_formal_exam_enter_the_book_once_its_review_shows_the_keys(db):
    from exam import attempts
    from exam.models import Answer
    from tests.factories import make_open_exam

    exam, cadre = make_open_exam(code="WB1", qtypes=("single", "truefalse", "essay"))
    now = now_utc()
    attempt = attempts.start_attempt(exam, cadre, now)
    tf = next(i for i in attempt.paper.items if i.section.qtype == "truefalse")
    _db.session.add(Answer(attempt_id=attempt.id, position=tf.position, value=tf.version.answer, seq=1, saved_at=now))
    _db.session.flush()
    attempts.submit(attempt, now)  # graded as it ends
    # Released at once, but the keys wait for the close: nothing goes in yet.
    assert services.take_exam_mistakes(cadre, now) == 0 and services.book_count(cadre) == 0
    after = exam.closes_at + timedelta(minutes=5)
    assert services.take_exam_mistakes(cadre, after) == 1  # the single choice left unanswered; not the essay
    entry = _db.session.scalar(select(WrongBookEntry).filter_by(user_id=cadre.id))
    single = next(i for i in attempt.paper.items if i.section.qtype == "single")
    assert entry.question_id == single.version.question_id and entry.source == "exam"
    assert services.take_exam_mistakes(cadre, after) == 0  # once per attempt


def test_an_answer_sent_again_gets_its_first_feedback_and_is_kept_once(opened):
    _bank, chapter, _questions, cadre, _admin = opened
    now = now_utc()
    session = services.start(cadre, now, mode=Mode.CATEGORY, category=chapter)
    first = services.answer(session, 0, 1, now)  # the single choice, wrong
    again = services.answer(session, 0, 0, now)  # resent (another value: the first one stands)
    assert (again.outcome, again.answer, again.version.id) == (first.outcome, 1, first.version.id)
    assert session.position == 1
    assert _db.session.scalar(select(func.count()).select_from(PracticeAnswer)) == 1
    entry = _db.session.scalar(select(WrongBookEntry))
    assert entry.wrong_count == 1


def test_a_chapter_counts_the_open_questions_of_its_whole_subtree_and_no_others(db):
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    now = now_utc()
    bank = make_bank(actor=admin)
    chapter = make_category(bank, "第一章")
    section = make_category(bank, "第一节", parent=chapter)
    point = make_category(bank, "知识点", parent=section)
    held_chapter = make_category(bank, "第二章")

    def question(category, status="active", qtype="single"):
        return make_question(bank, qtype, actor=admin, status=status, category=category)

    question(chapter)
    question(section, qtype="truefalse")
    question(section, qtype="truefalse")
    question(section, status="draft")  # not active
    qb.set_usage(admin, question(section), "exam", now)  # for exams only
    question(point, qtype="truefalse")
    question(held_chapter)  # a formal exam ahead draws its single-choice questions
    question(None)  # no category: the bank's total only
    qb.open_for_practice(admin, bank, True, now)
    exam = Exam(code="HOLD", title="将来的考试", subject="政治理论", duration_minutes=60, opens_at=now,
                closes_at=now + timedelta(days=2), pass_mark=1)  # fmt: skip
    exam_section = ExamSection(position=1, title="一、单选题", qtype="single", points_per_question=1)
    exam_section.rules.append(SectionRule(bank=bank, category=held_chapter, count=1))
    exam.sections.append(exam_section)
    # A closed bank with one opened chapter: only that subtree counts.
    closed = make_bank(actor=admin)
    opened_chapter, shut_chapter = make_category(closed, "开放章"), make_category(closed, "未开放章")
    opened_section = make_category(closed, "开放节", parent=opened_chapter)
    make_question(closed, "truefalse", actor=admin, status="active", category=opened_section)
    make_question(closed, "truefalse", actor=admin, status="active", category=shut_chapter)
    qb.open_for_practice(admin, closed, True, now, category=opened_chapter)
    _db.session.add(exam)
    _db.session.flush()

    banks, _tags = services.choices(now)
    found = {c.bank.id: (c.count, {k.name: n for k, n in c.categories}) for c in banks}
    assert found == {
        bank.id: (5, {"第一章": 4, "第一节": 3, "知识点": 1}),  # 第二章's only question is held: left out
        closed.id: (1, {"开放章": 1, "开放节": 1}),
    }
    (listed,) = [c for c in banks if c.bank.id == bank.id]
    assert [k.id for k, _n in listed.categories] == [chapter.id, section.id, point.id]  # in tree order
