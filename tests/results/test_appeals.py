"""Appeals during the public notice and formal corrections of final results: an upheld appeal changes the total,
the ranking, the archive, the qualification (and so the certificate) and publishes a revised notice; every refusal
(after the deadline, a second appeal on an item, an objective item, not a candidate, a reviewer who marked the
answer or sat the exam, the same person approving their own correction) leaves nothing changed."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from archive.models import ExamResultRecord, Qualification
from core.audit import AuditEvent
from core.errors import DomainError
from core.models import now_utc
from core.policy import Role
from exam import answers, scoring
from exam.attempts import start_attempt, submit
from exam.integrity import rescoring
from exam.models import Answer
from reports.ranking import counted_attempts
from results import appeals, corrections, lifecycle, notices
from results.appeal_models import Appeal, AppealItem, Correction
from results.models import Notice, State
from tests.factories import make_cadre, make_open_exam, make_user
from tests.results.world import district_admin, essay, official_exam


def _in_notice(db, *, n=3, pass_mark=None, cycle=None):
    exam, people, attempts, registrar = official_exam(db, n=n)
    if pass_mark is not None or cycle:
        exam.pass_mark = pass_mark if pass_mark is not None else exam.pass_mark
        exam.qualification_cycle, exam.qualification_part = cycle, "political_theory" if cycle else None
        with rescoring("regrade"):
            for attempt in attempts:
                scoring.grade(attempt, now_utc())
    now = now_utc()
    lifecycle.check(district_admin(), exam, "", now)
    lifecycle.approve(district_admin(), exam, "", now)
    notice = notices.publish(registrar, exam, now, days=3, scope="candidates")
    db.session.commit()
    return exam, people, attempts, registrar, notice


def _counts(db):
    return (db.session.scalar(select(func.count(Appeal.id))), db.session.scalar(select(func.count(AppealItem.id))),
            db.session.scalar(select(func.count(Notice.id))), db.session.scalar(select(func.count(AuditEvent.id))),
            db.session.scalar(select(func.count(Correction.id))))  # fmt: skip


def _refused(db, action, code):
    before = _counts(db)
    with pytest.raises(DomainError) as exc:
        action()
    assert exc.value.code == code
    db.session.rollback()
    assert _counts(db) == before


def _ranks(exam) -> dict[int, int]:
    from core.extensions import db

    counted = counted_attempts(exam)
    return dict(db.session.execute(select(counted.c.user_id, counted.c.exam_rank)).all())


def _job_knowledge_pass(db, user, cycle):
    """A final pass of the cycle's other part for `user` (an exam outside the lifecycle, scored by its key)."""
    other, _first = make_open_exam(code="JK1", qtypes=("single",))
    other.qualification_cycle, other.qualification_part = cycle, "job_knowledge"
    other.eligibility = {"unit_ids": [user.cadre.unit_id]}
    db.session.commit()
    attempt = start_attempt(other, user, now_utc())
    item = attempt.paper.items[0]
    answers.save_answer(attempt, item.position, item.option_order.index(item.version.answer[0]), 1, now_utc())
    submit(attempt, now_utc())
    db.session.commit()


