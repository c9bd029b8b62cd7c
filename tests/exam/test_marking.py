"""Marking at scale (exam.marking): assignment, single and double marking with the agreed mean's rounding,
arbitration, blindness, every refusal leaving nothing changed, combined roles, consistency figures and samples."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from accounts.models import RoleAssignment
from core.audit import AuditEvent
from core.errors import DomainError
from core.extensions import db as _db
from core.models import now_utc
from core.policy import Role
from exam import answers, grading, marking, papers
from exam.attempts import start_attempt, submit
from exam.models import Answer, Attempt, Exam, Mark, MarkingSample, PaperItem
from tests.factories import make_cadre, make_open_exam, make_user


def sat(db, n=2, points=10, code="MK1"):
    """An exam (a single choice and an essay of `points` points) sat and submitted by `n` candidates who wrote
    essays; returns (exam, people, attempts, essay version id)."""
    exam, first = make_open_exam(code=code, qtypes=("single", "essay"))
    people = [first] + [make_cadre(unit=first.cadre.unit).user for _ in range(n - 1)]
    papers.prepare_papers(exam, now_utc())
    exam.sections[1].points_per_question = points  # (papers drawn, none used yet: their items may change)
    for item in db.session.scalars(select(PaperItem).where(PaperItem.section_id == exam.sections[1].id)):
        item.points = points
    db.session.flush()
    attempts = []
    for i, user in enumerate(people):
        attempt = start_attempt(exam, user, now_utc())
        for item in attempt.paper.items:
            value = f"第{i}位考生的论述" if item.section.qtype == "essay" else item.option_order.index(0)
            answers.save_answer(attempt, item.position, value, 1, now_utc())
        submit(attempt, now_utc())
        attempts.append(attempt)
    db.session.commit()
    version = next(i for i in attempts[0].paper.items if i.section.qtype == "essay").question_version_id
    return exam, people, attempts, version


def essay(db, attempt) -> Answer:
    item = next(i for i in attempt.paper.items if i.section.qtype == "essay")
    return db.session.scalar(select(Answer).where(Answer.attempt_id == attempt.id, Answer.position == item.position))


def planned(db, n=2, mode="double", tolerance=1, points=10, markers=2, arbitrators=1):
    """An exam sat by `n` with a marking plan: graders (markers) and arbitrators assigned to its essay."""
    exam, people, attempts, version = sat(db, n=n, points=points)
    admin = make_user(roles=(Role.ORG_ADMIN,))
    marking.set_plan(admin, exam, mode, tolerance, now_utc())
    graders = [make_user(roles=(Role.GRADER,)) for _ in range(markers)]
    for g in graders:
        marking.assign(admin, exam, version, g, "marker", now_utc())
    judges = [make_user(roles=(Role.GRADER,)) for _ in range(arbitrators)]
    for j in judges:
        marking.assign(admin, exam, version, j, "arbitrator", now_utc())
    db.session.commit()
    return exam, people, attempts, version, admin, graders, judges


def state(db, answer):
    """What a refusal must leave as it was: the marks, the answer's mark, the attempt's total, the audit log."""
    db.session.expire_all()
    row = db.session.get(Answer, answer.id)
    attempt = db.session.get(Attempt, row.attempt_id)
    marks = db.session.execute(select(Mark.kind, Mark.grader_id, Mark.points).order_by(Mark.id)).all()
    audits = db.session.scalar(select(func.count()).select_from(AuditEvent))
    return marks, row.points, row.grader_id, attempt.score, attempt.fully_graded, audits


def refused(db, answer, code, call):
    before = state(db, answer)
    with pytest.raises(DomainError) as exc:
        call()
    assert exc.value.code == code
    db.session.rollback()
    assert state(db, answer) == before


# ---------------------------------------------------------------- the rule, hand-worked


@pytest.mark.parametrize(
    "a, b, top, final",
    [
        (7, 8, 10, 7.5),  # mean 7.5
        (7, 7.5, 10, 7.5),  # mean 7.25: half up to 7.5
        (6, 7, 10, 6.5),  # mean 6.5
        (7.5, 8, 10, 8),  # mean 7.75: to 8
        (6, 6.5, 10, 6.5),  # mean 6.25: to 6.5
        (0, 0.5, 10, 0.5),  # mean 0.25: to 0.5
        (1, 1, 10, 1),
        (2.3, 2.2, 2.3, 2.3),  # mean 2.25 → 2.5, capped at the maximum 2.3
        (10, 9.5, 10, 10),  # mean 9.75 → 10
    ],
)
def test_the_agreed_mark_is_the_mean_rounded_half_up_to_a_half_and_capped(a, b, top, final):
    assert marking.agreed_mark(a, b, top) == final
    assert marking.agreed_mark(b, a, top) == final


def test_within_the_tolerance_the_final_mark_is_the_mean(app, db):
    exam, people, attempts, version, admin, (g1, g2), _j = planned(db, tolerance=1)
    answer = essay(db, attempts[0])
    grading.grade_answer(g1, answer, 7, "观点清楚", now_utc())  # grade_answer delegates to the plan
    db.session.expire_all()
    assert db.session.get(Answer, answer.id).points is None
    assert not db.session.get(Attempt, attempts[0].id).fully_graded
    marking.mark_answer(g2, answer, 8, "论证略弱", now_utc())
    db.session.expire_all()
    answer = db.session.get(Answer, answer.id)
    assert answer.points == 7.5 and answer.grader_id == g2.id
    kinds = db.session.execute(select(Mark.kind, Mark.grader_id, Mark.points).order_by(Mark.id)).all()
    assert kinds == [("first", g1.id, 7), ("second", g2.id, 8), ("agreed", g2.id, 7.5)]
    attempt = db.session.get(Attempt, attempts[0].id)
    assert attempt.fully_graded and attempt.score == 2 + 7.5  # the single choice's 2 and the essay's 7.5
    entry = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "answer.graded"))
    assert entry.detail["kind"] == "agreed" and entry.detail["new"] == 7.5 and entry.detail["score_new"] == 9.5


def test_six_and_seven_with_a_tolerance_of_one_give_six_and_a_half(app, db):
    exam, people, attempts, version, admin, (g1, g2), _j = planned(db, tolerance=1)
    answer = essay(db, attempts[0])
    marking.mark_answer(g1, answer, 6, "", now_utc())
    marking.mark_answer(g2, answer, 7, "", now_utc())
    assert db.session.get(Answer, answer.id).points == 6.5


def test_beyond_the_tolerance_an_arbitrator_decides_seeing_both(app, db):
    exam, people, attempts, version, admin, (g1, g2), (judge,) = planned(db, tolerance=1)
    answer = essay(db, attempts[0])
    marking.mark_answer(g1, answer, 3, "偏题", now_utc())
    marking.mark_answer(g2, answer, 4.5, "尚可", now_utc())  # 1.5 apart: beyond 1
    db.session.expire_all()
    assert db.session.get(Answer, answer.id).points is None
    assert [a.id for a, _i in marking.arbitration_queue(exam, judge)] == [answer.id]
    assert marking.arbitration_queue(exam, g1) == []  # markers arbitrate nothing
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "answer.to_arbitration")).detail[
        "difference"] == 1.5  # fmt: skip
    third = make_user(roles=(Role.GRADER,))
    marking.assign(admin, exam, version, third, "marker", now_utc())
    db.session.commit()
    refused(db, answer, "in_arbitration", lambda: marking.mark_answer(third, answer, 4, "", now_utc()))
    marking.arbitrate(judge, answer, 4, "以仲裁为准", now_utc())
    db.session.commit()
    answer = db.session.get(Answer, answer.id)
    assert (answer.points, answer.grader_id, answer.comment) == (4, judge.id, "以仲裁为准")
    assert db.session.get(Attempt, attempts[0].id).score == 2 + 4
    assert marking.arbitration_queue(exam, judge) == []
    refused(db, answer, "not_in_arbitration", lambda: marking.arbitrate(judge, answer, 5, "", now_utc()))


def test_exactly_the_tolerance_agrees(app, db):
    exam, people, attempts, version, admin, (g1, g2), _j = planned(db, tolerance=2)
    answer = essay(db, attempts[0])
    marking.mark_answer(g1, answer, 5, "", now_utc())
    marking.mark_answer(g2, answer, 7, "", now_utc())
    assert db.session.get(Answer, answer.id).points == 6


def test_single_marking_is_final_at_once(app, db):
    exam, people, attempts, version, admin, (g1, g2), _j = planned(db, mode="single")
    answer = essay(db, attempts[0])
    marking.mark_answer(g1, answer, 9, "好", now_utc())
    assert db.session.get(Answer, answer.id).points == 9
    assert db.session.execute(select(Mark.kind, Mark.points)).all() == [("first", 9)]
    db.session.commit()
    refused(db, answer, "decided", lambda: marking.mark_answer(g2, answer, 8, "", now_utc()))
    assert not marking.all_final(exam) and marking.unfinished(exam) == 1
    marking.mark_answer(g2, essay(db, attempts[1]), 8, "", now_utc())
    assert marking.all_final(exam) and marking.unfinished(exam) == 0
    late = make_cadre(unit=people[0].cadre.unit).user
    papers.prepare_papers(exam, now_utc())
    start_attempt(exam, late, now_utc())
    assert not marking.all_final(exam)  # an attempt still running: not every item has its final mark


def test_an_item_has_its_own_rule(app, db):
    exam, people, attempts, version, admin, (g1, g2), _j = planned(db, mode="single")
    marking.set_item(admin, exam, version, "double", 0.5, now_utc())
    answer = essay(db, attempts[0])
    marking.mark_answer(g1, answer, 6, "", now_utc())
    assert db.session.get(Answer, answer.id).points is None
    marking.mark_answer(g2, answer, 6.5, "", now_utc())
    assert db.session.get(Answer, answer.id).points == 6.5  # 6.25 half up


def test_every_refusal_leaves_nothing_changed(app, db):
    exam, people, attempts, version, admin, (g1, g2), (judge,) = planned(db, tolerance=1)
    answer = essay(db, attempts[0])
    stranger = make_user(roles=(Role.GRADER,))
    refused(db, answer, "not_assigned", lambda: marking.mark_answer(stranger, answer, 5, "", now_utc()))
    refused(db, answer, "not_assigned", lambda: marking.mark_answer(judge, answer, 5, "", now_utc()))
    for bad in (-1, 10.5, True, "5", None):
        refused(db, answer, "bad_points", lambda bad=bad: marking.mark_answer(g1, answer, bad, "", now_utc()))
    refused(db, answer, "bad_comment", lambda: marking.mark_answer(g1, answer, 5, "长" * 2001, now_utc()))
    refused(db, answer, "not_in_arbitration", lambda: marking.arbitrate(judge, answer, 5, "", now_utc()))
    marking.mark_answer(g1, answer, 5, "", now_utc())
    db.session.commit()
    refused(db, answer, "already_marked", lambda: marking.mark_answer(g1, answer, 6, "", now_utc()))
    refused(db, answer, "not_in_arbitration", lambda: marking.arbitrate(judge, answer, 5, "", now_utc()))
    refused(db, answer, "marking_started", lambda: marking.set_item(admin, exam, version, "single", 1, now_utc()))
    refused(db, answer, "marking_started", lambda: marking.set_item(admin, exam, version, "double", 2, now_utc()))
    refused(db, answer, "marking_started", lambda: marking.set_plan(admin, exam, "single", 1, now_utc()))
    marking.set_item(admin, exam, version, "double", 1, now_utc())  # the same rule again: no change
    marking.mark_answer(g2, answer, 5.5, "", now_utc())
    db.session.commit()
    refused(db, answer, "decided", lambda: marking.mark_answer(stranger, answer, 6, "", now_utc()))
    refused(db, answer, "decided", lambda: marking.mark_answer(g2, answer, 6, "", now_utc()))
    objective = db.session.scalar(
        select(Answer).where(Answer.attempt_id == attempts[0].id, Answer.position != answer.position)
    )
    refused(db, answer, "not_manual", lambda: marking.mark_answer(g1, objective, 1, "", now_utc()))
    refused(db, answer, "not_manual", lambda: marking.set_final_mark(admin, objective, 1, kind="appeal", comment="",
                                                                    now=now_utc()))  # fmt: skip
    refused(db, answer, "bad_kind", lambda: marking.set_final_mark(admin, answer, 1, kind="sample", comment="",
                                                                  now=now_utc()))  # fmt: skip


def test_nobody_marks_their_own_answer_whatever_their_roles(app, db):
    exam, people, attempts, version, admin, (g1, g2), (judge,) = planned(db, tolerance=1)
    exam.closes_at = now_utc() - timedelta(minutes=1)  # closed: a candidate who grades may grade others
    sitter = people[1]
    sitter.roles.append(RoleAssignment(role=Role.GRADER))
    sitter.roles.append(RoleAssignment(role=Role.SYSTEM_ADMIN))  # an admin and grader who sat the exam
    db.session.flush()
    marking.assign(admin, exam, version, sitter, "marker", now_utc())
    marking.assign(admin, exam, version, sitter, "arbitrator", now_utc())
    db.session.commit()
    own = essay(db, attempts[1])
    refused(db, own, "not_yours", lambda: marking.mark_answer(sitter, own, 5, "", now_utc()))
    refused(db, own, "not_yours", lambda: grading.grade_answer(sitter, own, 5, "", now_utc()))
    # their own answer is never in their queue; others' are
    assert [a.id for a, _i in db.session.execute(marking.queue(exam, sitter))] == [essay(db, attempts[0]).id]
    marking.mark_answer(g1, own, 2, "", now_utc())
    marking.mark_answer(g2, own, 8, "", now_utc())
    db.session.commit()
    assert marking.arbitration_queue(exam, sitter) == []
    refused(db, own, "not_yours", lambda: marking.arbitrate(sitter, own, 5, "", now_utc()))
    # marking another's answer works for the same person
    other = essay(db, attempts[0])
    marking.mark_answer(sitter, other, 6, "", now_utc())
    assert db.session.scalar(select(Mark.grader_id).where(Mark.answer_id == other.id)) == sitter.id
    # a marker of the answer never arbitrates it
    marking.mark_answer(g1, other, 1, "", now_utc())
    db.session.commit()
    refused(db, other, "already_marked", lambda: marking.arbitrate(sitter, other, 5, "", now_utc()))
    # an admin not assigned marks nothing
    refused(db, other, "decided" if other.points is not None else "not_assigned",
            lambda: marking.mark_answer(admin, essay(db, attempts[0]), 5, "", now_utc()))  # fmt: skip


def test_a_grader_who_sits_a_running_exam_marks_nothing_of_it(app, db):
    exam, people, attempts, version, admin, (g1, g2), _j = planned(db)
    sitter = people[0]
    sitter.roles.append(RoleAssignment(role=Role.GRADER))
    marking.assign(admin, exam, version, sitter, "marker", now_utc())
    db.session.commit()
    other = essay(db, attempts[1])
    refused(db, other, "not_yours", lambda: marking.mark_answer(sitter, other, 5, "", now_utc()))


def test_queues_hold_only_assigned_questions_still_needing_the_graders_mark(app, db):
    exam, people, attempts, version, admin, (g1, g2), (judge,) = planned(db, n=3, tolerance=1)
    third = make_user(roles=(Role.GRADER,))
    db.session.commit()
    ids = [essay(db, a).id for a in attempts]
    assert [a.id for a, _i in db.session.execute(marking.queue(exam, g1))] == ids
    assert list(db.session.execute(marking.queue(exam, third))) == []
    assert grading.progress(exam, third).total == 0  # the grading pages follow the plan
    assert grading.next_to_grade(exam, grader=third) is None
    assert [r.exam.code for r in grading.queue(g1, now_utc())] == [exam.code]
    assert grading.queue(third, now_utc()) == []
    first = db.session.get(Answer, ids[0])
    marking.mark_answer(g1, first, 5, "", now_utc())
    assert [a.id for a, _i in db.session.execute(marking.queue(exam, g1))] == ids[1:]
    assert [a.id for a, _i in db.session.execute(marking.queue(exam, g2))] == ids  # still needs a second mark
    assert grading.next_to_grade(exam, grader=g1).id == ids[1]
    assert (grading.progress(exam, g1).graded, grading.progress(exam, g1).total) == (1, 3)
    marking.mark_answer(g2, first, 9, "", now_utc())  # to arbitration
    (row,) = grading.queue(judge, now_utc())  # an arbitrator who marks nothing finds the exam on the grading list
    assert (row.exam.id, row.progress.total, row.next, row.arbitration) == (exam.id, 0, None, 1)
    assert grading.queue(g1, now_utc())[0].arbitration is None
    marking.assign(admin, exam, version, third, "marker", now_utc())
    assert [a.id for a, _i in db.session.execute(marking.queue(exam, third))] == ids[1:]  # not the disputed one
    rows = {r.item.version.id: r for r in marking.progress(exam)}
    row = rows[version]
    assert (row.total, row.first, row.second, row.final, row.arbitration) == (3, 1, 1, 0, 1)
    assert [(u.id, done, left) for u, done, left in row.markers] == [(g1.id, 1, 2), (g2.id, 1, 2),
                                                                     (third.id, 0, 2)]  # fmt: skip
    assert [u.id for u in row.arbitrators] == [judge.id]


def test_consistency_figures_on_a_hand_worked_case(app, db):
    """Three answers marked by g1 and g2 (tolerance 1): g1 gives 4, 6, 8; g2 gives 5, 6, 5.
    g1: mean 6, population sd sqrt(8/3) = 1.63; g2: mean 5.33, sd sqrt(2/9) = 0.47. Differences 1, 0, 3: mean
    4/3 = 1.33; within 1: two of three (0.6667); sent to arbitration: one of three (0.3333)."""
    exam, people, attempts, version, admin, (g1, g2), _j = planned(db, n=3, tolerance=1)
    for attempt, a, b in zip(attempts, (4, 6, 8), (5, 6, 5), strict=True):
        answer = essay(db, attempt)
        marking.mark_answer(g1, answer, a, "", now_utc())
        marking.mark_answer(g2, answer, b, "", now_utc())
    figures = {f.grader.id: f for f in marking.consistency(exam)}
    one, two = figures[g1.id], figures[g2.id]
    assert (one.marked, one.mean, one.std, one.pairs) == (3, 6, 1.63, 3)
    assert (two.marked, two.mean, two.std, two.pairs) == (3, 5.33, 0.47, 3)
    for f in (one, two):
        assert (f.mean_difference, f.within, f.arbitrated) == (1.33, 0.6667, 0.3333)


def test_samples_are_drawn_deterministically_and_re_marked_blind(app, db):
    exam, people, attempts, version, admin, (g1, g2), _j = planned(db, n=4, mode="single")
    chief = make_user(roles=(Role.GRADER,))
    marking.set_chief(admin, exam, chief, now_utc())
    for i, attempt in enumerate(attempts):
        marking.mark_answer(g1 if i < 3 else g2, essay(db, attempt), 6 + i, "", now_utc())
    db.session.commit()
    with pytest.raises(DomainError) as exc:
        marking.draw_samples(g1, exam, 50, now_utc())
    assert exc.value.code == "not_chief"
    db.session.rollback()
    with pytest.raises(DomainError) as exc:
        marking.draw_samples(chief, exam, 0, now_utc())
    assert exc.value.code == "bad_percent"
    db.session.rollback()
    assert marking.draw_samples(chief, exam, 50, now_utc()) == 2 + 1  # ceil(3 × 50 %) of g1's, ceil(1 × 50 %) of g2's
    drawn = db.session.execute(select(MarkingSample.grader_id, MarkingSample.answer_id)).all()
    assert marking.draw_samples(chief, exam, 50, now_utc()) == 0  # drawn already
    # deterministic: the same exam and marks give the same draw
    db.session.rollback()
    _db.session.execute(text("DELETE FROM marking_samples"))
    assert marking.draw_samples(chief, exam, 50, now_utc()) == 3
    assert db.session.execute(select(MarkingSample.grader_id, MarkingSample.answer_id)).all() == drawn
    db.session.commit()
    picked = [a for a, _i in marking.sample_queue(exam)]
    assert len(picked) == 3
    target = picked[0]
    final = target.points
    refused(db, target, "not_chief", lambda: marking.remark_sample(g2, target, 1, "", now_utc()))
    refused(db, target, "bad_points", lambda: marking.remark_sample(chief, target, 11, "", now_utc()))
    marking.remark_sample(chief, target, final - 2, "偏高", now_utc())
    db.session.commit()
    assert db.session.get(Answer, target.id).points == final  # the final mark stays
    refused(db, target, "already_marked", lambda: marking.remark_sample(chief, target, 1, "", now_utc()))
    undrawn = next(essay(db, a) for a in attempts if essay(db, a).id not in {p.id for p in picked})
    refused(db, undrawn, "not_drawn", lambda: marking.remark_sample(chief, undrawn, 1, "", now_utc()))
    summaries = {s.grader.id: s for s in marking.sample_differences(exam)}
    owner = db.session.scalar(select(Mark.grader_id).where(Mark.answer_id == target.id, Mark.kind == "first"))
    summary = summaries[owner]
    assert [r.difference for r in summary.done] == [2]
    assert (summary.mean_difference, summary.mean_abs_difference, summary.max_abs_difference) == (2, 2, 2)
    assert len(marking.sample_queue(exam)) == 2


def test_a_second_mark_of_the_same_kind_is_refused_by_the_database(app, db):
    exam, people, attempts, version, admin, (g1, g2), _j = planned(db)
    answer = essay(db, attempts[0])
    marking.mark_answer(g1, answer, 5, "", now_utc())
    db.session.commit()
    before = state(db, answer)
    with pytest.raises(DomainError) as exc:  # as if two first marks raced past the checks
        marking._add_mark(Mark(answer_id=answer.id, grader_id=g2.id, kind="first", points=6, marked_at=now_utc()))
    assert exc.value.code == "already_marked"
    db.session.rollback()
    assert state(db, answer) == before


def test_a_mark_is_never_changed_in_the_database(app, db):
    exam, people, attempts, version, admin, (g1, g2), _j = planned(db)
    marking.mark_answer(g1, essay(db, attempts[0]), 5, "", now_utc())
    db.session.commit()
    with pytest.raises(DBAPIError), db.session.begin_nested():
        db.session.execute(text("UPDATE marks SET points = 9"))
    with pytest.raises(DBAPIError), db.session.begin_nested():
        db.session.execute(text("DELETE FROM marks"))
    db.session.rollback()
    assert db.session.scalar(select(Mark.points)) == 5


def test_only_graders_are_assigned_and_only_written_questions(app, db):
    exam, people, attempts, version, admin, (g1, g2), _j = planned(db)
    with pytest.raises(DomainError) as exc:
        marking.assign(admin, exam, version, people[0], "marker", now_utc())  # a plain cadre
    assert exc.value.code == "not_a_grader"
    objective = next(i for i in attempts[0].paper.items if i.section.qtype == "single").question_version_id
    with pytest.raises(DomainError) as exc:
        marking.assign(admin, exam, objective, g1, "marker", now_utc())
    assert exc.value.code == "not_in_exam"
    with pytest.raises(DomainError) as exc:
        marking.assign(admin, exam, version, g1, "marker", now_utc())
    assert exc.value.code == "already_assigned"
    marking.unassign(admin, exam, version, g1, "marker", now_utc())
    assert list(db.session.execute(marking.queue(exam, g1))) == []
    with pytest.raises(DomainError) as exc:
        marking.set_plan(admin, exam, "triple", 1, now_utc())
    assert exc.value.code == "bad_mode"


def test_no_marking_after_the_release(app, db):
    from exam import definition

    exam, people, attempts, version, admin, (g1, g2), _j = planned(db, mode="single")
    for attempt in attempts:
        marking.mark_answer(g1, essay(db, attempt), 5, "", now_utc())
    exam.closes_at = now_utc() - timedelta(minutes=1)
    definition.release_results(admin, exam, now_utc())
    db.session.commit()
    exam = db.session.get(Exam, exam.id)
    with pytest.raises(DomainError) as exc:
        marking.set_plan(admin, exam, "double", 1, now_utc())
    assert exc.value.code == "locked"


def test_set_final_mark_is_the_appeals_door_too(app, db):
    """An appeal decision (built on set_final_mark, kind appeal) changes a decided mark and the total, after the
    release too; each decision is a new row, the old marks stay."""
    from exam import definition

    exam, people, attempts, version, admin, (g1, g2), _j = planned(db, n=1, mode="single")
    answer = essay(db, attempts[0])
    marking.mark_answer(g1, answer, 5, "", now_utc())
    exam.closes_at = now_utc() - timedelta(minutes=1)
    definition.release_results(admin, exam, now_utc())
    db.session.commit()
    marking.set_final_mark(g2, answer, 7, kind="appeal", comment="申诉成立", now=now_utc())
    marking.set_final_mark(g2, answer, 6.5, kind="appeal", comment="复议", now=now_utc())
    db.session.commit()
    answer = db.session.get(Answer, answer.id)
    assert (answer.points, answer.comment, answer.grader_id) == (6.5, "复议", g2.id)
    assert db.session.get(Attempt, attempts[0].id).score == 2 + 6.5
    assert db.session.execute(select(Mark.kind, Mark.points).order_by(Mark.id)).all() == [
        ("first", 5), ("appeal", 7), ("appeal", 6.5)
    ]  # fmt: skip
