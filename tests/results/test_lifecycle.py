"""The state machine of an official exam's results: the automatic `marked`, the moves in order (each a history row
and an audit event), every move out of order refused with nothing changed, the two-person rule, combined roles,
finalization (the job, the CLI, the archive final only after it) and the hooks (no release by hand, no score before
the notice)."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from archive.models import ExamResultRecord, Qualification
from core.audit import AuditEvent
from core.errors import DomainError
from core.models import now_utc
from core.policy import Role
from exam import definition, visibility
from exam.models import Exam
from results import lifecycle, notices
from results.jobs import finalize_due_now
from results.models import Notice, OfficialExam, State, StateChange
from tests.factories import make_open_exam, make_user
from tests.results.world import district_admin, essay, official_exam


def _snapshot(db, exam):
    row = db.session.scalar(select(OfficialExam).where(OfficialExam.exam_id == exam.id))
    return (row.stage, row.checked_by_id, row.approved_by_id, row.final_at,
            db.session.scalar(select(func.count(StateChange.id))),
            db.session.scalar(select(func.count(Notice.id))),
            db.session.scalar(select(func.count(AuditEvent.id))))  # fmt: skip


def _refused(db, exam, move, code="bad_transition"):
    before = _snapshot(db, exam)
    with pytest.raises(DomainError) as exc:
        move()
    assert exc.value.code == code
    db.session.rollback()
    assert _snapshot(db, exam) == before


def test_marking_reads_marked_once_closed_and_graded(app, db):
    exam, _people, attempts, _r = official_exam(db, graded=False, close=False)
    now = now_utc()
    assert lifecycle.state(exam, now) == State.MARKING
    assert lifecycle.state(exam, exam.closes_at + timedelta(minutes=1)) == State.MARKING  # essays wait
    for a in attempts:
        from exam import grading

        grading.grade_answer(district_admin(), essay(db, a), 1, "", now)
    assert lifecycle.state(exam, now) == State.MARKING  # still open
    assert lifecycle.state(exam, exam.closes_at + timedelta(minutes=1)) == State.MARKED
    other, _ = make_open_exam(code="NOF")
    assert lifecycle.state(other, now) is None


def test_the_whole_way_in_order(app, db):
    exam, people, attempts, registrar = official_exam(db)
    checker, approver = district_admin(), district_admin(Role.SYSTEM_ADMIN)
    now = now_utc()
    lifecycle.check(checker, exam, "总分核对无误", now, sample_note="抽查10%，无差异")
    assert lifecycle.state(exam, now) == State.CHECKED
    row = lifecycle.official(exam)
    assert row.checked_by_id == checker.id and {i["code"] for i in row.check_report["items"]} >= {
        "zero",
        "near_pass",
        "sums",
    }
    assert row.check_report["sample_note"] == "抽查10%，无差异"
    lifecycle.approve(approver, exam, "同意", now)
    notice = notices.publish(registrar, exam, now, days=3, scope="candidates")
    assert lifecycle.state(exam, now) == State.NOTICE
    assert notice.version == 1 and not notice.superseded and notice.ends_at > now
    db.session.commit()
    with pytest.raises(DomainError) as exc:
        lifecycle.finalize(exam, now)
    assert exc.value.code == "notice_running"
    db.session.rollback()
    lifecycle.finalize(exam, notice.ends_at)
    assert lifecycle.state(exam, now) == State.FINAL
    history = [(c.from_state, c.to_state) for c in lifecycle.history(exam)]
    assert history == [("marked", "checked"), ("checked", "approved"), ("approved", "notice"), ("notice", "final")]
    actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.target == f"exam:{exam.code}")))
    assert {"results.registered", "results.checked", "results.approved", "results.notice",
            "results.notice_published", "results.final"} <= actions  # fmt: skip


def test_every_move_out_of_order_is_refused_with_nothing_changed(app, db):
    exam, _people, _attempts, registrar = official_exam(db, graded=False)
    checker, approver = district_admin(), district_admin()
    db.session.commit()
    now = now_utc()
    # marking: nothing but the marking itself moves it
    _refused(db, exam, lambda: lifecycle.check(checker, exam, "", now))
    _refused(db, exam, lambda: lifecycle.approve(approver, exam, "", now))
    _refused(db, exam, lambda: notices.publish(registrar, exam, now, days=5, scope="candidates"))
    _refused(db, exam, lambda: lifecycle.finalize(exam, now))
    _refused(db, exam, lambda: lifecycle.send_back(checker, exam, "理由", now))
    _refused(db, exam, lambda: notices.publish_revised(registrar, exam, "理由", now))
    from exam import grading

    for a in _attempts:
        grading.grade_answer(registrar, essay(db, a), 1, "", now)
    db.session.commit()
    # marked
    _refused(db, exam, lambda: lifecycle.approve(approver, exam, "", now))
    _refused(db, exam, lambda: notices.publish(registrar, exam, now, days=5, scope="candidates"))
    _refused(db, exam, lambda: lifecycle.finalize(exam, now))
    lifecycle.check(checker, exam, "", now)
    db.session.commit()
    # checked
    _refused(db, exam, lambda: lifecycle.check(approver, exam, "", now))
    _refused(db, exam, lambda: notices.publish(registrar, exam, now, days=5, scope="candidates"))
    _refused(db, exam, lambda: lifecycle.finalize(exam, now))
    lifecycle.approve(approver, exam, "", now)
    db.session.commit()
    # approved
    _refused(db, exam, lambda: lifecycle.check(checker, exam, "", now))
    _refused(db, exam, lambda: lifecycle.approve(approver, exam, "", now))
    _refused(db, exam, lambda: lifecycle.finalize(exam, now))
    notice = notices.publish(registrar, exam, now, days=1, scope="candidates")
    db.session.commit()
    # notice
    _refused(db, exam, lambda: lifecycle.check(checker, exam, "", now))
    _refused(db, exam, lambda: lifecycle.approve(approver, exam, "", now))
    _refused(db, exam, lambda: notices.publish(registrar, exam, now, days=5, scope="candidates"))
    _refused(db, exam, lambda: lifecycle.send_back(checker, exam, "理由", now))
    lifecycle.finalize(exam, notice.ends_at)
    db.session.commit()
    # final
    for move in (lambda: lifecycle.check(checker, exam, "", now), lambda: lifecycle.approve(approver, exam, "", now),
                 lambda: notices.publish(registrar, exam, now, days=5, scope="candidates"),
                 lambda: lifecycle.finalize(exam, notice.ends_at),
                 lambda: notices.publish_revised(registrar, exam, "理由", now),
                 lambda: lifecycle.send_back(checker, exam, "理由", now)):  # fmt: skip
        _refused(db, exam, move)


def test_two_person_rule_and_sending_back(app, db):
    exam, _people, _attempts, _registrar = official_exam(db)
    checker, approver = district_admin(), district_admin()
    now = now_utc()
    lifecycle.check(checker, exam, "", now)
    db.session.commit()
    _refused(db, exam, lambda: lifecycle.approve(checker, exam, "", now), code="same_person")
    _refused(db, exam, lambda: lifecycle.send_back(approver, exam, "  ", now), code="reason_required")
    lifecycle.approve(approver, exam, "", now)
    lifecycle.send_back(approver, exam, "第二题分数有误，重新阅卷", now)
    row = lifecycle.official(exam)
    assert lifecycle.state(exam, now) == State.MARKED and row.checked_by_id is None and row.approved_by_id is None
    assert lifecycle.history(exam)[-1].note == "第二题分数有误，重新阅卷"
    # after a send-back the former checker may approve a new check by someone else
    lifecycle.check(approver, exam, "", now)
    lifecycle.approve(checker, exam, "", now)
    assert lifecycle.state(exam, now) == State.APPROVED


@pytest.mark.parametrize("role", [Role.ORG_ADMIN, Role.SYSTEM_ADMIN])
def test_an_admin_who_sat_the_exam_decides_nothing_of_its_results(app, db, role):
    exam, people, _attempts, registrar = official_exam(db, n=3)
    sitter = people[1]
    from accounts.models import RoleAssignment

    sitter.roles.append(RoleAssignment(role=role))
    db.session.commit()
    assert role in sitter.role_names
    other, approver, grader = district_admin(), district_admin(), make_user(roles=(Role.GRADER,))
    db.session.commit()
    now = now_utc()
    _refused(db, exam, lambda: lifecycle.check(sitter, exam, "", now), code="own_results")
    lifecycle.check(other, exam, "", now)
    db.session.commit()
    _refused(db, exam, lambda: lifecycle.approve(sitter, exam, "", now), code="own_results")
    lifecycle.approve(approver, exam, "", now)
    db.session.commit()
    _refused(db, exam, lambda: notices.publish(sitter, exam, now, days=5, scope="candidates"), code="own_results")
    # a grader or plain cadre holds no lifecycle action
    _refused(db, exam, lambda: notices.publish(grader, exam, now, days=5, scope="candidates"), code="forbidden")


def test_registration_only_before_the_close(app, db):
    exam, _ = make_open_exam(code="LATE")
    admin = district_admin()
    db.session.commit()
    with pytest.raises(DomainError):
        lifecycle.register(admin, exam, exam.closes_at + timedelta(seconds=1))
    lifecycle.register(admin, exam, now_utc(), scope="units", days=7)
    with pytest.raises(DomainError):
        lifecycle.register(admin, exam, now_utc())


def test_no_release_by_hand_and_no_score_before_the_notice(app, db):
    exam, people, attempts, registrar = official_exam(db)
    now = now_utc()
    db.session.commit()
    with pytest.raises(DomainError) as exc:
        definition.release_results(registrar, exam, now)
    assert exc.value.code == "official_exam"
    db.session.rollback()
    assert db.session.get(Exam, exam.id).status == "published"
    # the release policy says "immediate": official, still nothing before the notice (nor the keys)
    assert not visibility.result_visible(attempts[0], now) and not visibility.review_visible(attempts[0], now)
    lifecycle.check(district_admin(), exam, "", now)
    lifecycle.approve(district_admin(), exam, "", now)
    assert not visibility.result_visible(attempts[0], now)
    notices.publish(registrar, exam, now, days=5, scope="candidates")
    assert visibility.result_visible(attempts[0], now) and visibility.review_visible(attempts[0], now)
    # an exam that is not official keeps its release policy and its release by hand
    plain, candidate = make_open_exam(code="PLAIN", release="manual")
    plain.closes_at = now - timedelta(minutes=1)
    assert definition.release_results(registrar, plain, now) == 0


def test_archive_final_only_after_final_and_the_qualification_from_it(app, db):
    exam, people, attempts, registrar = official_exam(db)
    exam.qualification_cycle, exam.qualification_part = "2026", "political_theory"
    db.session.commit()
    from exam import scoring

    for a in attempts:
        scoring.grade(a, now_utc())  # records rewritten with the cycle
    records = db.session.scalars(select(ExamResultRecord).where(ExamResultRecord.exam_id == exam.id)).all()
    assert records and not any(r.final for r in records)
    now = now_utc()
    lifecycle.check(district_admin(), exam, "", now)
    lifecycle.approve(district_admin(), exam, "", now)
    notice = notices.publish(registrar, exam, now, days=1, scope="candidates")
    records = db.session.scalars(select(ExamResultRecord).where(ExamResultRecord.exam_id == exam.id)).all()
    assert not any(r.final for r in records)
    done, held = finalize_due_now(notice.ends_at)
    assert done == [exam.code] and held == {}
    records = db.session.scalars(select(ExamResultRecord).where(ExamResultRecord.exam_id == exam.id)).all()
    assert all(r.final for r in records)
    assert db.session.scalar(select(func.count(Qualification.id))) == 0  # one part of two: no qualification yet


def test_open_appeals_hold_the_finalization(app, db):
    exam, _people, _attempts, registrar = official_exam(db)
    now = now_utc()
    lifecycle.check(district_admin(), exam, "", now)
    lifecycle.approve(district_admin(), exam, "", now)
    notice = notices.publish(registrar, exam, now, days=1, scope="candidates")
    db.session.commit()
    open_count = {"n": 1}

    def count(e):
        return open_count["n"] if e.id == exam.id else 0

    lifecycle.register_open_appeals(count)
    try:
        assert finalize_due_now(notice.ends_at - timedelta(seconds=1)) == ([], {})  # not due yet
        done, held = finalize_due_now(notice.ends_at)
        assert done == [] and exam.code in held
        assert lifecycle.state(exam, now) == State.NOTICE
        open_count["n"] = 0
        assert finalize_due_now(notice.ends_at)[0] == [exam.code]
    finally:
        lifecycle._open_appeals.remove(count)


def test_the_periodic_job_and_the_cli(app, db, runner):
    from jobs.registry import periodic_work

    assert "results.finalize-due" in {p.name for p in periodic_work()}
    exam, _people, _attempts, registrar = official_exam(db)
    now = now_utc()
    result = runner.invoke(args=["results", "status", exam.code])
    assert result.exit_code == 0 and f"{exam.code}: marked" in result.output
    lifecycle.check(district_admin(), exam, "", now)
    lifecycle.approve(district_admin(), exam, "", now)
    notice = notices.publish(registrar, exam, now - timedelta(days=30), days=1, scope="candidates")
    db.session.commit()
    assert notice.ends_at < now
    result = runner.invoke(args=["results", "finalize-due"])
    assert result.exit_code == 0 and f"{exam.code}: final" in result.output
    db.session.expire_all()
    assert lifecycle.state(db.session.get(Exam, exam.id), now) == State.FINAL
    result = runner.invoke(args=["results", "status", exam.code])
    assert f"{exam.code}: final" in result.output and "notice -> final" in result.output


def test_attempts_graded_before_the_registration_stop_being_final(app, db, client):
    """An exam made official while open, after some candidates finished: their archived results (graded, so final
    under the old rule) become provisional with the exam's, and no score of theirs leaves early (a review found it
    through the admin API)."""
    from accounts.services import create_api_token

    exam, candidate = make_open_exam(code="EARLY", qtypes=("single", "truefalse"))
    token = {"Authorization": f"Bearer {create_api_token(candidate, 'sit', now_utc())}"}
    db.session.commit()
    attempt = client.post("/api/v1/exams/EARLY/attempts", headers=token, json={}).get_json()
    assert client.post(f"/api/v1/attempts/{attempt['id']}/submit", headers=token).status_code == 200
    record = db.session.scalar(select(ExamResultRecord).where(ExamResultRecord.exam_id == exam.id))
    assert record.final is True  # not official yet: graded is final
    lifecycle.register(district_admin(), db.session.get(Exam, exam.id), now_utc())
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(ExamResultRecord, record.id).final is False