def test_an_upheld_appeal_changes_total_ranking_archive_certificate_and_notice(app, db):
    exam, people, attempts, registrar, notice = _in_notice(db, pass_mark=2, cycle="2026")
    candidate = people[1]  # 0 + 1 point: not passed, ranked second with people[2]
    _job_knowledge_pass(db, candidate, "2026")
    grader = make_user(roles=(Role.GRADER,))
    assert _ranks(exam)[candidate.id] == _ranks(exam)[people[2].id] == 2
    assert attempts[1].score == 1 and attempts[1].passed is False
    now = now_utc()
    written = essay(db, attempts[1])
    appeal = appeals.file(candidate, exam, {written.position: "第二个要点已答到"}, "论述题评分偏低", now)
    db.session.commit()
    item = appeal.items[0]
    assert item.reviewer_id == grader.id and item.old_points == 1  # registrar marked it: not them
    with pytest.raises(DomainError) as held:  # an open appeal holds the finalization, even after the period
        lifecycle.finalize(exam, notice.ends_at + timedelta(days=1))
    assert held.value.code == "appeals_open"
    db.session.rollback()

    appeals.decide(grader, item, True, 2, "第二个要点应给分", now)
    db.session.commit()
    db.session.refresh(attempts[1])
    assert attempts[1].score == 2 and attempts[1].passed is True
    assert _ranks(exam)[candidate.id] == 2 and _ranks(exam)[people[2].id] == 3
    record = db.session.scalar(select(ExamResultRecord).where(ExamResultRecord.attempt_id == attempts[1].id))
    assert record.score == 2 and record.passed and not record.final  # final only when the results are
    revised = lifecycle.current_notice(exam)
    assert revised.serial != notice.serial and revised.version == 2 and revised.ends_at >= notice.ends_at
    db.session.refresh(notice)
    assert notice.superseded
    listed = {row["user_id"]: row for row in revised.rows}
    assert listed[candidate.id]["total"] == 2 and listed[candidate.id]["passed"]
    assert appeal.decided_at is not None and appeals.open_count(exam) == 0
    assert db.session.scalar(select(func.count(Qualification.id)).where(Qualification.user_id == candidate.id)) == 0

    lifecycle.finalize(exam, revised.ends_at)
    db.session.commit()
    assert lifecycle.state(exam, revised.ends_at) == State.FINAL
    db.session.refresh(record)
    assert record.final
    qualification = db.session.scalar(select(Qualification).where(Qualification.user_id == candidate.id))
    assert qualification is not None and qualification.political_result_id == record.id  # the certificate's ground


def test_a_rejected_appeal_changes_no_mark_and_no_notice(app, db):
    exam, people, attempts, _registrar, notice = _in_notice(db, n=2)
    grader = make_user(roles=(Role.GRADER,))
    written = essay(db, attempts[1])
    appeal = appeals.file(people[1], exam, {written.position: ""}, "理由", now_utc())
    appeals.decide(grader, appeal.items[0], False, None, "评分符合参考答案", now_utc())
    db.session.commit()
    assert written.points == 1 and appeal.items[0].decision == "rejected"
    assert lifecycle.current_notice(exam).serial == notice.serial
    assert appeals.open_count(exam) == 0


def test_filing_refusals_leave_nothing_changed(app, db):
    exam, people, attempts, _registrar, notice = _in_notice(db, n=2)
    make_user(roles=(Role.GRADER,))
    outsider = make_cadre().user
    db.session.commit()
    written = essay(db, attempts[0])
    objective = next(a for a in db.session.scalars(select(Answer).where(Answer.attempt_id == attempts[0].id))
                     if a.position != written.position)  # fmt: skip
    now = now_utc()
    _refused(db, lambda: appeals.file(people[0], exam, {written.position: ""}, "", now), "no_reason")
    _refused(db, lambda: appeals.file(people[0], exam, {}, "理由", now), "no_items")
    _refused(db, lambda: appeals.file(people[0], exam, {objective.position: ""}, "理由", now), "not_appealable")
    _refused(db, lambda: appeals.file(outsider, exam, {written.position: ""}, "理由", now), "no_result")
    _refused(db, lambda: appeals.file(people[0], exam, {written.position: ""}, "理由", notice.ends_at), "closed")
    appeals.file(people[0], exam, {written.position: ""}, "理由", now)
    db.session.commit()
    _refused(db, lambda: appeals.file(people[0], exam, {written.position: ""}, "再次申诉", now), "appealed_already")


def test_no_appeal_before_the_notice(app, db):
    exam, people, attempts, _registrar = official_exam(db, n=1)
    written = essay(db, attempts[0])
    _refused(db, lambda: appeals.file(people[0], exam, {written.position: ""}, "理由", now_utc()), "closed")


