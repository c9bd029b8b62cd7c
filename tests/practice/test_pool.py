"""The practice pool and its one rule: open banks and categories, a question's use, and never a question a formal
exam ahead can draw (drafts included), until its close."""

from datetime import timedelta

import pytest

from core.errors import DomainError
from core.models import now_utc
from core.policy import Role
from exam import definition, papers
from exam.models import Exam, ExamSection, PaperMode, SectionRule
from practice.pool import Pool, question_access
from question_bank import services as qb
from tests.factories import make_bank, make_category, make_question, make_unit, make_user


@pytest.fixture
def admin(db):
    return make_user(roles=(Role.SYSTEM_ADMIN,))


def _exam(code, *, bank, closes_in=timedelta(days=3), status="draft", mode=PaperMode.DRAWN, category=None):
    now = now_utc()
    exam = Exam(code=code, title=code, subject="政治理论", duration_minutes=60, opens_at=now - timedelta(hours=2),
                closes_at=now + closes_in, pass_mark=1, status=status, paper_mode=mode)  # fmt: skip
    section = ExamSection(position=1, title="一、单选题", qtype="single", points_per_question=1)
    if mode == PaperMode.DRAWN:
        section.rules.append(SectionRule(bank=bank, category=category, count=1))
    exam.sections.append(section)
    from core.extensions import db

    db.session.add(exam)
    db.session.flush()
    return exam


def test_a_closed_bank_offers_nothing_and_an_opened_one_its_active_questions(db, admin):
    bank = make_bank(actor=admin)
    active = make_question(bank, actor=admin, status="active")
    draft = make_question(bank, actor=admin, status="draft")
    exam_only = make_question(bank, actor=admin, status="active")
    qb.set_usage(admin, exam_only, "exam", now_utc())
    assert Pool(now_utc()).open_among([active.id, draft.id, exam_only.id]) == set()
    qb.open_for_practice(admin, bank, True, now_utc())
    assert Pool(now_utc()).open_among([active.id, draft.id, exam_only.id]) == {active.id}
    access = question_access([active.id, draft.id, exam_only.id], now_utc())
    assert access == {active.id: "practice", draft.id: "inactive", exam_only.id: "exam_only"}


def test_a_practice_only_question_is_open_in_a_closed_bank_and_never_drawn_for_an_exam(db, admin):
    bank = make_bank(actor=admin)
    for_practice = make_question(bank, actor=admin, status="active")
    qb.set_usage(admin, for_practice, "practice", now_utc())
    ordinary = make_question(bank, actor=admin, status="active")
    assert Pool(now_utc()).open_among([for_practice.id, ordinary.id]) == {for_practice.id}
    exam = _exam("P1", bank=bank, closes_in=timedelta(hours=1))
    rule = exam.sections[0].rules[0]
    assert [q for q, _v in papers.rule_pool(rule, "single")] == [ordinary.id]
    fixed = _exam("P2", bank=bank, mode=PaperMode.FIXED)
    with pytest.raises(DomainError) as refused:
        definition.add_fixed_questions(admin, fixed.sections[0], [for_practice.id], now_utc())
    assert refused.value.code == "bad_item"


def test_an_opened_category_opens_its_subtree_only(db, admin):
    bank = make_bank(actor=admin)
    chapter = make_category(bank, "第一章")
    section = make_category(bank, "第一节", parent=chapter)
    other = make_category(bank, "第二章")
    inside = make_question(bank, actor=admin, status="active", category=section)
    outside = make_question(bank, actor=admin, status="active", category=other)
    loose = make_question(bank, actor=admin, status="active")
    qb.open_for_practice(admin, bank, True, now_utc(), category=chapter)
    assert Pool(now_utc()).open_among([inside.id, outside.id, loose.id]) == {inside.id}


@pytest.mark.parametrize("status", ["draft", "published"])
def test_a_formal_exam_ahead_holds_what_it_can_draw_until_it_closes(db, admin, status):
    bank = make_bank(actor=admin)
    chapter, other = make_category(bank, "第一章"), make_category(bank, "第二章")
    held = make_question(bank, actor=admin, status="active", category=chapter)
    free = make_question(bank, actor=admin, status="active", category=other)
    truefalse = make_question(bank, "truefalse", actor=admin, status="active", category=chapter)
    qb.open_for_practice(admin, bank, True, now_utc())
    exam = _exam("H1", bank=bank, status=status, category=chapter)
    pool = Pool(now_utc())
    # The rule draws single-choice questions of 第一章: the true/false one and 第二章's stay open.
    assert pool.open_among([held.id, free.id, truefalse.id]) == {free.id, truefalse.id}
    assert question_access([held.id], now_utc()) == {held.id: "held"}
    # After the close (and the network grace) the exam no longer holds it.
    later = exam.closes_at + timedelta(minutes=5)
    assert Pool(later).open_among([held.id]) == {held.id}


def test_a_question_without_a_category_is_not_held_by_a_rule_drawing_one_chapter(db, admin):
    bank = make_bank(actor=admin)
    chapter = make_category(bank, "第一章")
    held = make_question(bank, actor=admin, status="active", category=chapter)
    loose = make_question(bank, actor=admin, status="active")
    qb.open_for_practice(admin, bank, True, now_utc())
    _exam("H2", bank=bank, category=chapter)
    assert Pool(now_utc()).open_among([held.id, loose.id]) == {loose.id}
    assert question_access([held.id, loose.id], now_utc()) == {held.id: "held", loose.id: "practice"}


def test_a_question_both_closed_and_held_is_closed_and_practice_means_open(db, admin):
    closed_bank, opened_bank = make_bank(actor=admin), make_bank(actor=admin)
    both = make_question(closed_bank, actor=admin, status="active")
    held = make_question(opened_bank, actor=admin, status="active")
    free = make_question(opened_bank, "truefalse", actor=admin, status="active")
    qb.open_for_practice(admin, opened_bank, True, now_utc())
    _exam("H3", bank=closed_bank)
    _exam("H4", bank=opened_bank)
    pool = Pool(now_utc())
    access = pool.access([both.id, held.id, free.id])
    assert access == {both.id: "closed", held.id: "held", free.id: "practice"}  # the exam's close would not open it
    assert {q for q, reason in access.items() if reason == "practice"} == pool.open_among(access)


def test_a_fixed_paper_and_a_drawn_paper_hold_their_questions(db, admin):
    bank = make_bank(actor=admin)
    fixed_q = make_question(bank, actor=admin, status="active")
    qb.open_for_practice(admin, bank, True, now_utc())
    exam = _exam("F1", bank=bank, mode=PaperMode.FIXED)
    definition.add_fixed_questions(admin, exam.sections[0], [fixed_q.id], now_utc())
    assert Pool(now_utc()).open_among([fixed_q.id]) == set()


def test_only_those_who_manage_the_bank_open_it(db, admin):
    bank = make_bank(actor=admin, owner_unit=make_unit("甲单位"))
    author_elsewhere = make_user(roles=(Role.AUTHOR,), unit=make_unit("乙单位"))
    cadre = make_user(roles=(Role.CADRE,))
    for who in (author_elsewhere, cadre):
        with pytest.raises(DomainError):
            qb.open_for_practice(who, bank, True, now_utc())
    assert not bank.practice_open
