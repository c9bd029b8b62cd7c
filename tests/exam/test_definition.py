"""Defining exams and their lifecycle: settings and their checks, what may change at each stage (with audit), the
paper (sections, rules, fixed questions), eligibility rules, withdrawing, releasing, access codes, integrity
signals with the focus-loss limit, regrading, and the learning-archive record."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from archive.models import ExamResultRecord
from core.audit import AuditEvent
from core.errors import DomainError
from core.policy import Role
from exam import answers, attempts, definition, eligibility, publishing, scoring, timeline, visibility
from exam.models import Answer, Attempt, AttemptEvent, AttemptStatus, Exam, KeyCorrection, Paper
from exam.papers import check_pools, prepare_papers
from question_bank.models import Question
from tests.exam.test_engine import T0, fill_bank, make_exam, right_answer, started
from tests.factories import make_bank, make_cadre, make_category, make_question, make_unit, make_user

SETTINGS = {
    "title": "2027年度岗位知识水平任职资格考试",
    "subject": "岗位知识",
    "instructions": "独立作答。",
    "paper_mode": "drawn",
    "duration_minutes": 90,
    "opens_at": T0,
    "closes_at": T0 + timedelta(hours=3),
    "attempts_allowed": 1,
    "pass_mark": 60,
    "shuffle_questions": True,
    "shuffle_options": True,
    "mc_policy": "all_or_nothing",
    "release_policy": "after_close",
    "review_policy": "score",
    "focus_loss_limit": None,
}


@pytest.fixture
def admin(db):
    return make_user(roles=(Role.ORG_ADMIN,))


def audited(action: str) -> list[AuditEvent]:
    from core.extensions import db

    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


# ---------------------------------------------------------------- settings


def test_create_checks_every_setting(app, db, admin):
    exam = definition.create_exam(admin, "GWZS2027", SETTINGS, T0)
    assert exam.status == "draft" and exam.pass_mark == 60.0 and audited("exam.created")
    with pytest.raises(DomainError) as exc:
        definition.create_exam(admin, "GWZS2027", SETTINGS, T0)
    assert exc.value.code == "code_taken"
    with pytest.raises(DomainError) as exc:
        definition.create_exam(admin, "bad code!", SETTINGS, T0)
    assert exc.value.code == "bad_code"
    bad = {**SETTINGS, "closes_at": T0, "duration_minutes": 0, "attempts_allowed": 0, "mc_policy": "some",
           "focus_loss_limit": 0, "title": " "}  # fmt: skip
    with pytest.raises(DomainError) as exc:
        definition.create_exam(admin, "X1", bad, T0)
    fields = {name for name, _message in exc.value.problems}
    assert fields == {"closes_at", "duration_minutes", "attempts_allowed", "mc_policy", "focus_loss_limit", "title"}
    with pytest.raises(DomainError) as exc:
        definition.create_exam(admin, "X2", {**SETTINGS, "opens_at": datetime(2026, 12, 5, 9)}, T0)  # no time zone
    assert {name for name, _m in exc.value.problems} == {"opens_at"}


def test_a_draft_changes_freely_and_every_change_is_audited(app, db, admin):
    exam = definition.create_exam(admin, "D1", SETTINGS, T0)
    changed = definition.update_settings(admin, exam, {"paper_mode": "fixed", "duration_minutes": 60}, T0)
    assert changed == ["duration_minutes", "paper_mode"] and exam.duration_minutes == 60
    assert audited("exam.settings")[-1].detail["duration_minutes"] == [90, 60]
    assert definition.update_settings(admin, exam, {"duration_minutes": 60}, T0) == []


def test_published_before_start_keeps_the_paper_settings(app, db, admin):
    bank = make_bank()
    fill_bank(bank, n=3)
    exam = make_exam(bank, pass_mark=4)
    publishing.publish(admin, exam, T0 - timedelta(days=1))
    with pytest.raises(DomainError) as exc:
        definition.update_settings(admin, exam, {"shuffle_options": False}, T0 - timedelta(hours=1))
    assert exc.value.problems[0][0] == "shuffle_options"
    # Everything else still may change: nobody has seen anything yet.
    definition.update_settings(admin, exam, {"duration_minutes": 45, "opens_at": T0 + timedelta(hours=1),
                                             "pass_mark": 5}, T0 - timedelta(hours=1))  # fmt: skip
    assert exam.duration_minutes == 45
    with pytest.raises(DomainError):
        definition.update_settings(admin, exam, {"pass_mark": 7}, T0 - timedelta(hours=1))  # more than the total


def test_after_the_first_start_only_safe_settings_change(app, db, admin):
    exam, user = started(db, duration_minutes=60)
    attempts.start_attempt(exam, user, T0)
    assert exam.first_started_at == T0
    for change in ({"duration_minutes": 90}, {"pass_mark": 1}, {"title": "新标题"},
                   {"opens_at": T0 - timedelta(hours=1)}, {"mc_policy": "partial"},
                   {"closes_at": exam.closes_at - timedelta(minutes=30)}):  # fmt: skip
        with pytest.raises(DomainError):
            definition.update_settings(admin, exam, change, T0 + timedelta(minutes=5))
    definition.update_settings(admin, exam, {"release_policy": "manual", "review_policy": "answers"}, T0)
    assert exam.release_policy == "manual"
    # Publishing the ranking list is a release-time choice: it may change while candidates sit, audited.
    assert definition.update_settings(admin, exam, {"publish_ranking": True}, T0) == ["publish_ranking"]
    with pytest.raises(DomainError):
        definition.update_settings(admin, exam, {"publish_ranking": "yes"}, T0)
    with pytest.raises(DomainError) as exc:
        definition.add_section(admin, exam, "二、判断题", "truefalse", 1, T0)
    assert exc.value.code == "locked"


def test_a_later_close_gives_time_to_attempts_the_old_close_cut_short(app, db, admin):
    exam, early = started(db, duration_minutes=60)  # closes at T0 + 3 h
    late = make_cadre(unit=early.cadre.unit).user
    prepare_papers(exam, T0)
    a = attempts.start_attempt(exam, early, T0)  # deadline T0 + 1 h: not cut short
    b = attempts.start_attempt(exam, late, T0 + timedelta(hours=2, minutes=30))  # cut short to the close
    assert b.deadline_at == exam.closes_at
    new_close = exam.closes_at + timedelta(hours=1)
    definition.update_settings(admin, exam, {"closes_at": new_close}, T0 + timedelta(hours=2, minutes=40))
    assert a.deadline_at == T0 + timedelta(hours=1)
    assert b.deadline_at == T0 + timedelta(hours=3, minutes=30)  # its full hour now
    entry = audited("exam.settings")[-1]
    assert entry.detail["deadlines_extended"] == 1 and entry.actor_id == admin.id
    with pytest.raises(DomainError):  # once closed, the close stays
        definition.update_settings(admin, exam, {"closes_at": new_close + timedelta(hours=1)}, new_close)


def test_released_exams_do_not_change(app, db, admin):
    exam, user = started(db, release_policy="manual")
    attempt = attempts.start_attempt(exam, user, T0)
    attempts.submit(attempt, T0 + timedelta(minutes=5))
    with pytest.raises(DomainError) as exc:
        definition.release_results(admin, exam, T0 + timedelta(hours=1))  # still open
    assert exc.value.code == "bad_transition"
    assert not visibility.result_visible(attempt, exam.closes_at + timedelta(hours=1))
    assert definition.release_results(admin, exam, exam.closes_at + timedelta(hours=1)) == 1
    assert exam.status == "released" and visibility.result_visible(attempt, exam.closes_at + timedelta(hours=1))
    with pytest.raises(DomainError):
        definition.update_settings(admin, exam, {"review_policy": "answers"}, exam.closes_at + timedelta(hours=2))
    with pytest.raises(DomainError):
        definition.set_eligibility(admin, exam, {}, exam.closes_at + timedelta(hours=2))


def test_release_waits_for_grading_and_finalizes_overdue_attempts(app, db, admin):
    exam, user = started(db, n=1, qtype="essay", pass_mark=1, release_policy="manual")
    attempt = attempts.start_attempt(exam, user, T0)
    answers.save_answer(attempt, 1, "论述", seq=1, now=T0 + timedelta(minutes=1))
    with pytest.raises(DomainError) as exc:
        definition.release_results(admin, exam, exam.closes_at + timedelta(minutes=5))
    assert exc.value.code == "not_graded"
    assert attempt.status == AttemptStatus.EXPIRED  # finalized with its saved answer before anything else
    essay = db.session.scalar(select(Answer).where(Answer.attempt_id == attempt.id))
    assert essay.value == "论述"


# ---------------------------------------------------------------- the paper


def test_sections_are_added_moved_and_removed_in_order(app, db, admin):
    exam = definition.create_exam(admin, "P1", SETTINGS, T0)
    one = definition.add_section(admin, exam, "一、单选题", "single", 2, T0)
    two = definition.add_section(admin, exam, "二、多选题", "multiple", 4, T0)
    three = definition.add_section(admin, exam, "三、判断题", "truefalse", 1, T0)
    definition.move_section(admin, three, -1, T0)
    in_order = [s.title for s in sorted(exam.sections, key=lambda s: s.position)]
    assert in_order == ["一、单选题", "三、判断题", "二、多选题"]
    definition.remove_section(admin, one, T0)
    assert [(s.position, s.id) for s in exam.sections] == [(1, three.id), (2, two.id)]
    for bad in (("", "single", 2), ("四", "unknown", 2), ("四", "single", 0)):
        with pytest.raises(DomainError):
            definition.add_section(admin, exam, *bad, T0)


def test_rules_are_checked_and_pools_counted(app, db, admin):
    bank, other = make_bank(), make_bank()
    law = make_category(bank, "党章党规")
    foreign = make_category(other, "别的")
    for i in range(4):
        make_question(bank=bank, status="active", stem=f"单选{i}______", category=law if i < 2 else None)
    exam = definition.create_exam(admin, "R1", {**SETTINGS, "pass_mark": 2}, T0)
    section = definition.add_section(admin, exam, "一、单选题", "single", 2, T0)
    rule = definition.add_rule(admin, section, T0, bank=bank, category=law, count=2)
    assert definition.rule_pool_size(rule) == 2
    for kwargs in ({"bank": bank, "category": foreign}, {"bank": None}, {"bank": bank, "low": 4, "high": 2},
                   {"bank": bank, "count": 0}):  # fmt: skip
        with pytest.raises(DomainError):
            definition.add_rule(admin, section, T0, **kwargs)
    definition.add_rule(admin, section, T0, bank=bank, count=3)  # only 2 are left after the first rule
    assert any("只有2" in p or "only 2" in p for p in check_pools(exam))
    definition.remove_rule(admin, section.rules[-1], T0)
    assert check_pools(exam) == []


def test_fixed_questions_all_or_nothing(app, db, admin):
    bank = make_bank()
    singles = fill_bank(bank, n=3)
    draft = make_question(bank=bank, stem="草稿______")
    essay = make_question(bank=bank, qtype="essay", status="active")
    exam = definition.create_exam(admin, "F1", {**SETTINGS, "paper_mode": "fixed", "pass_mark": 2}, T0)
    section = definition.add_section(admin, exam, "一、单选题", "single", 2, T0)
    with pytest.raises(DomainError) as exc:
        definition.add_fixed_questions(admin, section, [singles[0].id, draft.id, essay.id, 999999], T0)
    assert str(draft.id) in exc.value.message and str(essay.id) in exc.value.message and "999999" in exc.value.message
    assert section.fixed_items == []
    assert definition.add_fixed_questions(admin, section, [q.id for q in singles], T0) == 3
    with pytest.raises(DomainError):  # no question twice in one paper
        definition.add_fixed_questions(admin, section, [singles[0].id], T0)
    definition.move_fixed_item(admin, section.fixed_items[2], -2, T0)
    assert [i.version.question_id for i in section.fixed_items] == [singles[2].id, singles[0].id, singles[1].id]
    definition.remove_fixed_item(admin, section.fixed_items[0], T0)
    assert [(i.position, i.version.question_id) for i in section.fixed_items] == [(1, singles[0].id),
                                                                                   (2, singles[1].id)]  # fmt: skip
    with pytest.raises(DomainError):  # a drawn exam has rules, a fixed one questions
        definition.add_rule(admin, section, T0, bank=bank, count=1)


def test_withdraw_discards_unused_papers_and_their_exposure(app, db, admin):
    bank = make_bank()
    fill_bank(bank, n=3)
    unit = make_unit()
    for _ in range(2):
        make_cadre(unit=unit)
    exam = make_exam(bank, eligibility={"unit_ids": [unit.id]})
    publishing.publish(admin, exam, T0 - timedelta(days=1))
    assert sum(db.session.scalars(select(Question.exposure_count))) == 6
    with pytest.raises(DomainError):
        definition.add_section(admin, exam, "二", "single", 1, T0)
    assert definition.withdraw(admin, exam, T0 - timedelta(hours=2)) == 2
    assert exam.status == "draft" and db.session.scalar(select(func.count(Paper.id))) == 0
    assert sum(db.session.scalars(select(Question.exposure_count))) == 0
    definition.add_section(admin, exam, "二", "single", 1, T0)  # editable again


def test_no_withdraw_after_the_first_start(app, db, admin):
    exam, user = started(db)
    attempts.start_attempt(exam, user, T0)
    with pytest.raises(DomainError):
        definition.withdraw(admin, exam, T0 + timedelta(minutes=1))


# ---------------------------------------------------------------- who may sit it


def test_eligibility_rules_are_checked_and_published_exams_draw_papers_for_newcomers(app, db, admin):
    town, other = make_unit("青山镇"), make_unit("柳河镇")
    young = make_cadre(unit=town, birth_date=date(1995, 1, 1), rank="section_chief")
    elsewhere = make_cadre(unit=other, birth_date=date(1995, 1, 1), rank="section_chief")
    bank = make_bank()
    fill_bank(bank, n=3)
    exam = make_exam(bank)
    for bad in ({"unit_ids": [999999]}, {"ranks": ["general"]}, {"max_age": 35}, {"max_age": 5, "age_on": "2026-12-05"},
                {"political_statuses": ["x"]}, {"age_on": "5 December"}):  # fmt: skip
        with pytest.raises(DomainError):
            definition.set_eligibility(admin, exam, bad, T0)
    rules = {"unit_ids": [town.id], "ranks": ["section_chief"], "max_age": 35, "age_on": "2026-12-05"}
    assert definition.set_eligibility(admin, exam, rules, T0) == 0  # a draft draws nothing
    publishing.publish(admin, exam, T0 - timedelta(days=1))
    assert set(db.session.scalars(select(Paper.user_id))) == {young.user_id}
    drawn = definition.set_eligibility(admin, exam, {**rules, "unit_ids": [town.id, other.id]}, T0)
    assert drawn == 1 and elsewhere.user_id in set(db.session.scalars(select(Paper.user_id)))
    assert audited("exam.eligibility")[-1].detail["old"]["unit_ids"] == [town.id]


def test_a_person_removed_after_the_papers_were_drawn_cannot_start(app, db, admin):
    exam, user = started(db)
    assert db.session.scalar(select(Paper).where(Paper.user_id == user.id)) is not None
    eligibility.set_candidate(admin, exam, user, T0 - timedelta(hours=1), included=False)
    with pytest.raises(DomainError) as exc:
        attempts.start_attempt(exam, user, T0)
    assert exc.value.code == "not_eligible"


# ---------------------------------------------------------------- access code


def test_access_code(app, db, admin):
    exam, user = started(db)
    definition.set_access_code(admin, exam, "青山2026", T0 - timedelta(hours=1))
    assert "青山2026" not in exam.access_code_hash
    for wrong in (None, "", "青山2025"):
        with pytest.raises(DomainError) as exc:
            attempts.start_attempt(exam, user, T0, access_code=wrong)
        assert exc.value.code == "bad_access_code"
    assert attempts.start_attempt(exam, user, T0, access_code=" 青山2026 ").status == "in_progress"
    with pytest.raises(DomainError):
        definition.set_access_code(admin, exam, "abc", T0)  # too short
    definition.set_access_code(admin, exam, "", T0)
    assert exam.access_code_hash is None
    with pytest.raises(DomainError):
        definition.set_access_code(admin, exam, "12345", exam.closes_at)


# ---------------------------------------------------------------- integrity signals and the focus-loss limit


def test_focus_losses_submit_the_attempt_at_the_limit_with_its_answers(app, db):
    exam, user = started(db, focus_loss_limit=3, pass_mark=2)
    attempt = attempts.start_attempt(exam, user, T0)
    answers.save_answer(attempt, 1, right_answer(attempt, 1), seq=1, now=T0 + timedelta(minutes=1))
    timeline.record_event(attempt, "paste", T0 + timedelta(minutes=2), {"position": 1})
    for minute in (3, 4):
        timeline.record_event(attempt, "focus_loss", T0 + timedelta(minutes=minute))
    assert attempt.status == AttemptStatus.IN_PROGRESS and attempt.focus_losses == 2
    timeline.record_event(attempt, "focus_loss", T0 + timedelta(minutes=5))
    assert attempt.status == AttemptStatus.SUBMITTED and attempt.ended_at == T0 + timedelta(minutes=5)
    assert attempt.score == 2.0 and attempt.passed  # graded with the answer saved before
    kinds = [e.kind for e in timeline.attempt_events(attempt)]
    assert kinds == ["paste", "focus_loss", "focus_loss", "focus_loss", "auto_submit"]
    timeline.record_event(attempt, "focus_loss", T0 + timedelta(minutes=6))  # after the end: ignored
    assert attempt.focus_losses == 3
    with pytest.raises(DomainError):
        timeline.record_event(attempt, "auto_submit", T0)  # the server's own kind cannot be reported


def test_without_a_limit_focus_losses_are_only_counted(app, db):
    exam, user = started(db)
    attempt = attempts.start_attempt(exam, user, T0)
    for minute in range(10):
        timeline.record_event(attempt, "focus_loss", T0 + timedelta(minutes=minute))
    assert attempt.status == AttemptStatus.IN_PROGRESS and attempt.focus_losses == 10
    assert db.session.scalar(select(func.count(AttemptEvent.id))) == 10


# ---------------------------------------------------------------- regrading and the learning archive


def test_results_reach_the_archive_and_regrading_rewrites_them(app, db, admin):
    exam, user = started(db, pass_mark=4)
    attempt = attempts.start_attempt(exam, user, T0)
    for pos in (1, 2, 3):
        answers.save_answer(attempt, pos, right_answer(attempt, pos), seq=1, now=T0 + timedelta(minutes=5))
    attempts.submit(attempt, T0 + timedelta(minutes=30))
    record = db.session.scalar(select(ExamResultRecord).where(ExamResultRecord.attempt_id == attempt.id))
    assert (record.score, record.passed, record.final, record.user_id) == (6.0, True, True, user.id)
    assert record.time_used_seconds == 30 * 60 and record.sat_on == date(2026, 12, 5) and record.year == 2026
    assert record.exam_title == exam.title and record.total_points == 6.0
    # A key correction (the key of question 1 now names another option), then regrading.
    item = next(i for i in attempt.paper.items if i.position == 1)
    wrong = next(i for i in range(len(item.version.options)) if i != item.version.answer[0])
    db.session.add(KeyCorrection(exam_id=exam.id, question_version_id=item.question_version_id, answer=[wrong],
                                 reason="test", corrected_at=T0))  # fmt: skip
    db.session.flush()
    later = T0 + timedelta(days=1)
    changed = scoring.regrade(admin, exam, later)
    assert [(a.id, old, new) for a, old, new in changed] == [(attempt.id, 6.0, 4.0)]
    assert audited("exam.regraded")[-1].detail["changed"] == [
        {"attempt": attempt.id, "user": user.id, "old": 6.0, "new": 4.0, "items": [[1, 2.0, 0.0]]}
    ]
    db.session.refresh(record)
    assert record.score == 4.0 and record.passed and record.updated_at == later
    assert db.session.scalar(select(func.count(ExamResultRecord.id))) == 1


def test_archive_record_waits_for_essays(app, db):
    exam, user = started(db, n=1, qtype="essay", pass_mark=1)
    attempt = attempts.start_attempt(exam, user, T0)
    answers.save_answer(attempt, 1, "论述", seq=1, now=T0)
    attempts.submit(attempt, T0 + timedelta(minutes=10))
    record = db.session.scalar(select(ExamResultRecord))
    assert record.final is False and record.score is None and record.passed is None


def test_overdue_attempts_reach_the_archive_too(app, db):
    exam, user = started(db, duration_minutes=20)
    attempts.start_attempt(exam, user, T0)
    attempts.finalize_overdue(T0 + timedelta(hours=1))
    record = db.session.scalar(select(ExamResultRecord))
    assert record.score == 0.0 and record.time_used_seconds == 20 * 60 + 30  # the deadline plus the grace


def test_finalize_overdue_of_one_exam_leaves_the_others(app, db):
    exam, user = started(db, duration_minutes=20)
    other, other_user = started(db, duration_minutes=20, code="E2")
    attempts.start_attempt(exam, user, T0)
    attempts.start_attempt(other, other_user, T0)
    assert attempts.finalize_overdue(T0 + timedelta(hours=1), exam) == 1
    statuses = dict(db.session.execute(select(Attempt.exam_id, Attempt.status)).all())
    assert statuses == {exam.id: "expired", other.id: "in_progress"}


def test_exam_dates_stay_aware(app, db, admin):
    exam = definition.create_exam(admin, "TZ1", SETTINGS, T0)
    db.session.commit()
    db.session.expire_all()
    again = db.session.get(Exam, exam.id)
    assert again.opens_at == T0 and again.opens_at.tzinfo is not None
    assert definition.update_settings(admin, again, {"opens_at": T0.astimezone(UTC)}, T0) == []


def test_withdraw_then_publish_again(app, db, admin):
    bank = make_bank()
    fill_bank(bank, n=3)
    unit = make_unit()
    make_cadre(unit=unit)
    exam = make_exam(bank, eligibility={"unit_ids": [unit.id]})
    publishing.publish(admin, exam, T0 - timedelta(days=2))
    definition.withdraw(admin, exam, T0 - timedelta(days=1))
    from exam.models import PaperItem

    assert db.session.scalar(select(func.count(PaperItem.id))) == 0  # the items went with their papers
    assert publishing.publish(admin, exam, T0 - timedelta(hours=1)) == 1
    assert db.session.scalar(select(func.count(PaperItem.id))) == 3


def test_a_retake_gets_a_fresh_paper(app, db):
    exam, user = started(db, n=3, attempts_allowed=2)
    bank_questions = fill_bank(exam.sections[0].rules[0].bank, n=9)  # a larger pool, so papers differ
    assert bank_questions
    first = attempts.start_attempt(exam, user, T0)
    attempts.submit(first, T0 + timedelta(minutes=5))
    second = attempts.start_attempt(exam, user, T0 + timedelta(minutes=6))
    assert second.number == 2 and second.paper_id != first.paper_id
    papers = db.session.scalars(select(Paper).where(Paper.user_id == user.id).order_by(Paper.attempt_number)).all()
    assert [p.attempt_number for p in papers] == [1, 2] and papers[0].seed != papers[1].seed


def test_the_extension_uses_the_extra_time_of_the_start(app, db, admin):
    exam, user = started(db, duration_minutes=60)
    late = attempts.start_attempt(exam, user, exam.closes_at - timedelta(minutes=20))
    assert late.deadline_at == exam.closes_at and late.extra_minutes == 0
    eligibility.set_candidate(
        admin, exam, user, exam.closes_at - timedelta(minutes=19), included=None, extra_minutes=30
    )
    definition.update_settings(admin, exam, {"closes_at": exam.closes_at + timedelta(hours=2)},
                               exam.closes_at - timedelta(minutes=10))  # fmt: skip
    assert late.deadline_at == late.started_at + timedelta(minutes=60)  # not the 30 minutes given after its start


def test_nothing_about_candidates_changes_after_the_release(app, db, admin):
    exam, user = started(db, release_policy="manual")
    attempts.submit(attempts.start_attempt(exam, user, T0), T0 + timedelta(minutes=1))
    definition.release_results(admin, exam, exam.closes_at + timedelta(minutes=1))
    with pytest.raises(DomainError):
        eligibility.set_candidate(admin, exam, make_cadre().user, exam.closes_at + timedelta(hours=1), included=True)


def test_keys_are_reviewed_only_once_nobody_can_answer(app, db):
    exam, user = started(db, release_policy="immediate", review_policy="explanations")
    attempt = attempts.start_attempt(exam, user, T0)
    attempts.submit(attempt, T0 + timedelta(minutes=5))
    assert visibility.result_visible(attempt, T0 + timedelta(minutes=6))
    assert not visibility.review_visible(attempt, T0 + timedelta(minutes=6))
    assert not visibility.review_visible(attempt, exam.closes_at + timedelta(seconds=10))  # within the grace
    assert visibility.review_visible(attempt, exam.closes_at + timedelta(seconds=31))