def test_the_reviewer_never_marked_the_answer_nor_sat_the_exam(app, db):
    exam, people, attempts, registrar, _notice = _in_notice(db, n=2)
    # A cadre of the exam who is also a grader (combined roles), and a grader who marked the answer: neither.
    sitter = people[1]
    sitter.roles.append(type(registrar.roles[0])(role=Role.GRADER))
    registrar.roles.append(type(registrar.roles[0])(role=Role.GRADER))
    db.session.commit()
    written = essay(db, attempts[0])
    appeal = appeals.file(people[0], exam, {written.position: ""}, "理由", now_utc())
    db.session.commit()
    item = appeal.items[0]
    assert item.reviewer_id is None  # nobody fit: the district gives it to someone
    admin = district_admin()
    db.session.commit()
    assert appeals.unassigned(admin) == [item] and appeals.unassigned(sitter) == []  # not to a candidate
    for unfit in (sitter, registrar, admin):  # admin: not a grader, so not their own reviewer either
        _refused(db, lambda unfit=unfit: appeals.assign(admin, item, unfit, now_utc()), "bad_reviewer")
    fresh = make_user(roles=(Role.GRADER,))
    db.session.commit()
    appeals.assign(admin, item, fresh, now_utc())
    db.session.commit()
    assert item.reviewer_id == fresh.id
    _refused(db, lambda: appeals.decide(registrar, item, True, 2, "改判", now_utc()), "not_yours")
    _refused(db, lambda: appeals.decide(fresh, item, True, None, "改判", now_utc()), "no_points")
    _refused(db, lambda: appeals.decide(fresh, item, True, 2, "", now_utc()), "no_reason")
    _refused(db, lambda: appeals.decide(fresh, item, True, 9, "改判", now_utc()), "bad_points")
    appeals.decide(fresh, item, False, None, "维持", now_utc())
    db.session.commit()
    _refused(db, lambda: appeals.decide(fresh, item, True, 2, "改判", now_utc()), "decided")


def test_formal_corrections_after_final_by_two_people(app, db):
    exam, people, attempts, registrar, notice = _in_notice(db, n=2)
    written = essay(db, attempts[1])
    requester, approver = district_admin(), district_admin(Role.SYSTEM_ADMIN)
    db.session.commit()
    _refused(db, lambda: corrections.request(requester, exam, written, 2, "漏计", now_utc()), "bad_state")
    lifecycle.finalize(exam, notice.ends_at)
    db.session.commit()
    later = notice.ends_at + timedelta(days=1)
    _refused(db, lambda: corrections.request(requester, exam, written, 2, "", later), "no_reason")
    _refused(db, lambda: corrections.request(requester, exam, written, 5, "漏计", later), "bad_points")
    _refused(db, lambda: corrections.request(requester, exam, written, 1, "漏计", later), "unchanged")
    correction = corrections.request(requester, exam, written, 2, "复核发现漏计一个要点", later)
    db.session.commit()
    _refused(db, lambda: corrections.request(approver, exam, written, 2, "再次", later), "pending")
    _refused(db, lambda: corrections.decide(requester, correction, True, "同意", later), "same_person")
    corrections.decide(approver, correction, True, "同意更正", later)
    db.session.commit()
    db.session.refresh(attempts[1])
    assert (correction.old_points, correction.new_points, correction.old_score, correction.new_score) == (1, 2, 1, 2)
    assert attempts[1].score == 2 and lifecycle.state(exam, later) == State.FINAL
    record = db.session.scalar(select(ExamResultRecord).where(ExamResultRecord.attempt_id == attempts[1].id))
    assert record.score == 2 and record.final
    revised = lifecycle.current_notice(exam)
    assert revised.serial == correction.notice_serial != notice.serial
    _refused(db, lambda: corrections.decide(approver, correction, False, "撤回", later), "decided")


