"""The check report (复核) on hand-built exams: each check finds what it is for, and stays quiet otherwise."""

import json
from datetime import timedelta

from sqlalchemy import select

from core.models import now_utc
from core.policy import Role
from exam import adjustments, answers, attempts, checks, grading, publishing
from exam.integrity import rescoring
from exam.models import Answer, Exam, ExamSection, PaperItem, SectionRule
from question_bank import services as qb
from sitting import incidents
from tests.factories import content, make_bank, make_cadre, make_sitting, make_unit, make_user


def make_exam(n: int, code: str = "CHK1", unit=None):
    """An open exam of 100 points (a true/false question of 10, an essay of 90), pass mark 60, for the cadres of
    `unit` (a new one unless given) and its sub-units, and `n` new cadres of that unit."""
    now = now_utc()
    bank = make_bank()
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    qb.create_question(admin, bank, "truefalse", content("truefalse"), now, status="active")
    qb.create_question(admin, bank, "essay", content("essay"), now, status="active")
    unit = unit or make_unit()
    people = [make_cadre(unit=unit).user for _ in range(n)]
    exam = Exam(code=code, title="复核测试", subject="政治理论", duration_minutes=60,
                opens_at=now - timedelta(hours=1), closes_at=now + timedelta(hours=2), pass_mark=60,
                eligibility={"unit_ids": [unit.id]})  # fmt: skip
    for i, (qtype, points) in enumerate((("truefalse", 10), ("essay", 90)), start=1):
        section = ExamSection(position=i, title=f"第{i}部分", qtype=qtype, points_per_question=points)
        section.rules.append(SectionRule(bank=bank, count=1))
        exam.sections.append(section)
    from core.extensions import db

    db.session.add(exam)
    db.session.flush()
    publishing.publish(admin, exam, now)
    db.session.flush()
    return exam, people, admin


def _positions(attempt) -> dict[str, int]:
    from core.extensions import db

    items = db.session.scalars(select(PaperItem).where(PaperItem.paper_id == attempt.paper_id))
    return {item.section.qtype: item.position for item in items}


def sit(exam, user, essay: float | None, grader, right: bool = True, submit: bool = True):
    """`user` sits the exam: the true/false question right (10) or wrong, an essay graded `essay` points (None:
    left to mark)."""
    from core.extensions import db

    now = now_utc()
    attempt = attempts.start_attempt(exam, user, now)
    where = _positions(attempt)
    answers.save_answer(attempt, where["truefalse"], right, 1, now)
    answers.save_answer(attempt, where["essay"], "行文目的不同", 1, now)
    if not submit:
        return attempt
    attempts.submit(attempt, now)
    if essay is not None:
        answer = db.session.scalar(
            select(Answer).where(Answer.attempt_id == attempt.id, Answer.position == where["essay"])
        )
        grading.grade_answer(grader, answer, essay, "", now)
    db.session.flush()
    return attempt


def rows_of(report, code: str) -> list[int]:
    return [r.get("attempt_id") for r in report.item(code).rows]


def test_a_clean_exam_has_nothing_to_look_at(db):
    exam, people, admin = make_exam(2)
    a, b = sit(exam, people[0], 60, admin), sit(exam, people[1], 75, admin)
    assert (a.score, b.score) == (70, 85)
    report = checks.check_report(exam, now_utc())
    assert [i.code for i in report.items] == list(checks.CODES)
    assert report.ok and all(i.count == 0 for i in report.items)
    snapshot = json.loads(json.dumps(report.to_json()))
    assert snapshot["ok"] is True and snapshot["exam_id"] == exam.id
    assert [i["code"] for i in snapshot["items"]] == list(checks.CODES)
    assert snapshot["rules"]["near_pass_margin"] == 5.0  # 5 % of 100 points is more than 2 points


