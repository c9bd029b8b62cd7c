"""The exam engine's services: eligibility, paper drawing, publishing, server-timed attempts, grading."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.errors import DomainError
from core.policy import Role
from exam import answers, attempts, eligibility, papers, publishing, visibility
from exam.models import (
    Answer,
    Attempt,
    AttemptStatus,
    Exam,
    ExamCandidate,
    ExamSection,
    FixedItem,
    Paper,
    SectionRule,
)
from tests.factories import make_bank, make_cadre, make_question, make_unit, make_user

T0 = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)  # 09:00 in Beijing


def make_exam(bank=None, sections=(("single", 3, 2.0),), mode="drawn", **kwargs):
    """An exam with one rule per section drawing `count` questions of a type from `bank`."""
    exam = Exam(
        code=kwargs.pop("code", "E1"),
        title="2026年度任职资格考试",
        subject="政治理论",
        paper_mode=mode,
        duration_minutes=kwargs.pop("duration_minutes", 60),
        opens_at=kwargs.pop("opens_at", T0),
        closes_at=kwargs.pop("closes_at", T0 + timedelta(hours=3)),
        pass_mark=kwargs.pop("pass_mark", 4),
        eligibility=kwargs.pop("eligibility", {}),
        **kwargs,
    )
    for i, (qtype, count, points) in enumerate(sections, start=1):
        section = ExamSection(position=i, title=f"第{i}部分", qtype=qtype, points_per_question=points)
        if mode == "drawn":
            section.rules.append(SectionRule(bank=bank, count=count, difficulty_min=1, difficulty_max=5))
        exam.sections.append(section)
    from core.extensions import db

    db.session.add(exam)
    db.session.flush()
    return exam


def fill_bank(bank, qtype="single", n=5):
    return [make_question(bank=bank, qtype=qtype, status="active", stem=f"{qtype}题{i}______") for i in range(n)]


@pytest.fixture
def cadre(db):
    return make_cadre(birth_date=date(1995, 1, 1))


# ---------------------------------------------------------------- eligibility


def test_under_35_on_the_reference_day_at_the_boundary(app, db):
    unit = make_unit()
    turns35 = make_cadre(unit=unit, birth_date=date(1991, 12, 5))  # 35 on 2026-12-05: not under 35
    day_younger = make_cadre(unit=unit, birth_date=date(1991, 12, 6))  # 34 on that day
    exam = make_exam(make_bank(), eligibility={"max_age": 35, "age_on": "2026-12-05"})
    ids = eligibility.eligible_user_ids(exam)
    assert day_younger.user_id in ids and turns35.user_id not in ids
    verdict = eligibility.eligibility_verdict(exam, turns35.user)
    assert not verdict.eligible and any("35" in r for r in verdict.reasons)


def test_units_include_sub_units_and_ranks_filter(app, db):
    town = make_unit("青山镇")
    village = make_unit("青山镇农业中心", parent=town)
    other = make_unit("柳河镇")
    inside = make_cadre(unit=village, rank="section_chief")
    wrong_rank = make_cadre(unit=town, rank="staff")
    outside = make_cadre(unit=other, rank="section_chief")
    exam = make_exam(
        make_bank(), eligibility={"unit_ids": [town.id], "ranks": ["section_chief", "deputy_section_chief"]}
    )
    assert eligibility.eligible_user_ids(exam) == {inside.user_id}
    assert not eligibility.eligibility_verdict(exam, wrong_rank.user).eligible
    assert not eligibility.eligibility_verdict(exam, outside.user).eligible


def test_hand_added_and_removed(app, db):
    unit = make_unit()
    a, b = make_cadre(unit=unit), make_cadre(unit=make_unit())
    exam = make_exam(make_bank(), eligibility={"unit_ids": [unit.id]})
    from core.extensions import db as database

    database.session.add_all([ExamCandidate(exam_id=exam.id, user_id=a.user_id, included=False),
                              ExamCandidate(exam_id=exam.id, user_id=b.user_id, included=True)])  # fmt: skip
    database.session.flush()
    assert eligibility.eligible_user_ids(exam) == {b.user_id}
    assert eligibility.eligibility_verdict(exam, b.user).eligible


def test_deactivated_and_retired_cadres_are_not_candidates(app, db):
    unit = make_unit()
    retired = make_cadre(unit=unit)
    retired.status = "retired"
    gone = make_cadre(unit=unit, active=False)
    exam = make_exam(make_bank())
    ids = eligibility.eligible_user_ids(exam)
    assert retired.user_id not in ids and gone.user_id not in ids


# ---------------------------------------------------------------- papers


def test_pool_too_small_is_refused(app, db):
    bank = make_bank()
    fill_bank(bank, n=2)
    exam = make_exam(bank, sections=(("single", 3, 2.0),))
    assert papers.check_pools(exam)
    with pytest.raises(DomainError):
        publishing.publish(make_user(roles=(Role.ORG_ADMIN,)), exam, T0 - timedelta(days=1))


def test_same_seed_same_paper_and_shuffles_differ(app, db):
    bank = make_bank()
    fill_bank(bank, n=12)
    exam = make_exam(bank, sections=(("single", 8, 2.0),))
    users = [make_user() for _ in range(3)]

    def layout(paper):
        return [(i.question_version_id, tuple(i.option_order)) for i in paper.items]

    a = papers.draw_paper(exam, users[0].id, 42, T0)
    b = papers.draw_paper(exam, users[1].id, 42, T0)
    c = papers.draw_paper(exam, users[2].id, 43, T0)
    assert layout(a) == layout(b)
    assert layout(a) != layout(c)
    assert len({i.question_version_id for i in a.items}) == 8  # no question twice


def test_only_active_questions_are_drawn(app, db):
    bank = make_bank()
    active = fill_bank(bank, n=3)
    make_question(bank=bank, stem="草稿题______")  # a draft
    exam = make_exam(bank, sections=(("single", 3, 2.0),))
    paper = papers.draw_paper(exam, make_user().id, 1, T0)
    assert {i.question_version_id for i in paper.items} == {q.current_version_id for q in active}


def test_publish_prepares_papers_for_every_candidate(app, db):
    bank = make_bank()
    fill_bank(bank, n=5)
    unit = make_unit()
    cadres = [make_cadre(unit=unit) for _ in range(3)]
    exam = make_exam(bank, eligibility={"unit_ids": [unit.id]})
    assert publishing.publish(make_user(roles=(Role.ORG_ADMIN,)), exam, T0 - timedelta(days=1)) == 3
    assert set(db.session.scalars(select(Paper.user_id))) == {c.user_id for c in cadres}
    assert papers.prepare_papers(exam, T0) == 0  # idempotent
    from question_bank.models import Question

    assert sum(db.session.scalars(select(Question.exposure_count))) == 3 * 3


def test_fixed_papers(app, db):
    bank = make_bank()
    questions = fill_bank(bank, n=3)
    exam = make_exam(bank, mode="fixed", shuffle_questions=False, shuffle_options=False)
    for i, q in enumerate(questions, start=1):
        exam.sections[0].fixed_items.append(FixedItem(position=i, question_version_id=q.current_version_id))
    db.session.flush()
    paper = papers.draw_paper(exam, make_user().id, 7, T0)
    assert [i.question_version_id for i in paper.items] == [q.current_version_id for q in questions]
    assert paper.items[0].option_order == [0, 1, 2]


# ---------------------------------------------------------------- attempts and time


def started(db, *, n=3, qtype="single", eligible=True, **exam_kwargs):
    bank = make_bank()
    fill_bank(bank, qtype, n=n)
    unit = make_unit()
    cadre = make_cadre(unit=unit)
    exam = make_exam(bank, sections=((qtype, n, 2.0),), eligibility={"unit_ids": [unit.id]} if eligible else {},
                     **exam_kwargs)  # fmt: skip
    publishing.publish(make_user(roles=(Role.ORG_ADMIN,)), exam, T0 - timedelta(days=1))
    return exam, cadre.user


def right_answer(attempt, position):
    """The shown index of the right option of a single-choice item."""
    item = next(i for i in attempt.paper.items if i.position == position)
    return item.option_order.index(item.version.answer[0])


def test_start_is_refused_outside_the_window(app, db):
    exam, user = started(db)
    with pytest.raises(DomainError) as exc:
        attempts.start_attempt(exam, user, T0 - timedelta(minutes=1))
    assert exc.value.code == "exam_not_open"
    with pytest.raises(DomainError):
        attempts.start_attempt(exam, user, exam.closes_at)


def test_deadline_is_duration_plus_extra_but_never_past_the_close(app, db):
    exam, user = started(db, duration_minutes=60)
    db.session.add(ExamCandidate(exam_id=exam.id, user_id=user.id, extra_minutes=15))
    attempt = attempts.start_attempt(exam, user, T0 + timedelta(minutes=10))
    assert attempt.deadline_at == T0 + timedelta(minutes=85)
    late_exam, late_user = started(db, duration_minutes=60, code="E2")
    late = attempts.start_attempt(late_exam, late_user, late_exam.closes_at - timedelta(minutes=20))
    assert late.deadline_at == late_exam.closes_at  # a late start gets only what is left of the window


def test_resume_returns_the_same_attempt_and_the_limit_holds(app, db):
    exam, user = started(db)
    first = attempts.start_attempt(exam, user, T0)
    assert attempts.start_attempt(exam, user, T0 + timedelta(minutes=5)).id == first.id
    attempts.submit(first, T0 + timedelta(minutes=10))
    with pytest.raises(DomainError) as exc:
        attempts.start_attempt(exam, user, T0 + timedelta(minutes=11))
    assert exc.value.code == "no_attempts_left"


def test_the_database_allows_one_attempt_in_progress(app, db):
    exam, user = started(db, attempts_allowed=3)
    first = attempts.start_attempt(exam, user, T0)
    db.session.add(Attempt(exam_id=exam.id, user_id=user.id, number=2, paper_id=first.paper_id,
                           started_at=T0, deadline_at=T0 + timedelta(hours=1)))  # fmt: skip
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_save_keeps_the_highest_sequence(app, db):
    exam, user = started(db)
    attempt = attempts.start_attempt(exam, user, T0)
    answers.save_answer(attempt, 1, 2, seq=5, now=T0 + timedelta(minutes=1))
    answers.save_answer(attempt, 1, 0, seq=3, now=T0 + timedelta(minutes=2))  # arrives late, is older
    stored = db.session.scalar(select(Answer).where(Answer.attempt_id == attempt.id, Answer.position == 1))
    item = next(i for i in attempt.paper.items if i.position == 1)
    assert stored.seq == 5 and stored.value == item.option_order[2]  # kept in the version's own option order
    saved = answers.save_answer(attempt, 1, 1, seq=6, now=T0 + timedelta(minutes=3))
    assert (saved.seq, saved.accepted) == (6, True)
    db.session.refresh(stored)
    assert stored.seq == 6 and stored.value == item.option_order[1]
    older = answers.save_answer(attempt, 1, 0, seq=4, now=T0 + timedelta(minutes=4))
    assert (older.seq, older.accepted) == (6, False)


def test_saves_after_the_deadline_plus_grace_are_refused_and_not_stored(app, db):
    exam, user = started(db, duration_minutes=30)
    attempt = attempts.start_attempt(exam, user, T0)
    answers.save_answer(attempt, 1, right_answer(attempt, 1), seq=1, now=T0 + timedelta(minutes=29))
    answers.save_answer(attempt, 2, right_answer(attempt, 2), seq=1, now=T0 + timedelta(minutes=30, seconds=20))
    with pytest.raises(DomainError) as exc:
        answers.save_answer(attempt, 3, right_answer(attempt, 3), seq=1, now=T0 + timedelta(minutes=30, seconds=31))
    assert exc.value.code == "deadline_passed"
    assert db.session.scalar(select(func.count(Answer.id)).where(Answer.value.is_not(None))) == 2
    # Finalized later (here by the overdue sweep) with the two answers saved in time.
    assert attempts.finalize_overdue(T0 + timedelta(minutes=31)) == 1
    assert attempt.status == AttemptStatus.EXPIRED and attempt.score == 4.0


def test_bad_answers_are_refused(app, db):
    exam, user = started(db)
    attempt = attempts.start_attempt(exam, user, T0)
    for value in (7, "A", True, [0]):
        with pytest.raises(DomainError):
            answers.save_answer(attempt, 1, value, seq=1, now=T0)
    with pytest.raises(DomainError):
        answers.save_answer(attempt, 99, 0, seq=1, now=T0)


def test_submit_grades_and_twice_is_harmless(app, db):
    exam, user = started(db, pass_mark=4)
    attempt = attempts.start_attempt(exam, user, T0)
    for pos in (1, 2):
        answers.save_answer(attempt, pos, right_answer(attempt, pos), seq=1, now=T0 + timedelta(minutes=5))
    attempts.submit(attempt, T0 + timedelta(minutes=6))
    assert attempt.status == AttemptStatus.SUBMITTED and attempt.score == 4.0 and attempt.passed
    attempts.submit(attempt, T0 + timedelta(minutes=7))
    assert attempt.ended_at == T0 + timedelta(minutes=6)
    with pytest.raises(DomainError):
        answers.save_answer(attempt, 3, 0, seq=2, now=T0 + timedelta(minutes=8))


def test_overdue_attempts_are_finalized_with_their_saved_answers(app, db):
    exam, user = started(db, duration_minutes=20)
    attempt = attempts.start_attempt(exam, user, T0)
    answers.save_answer(attempt, 1, right_answer(attempt, 1), seq=1, now=T0 + timedelta(minutes=19))
    assert attempts.finalize_overdue(T0 + timedelta(minutes=20, seconds=10)) == 0  # still within grace
    assert attempts.finalize_overdue(T0 + timedelta(minutes=25)) == 1
    assert attempt.status == AttemptStatus.EXPIRED and attempt.score == 2.0
    assert attempt.ended_at == attempt.deadline_at + attempts.grace()


def test_essays_wait_for_a_grader(app, db):
    exam, user = started(db, n=2, qtype="essay", pass_mark=3)
    attempt = attempts.start_attempt(exam, user, T0)
    answers.save_answer(attempt, 1, "我的回答", seq=1, now=T0)
    attempts.submit(attempt, T0 + timedelta(minutes=1))
    assert not attempt.fully_graded and attempt.score is None
    blank = db.session.scalar(select(Answer).where(Answer.attempt_id == attempt.id, Answer.position == 2))
    assert blank.points == 0.0  # an unanswered essay needs no grader


def test_results_follow_the_release_policy(app, db):
    exam, user = started(db, release_policy="after_close")
    attempt = attempts.start_attempt(exam, user, T0)
    attempts.submit(attempt, T0 + timedelta(minutes=1))
    assert not visibility.result_visible(attempt, T0 + timedelta(minutes=2))
    assert visibility.result_visible(attempt, exam.closes_at)
    exam.release_policy = "manual"
    assert not visibility.result_visible(attempt, exam.closes_at + timedelta(days=1))
    exam.release_policy = "immediate"
    assert visibility.result_visible(attempt, T0 + timedelta(minutes=2))


def test_fill_in_answers_ignore_spaces_unless_the_question_says_otherwise(app, db):
    """The README's promise end to end: a version stored without the option ignores spaces (人民代表大会 制度 earns
    the points); a version that says spaces count keeps that meaning."""
    bank = make_bank()
    relaxed = make_question(bank=bank, qtype="fill", status="active", stem="我国的根本政治制度是______。",
                            answer=[["人民代表大会制度"]])  # fmt: skip
    strict = make_question(bank=bank, qtype="fill", status="active", stem="我国的根本政治制度（区分空格）是______。",
                           answer=[["人民代表大会制度"]], settings={"ignore_spaces": False})  # fmt: skip
    assert "ignore_spaces" not in (relaxed.current_version.settings or {})
    unit = make_unit()
    user = make_cadre(unit=unit).user
    exam = make_exam(bank, sections=(("fill", 2, 2.0),), mode="fixed", shuffle_questions=False,
                     eligibility={"unit_ids": [unit.id]})  # fmt: skip
    for i, q in enumerate((relaxed, strict), start=1):
        exam.sections[0].fixed_items.append(FixedItem(position=i, question_version_id=q.current_version_id))
    publishing.publish(make_user(roles=(Role.ORG_ADMIN,)), exam, T0 - timedelta(days=1))
    attempt = attempts.start_attempt(exam, user, T0)
    for item in attempt.paper.items:
        answers.save_answer(attempt, item.position, ["人民代表大会 制度"], 1, T0 + timedelta(minutes=1))
    attempts.submit(attempt, T0 + timedelta(minutes=2))
    rows = db.session.execute(select(Answer.position, Answer.points).where(Answer.attempt_id == attempt.id))
    points = dict(rows.all())
    assert points == {1: 2.0, 2: 0.0} and attempt.score == 2.0