def test_the_appeal_by_hand_blind_to_the_reviewer(client, auth, db):
    exam, people, attempts, registrar, _notice = _in_notice(db, n=2)
    grader = make_user(roles=(Role.GRADER,), name="审核阅卷人")
    db.session.commit()
    candidate = people[1]
    written = essay(db, attempts[1])
    auth.login(candidate.username)
    result = client.get(f"/my/attempts/{attempts[1].id}/result").get_data(as_text=True)
    assert 'id="appeal-link"' in result
    page = client.get(f"/results/exams/{exam.code}/appeal").get_data(as_text=True)
    assert 'id="appeal-window" data-open="1"' in page and f'value="{written.position}"' in page
    response = client.post_form(f"/results/exams/{exam.code}/appeal",
                                {"items": str(written.position), f"reason-{written.position}": "要点二",
                                 "reason": "论述题评分偏低"})  # fmt: skip
    assert response.status_code == 302
    item = db.session.scalar(select(AppealItem))
    assert item.reviewer_id == grader.id and item.reason == "要点二"
    page = client.get(f"/results/exams/{exam.code}/appeal").get_data(as_text=True)
    assert 'data-decision=""' in page and 'id="nothing-to-appeal"' in page  # appealed once: nothing left
    # Not the reviewer's business who appealed; other candidates and non-reviewers see no item.
    auth.logout()
    auth.login(people[0].username)
    assert client.get(f"/results/appeals/{item.id}").status_code == 403
    auth.logout()
    auth.login(grader.username)
    assert f'data-item="{item.id}"' in client.get("/results/appeals/").get_data(as_text=True)
    page = client.get(f"/results/appeals/{item.id}").get_data(as_text=True)
    assert 'id="decision-form"' in page and candidate.name not in page and "论述题评分偏低" in page
    response = client.post_form(f"/results/appeals/{item.id}", {"decision": "upheld", "reason": "改判"})
    assert response.status_code == 200 and item.decided_at is None  # no new mark: refused, shown
    client.post_form(f"/results/appeals/{item.id}", {"decision": "upheld", "points": "2", "reason": "要点二应给分"})
    db.session.expire_all()
    assert item.decision == "upheld" and written.points == 2
    auth.logout()
    auth.login(candidate.username)
    page = client.get(f"/results/exams/{exam.code}/appeal").get_data(as_text=True)
    assert 'data-decision="upheld"' in page and "要点二应给分" in page
    # The district sees the appeal on the exam's results page.
    auth.logout()
    auth.login_as("org_admin")
    page = client.get(f"/results/exams/{exam.code}").get_data(as_text=True)
    assert f'data-item="{item.id}" data-decision="upheld"' in page


def test_checked_results_change_only_by_send_back_appeal_or_correction(app, db):
    """Once checked, an official exam's marks no longer change by grading, a key correction or a regrade."""
    from exam import grading

    exam, people, attempts, registrar = official_exam(db, n=2)
    now = now_utc()
    lifecycle.check(district_admin(), exam, "", now)
    db.session.commit()
    written = essay(db, attempts[1])
    grader = make_user(roles=(Role.GRADER,))
    db.session.commit()
    _refused(db, lambda: grading.grade_answer(grader, written, 2, "", now), "results_locked")
    _refused(db, lambda: scoring.regrade(registrar, exam, now), "results_locked")
    lifecycle.send_back(district_admin(), exam, "第二题需重评", now)
    db.session.commit()
    grading.grade_answer(grader, written, 2, "", now)  # back in marking: graded again
    db.session.commit()
    assert written.points == 2


def test_a_district_admin_who_sat_reads_no_marking_figures(app, db):
    from core import policy

    exam, people, _attempts, _registrar = official_exam(db, n=1)
    sitter = people[0]
    sitter.roles.append(type(_registrar.roles[0])(role=Role.ORG_ADMIN))
    db.session.commit()
    assert not policy.may_review_marking(sitter, exam.id)
    assert policy.may_review_marking(district_admin(), exam.id)