def test_a_total_that_is_not_its_answers_sum_is_found(db):
    exam, people, admin = make_exam(2)
    a = sit(exam, people[0], 60, admin)
    sit(exam, people[1], 75, admin)
    answer = db.session.scalar(select(Answer).where(Answer.attempt_id == a.id, Answer.points == 60))
    with rescoring("regrade"):  # a point changed without the total following it
        answer.points = 55
        db.session.flush()
    report = checks.check_report(exam, now_utc())
    item = report.item("sums")
    assert not item.ok and rows_of(report, "sums") == [a.id]
    assert item.rows[0]["score"] == 70 and item.rows[0]["answers_sum"] == 65
    assert item.rows[0]["sheet"] == grading.blind_number(a)


def test_answers_still_to_mark_and_attempts_still_running_are_found(db):
    exam, people, admin = make_exam(3)
    done = sit(exam, people[0], 60, admin)
    waiting = sit(exam, people[1], None, admin)
    running = sit(exam, people[2], None, admin, submit=False)
    report = checks.check_report(exam, now_utc())
    rows = {r["attempt_id"]: r for r in report.item("unmarked").rows}
    assert set(rows) == {waiting.id, running.id} and done.id not in rows
    assert rows[waiting.id]["unmarked"] == 1 and rows[running.id]["in_progress"] is True


def test_zero_scores_are_found(db):
    exam, people, admin = make_exam(2)
    zero = sit(exam, people[0], 0, admin, right=False)
    sit(exam, people[1], 0, admin)  # 10 points: not zero
    report = checks.check_report(exam, now_utc())
    assert zero.score == 0 and rows_of(report, "zero") == [zero.id]


def test_scores_just_under_the_pass_mark_are_found(db):
    exam, people, admin = make_exam(4)
    edge = sit(exam, people[0], 45, admin)  # 55: 5 under 60, the margin
    close = sit(exam, people[1], 49.5, admin)  # 59.5
    sit(exam, people[2], 44, admin)  # 54: further
    sit(exam, people[3], 50, admin)  # 60: passed
    report = checks.check_report(exam, now_utc())
    assert sorted(rows_of(report, "near_pass")) == sorted([edge.id, close.id])
    assert {r["attempt_id"]: r["below"] for r in report.item("near_pass").rows}[edge.id] == 5


def test_a_score_far_from_the_others_is_found_among_enough(db):
    exam, people, admin = make_exam(11)
    sits = [sit(exam, p, 60, admin) for p in people[:10]]  # 70 each
    low = sit(exam, people[10], 0, admin)  # 10
    report = checks.check_report(exam, now_utc())
    assert rows_of(report, "outliers") == [low.id]
    assert report.item("outliers").rows[0]["z"] < -3
    adjustments.void(sits[0], admin, "违纪", now_utc())  # nine others left: too few to tell
    assert checks.check_report(exam, now_utc()).item("outliers").ok


def test_incidents_from_the_sitting_are_listed(db):
    exam, people, admin = make_exam(2)
    session, rooms = make_sitting(exam, actor=admin)
    attempt = sit(exam, people[0], 60, admin)
    sit(exam, people[1], 60, admin)
    assert checks.check_report(exam, now_utc()).item("incidents").ok
    now = now_utc()
    incident = incidents.record_incident(exam, people[0], "materials", now - timedelta(minutes=1), "桌下发现手机", "",
                                         session=session, room=rooms[0], actor=admin, now=now)  # fmt: skip
    rows = checks.check_report(exam, now_utc()).item("incidents").rows
    assert [(r["incident_id"], r["attempt_id"], r["decision"]) for r in rows] == [(incident.id, attempt.id, None)]


def test_voided_scores_are_listed_and_leave_the_other_checks(db):
    exam, people, admin = make_exam(2)
    voided = sit(exam, people[0], 0, admin, right=False)
    sit(exam, people[1], 60, admin)
    adjustments.void(voided, admin, "替考", now_utc())
    report = checks.check_report(exam, now_utc())
    assert rows_of(report, "voided") == [voided.id] and report.item("voided").rows[0]["reason"] == "替考"
    assert report.item("zero").ok  # a voided score counts for nothing, zero or not


def test_absent_candidates_are_listed(db):
    exam, people, admin = make_exam(3)
    sit(exam, people[0], 60, admin)
    report = checks.check_report(exam, now_utc())
    assert sorted(r["user_id"] for r in report.item("absent").rows) == sorted([people[1].id, people[2].id])
    assert not report.ok
