"""Grading by hand (blind, bounded points, the total final once all is graded, item by item or sheet by sheet)
and key corrections (regrading, audit of old and new scores, the candidate told)."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.audit import AuditEvent
from core.errors import DomainError
from core.models import now_utc
from core.policy import Role
from exam import answers, grading, papers
from exam.attempts import start_attempt, submit
from exam.models import Answer, Attempt, Exam
from tests.factories import make_cadre, make_open_exam, make_user

ANON = "anonymous"
ROLES = [ANON, *[r.value for r in Role]]
GRADERS = {"system_admin", "org_admin", "grader"}


def sat(db, n=2, release="manual", review="answers"):
    """An exam (a single choice, a true/false, an essay) sat and submitted by `n` candidates who wrote essays."""
    exam, first = make_open_exam(release=release, review=review)
    people = [first] + [make_cadre(unit=first.cadre.unit).user for _ in range(n - 1)]
    papers.prepare_papers(exam, now_utc())
    attempts = []
    for i, user in enumerate(people):
        attempt = start_attempt(exam, user, now_utc())
        for item in attempt.paper.items:
            if item.section.qtype == "essay":
                answers.save_answer(attempt, item.position, f"第{i}位考生的论述", 1, now_utc())
            elif item.section.qtype == "single":
                answers.save_answer(attempt, item.position, item.option_order.index(item.version.answer[0]), 1,
                                     now_utc())  # fmt: skip
        submit(attempt, now_utc())
        attempts.append(attempt)
    db.session.commit()
    return exam, people, attempts


def essay_answer(db, attempt):
    item = next(i for i in attempt.paper.items if i.section.qtype == "essay")
    return db.session.scalar(select(Answer).where(Answer.attempt_id == attempt.id, Answer.position == item.position))


ROUTES = {
    "grading.exams": "/grading/",
    "grading.exam": "/grading/{code}/",
    "grading.answer": "/grading/{code}/answers/{answer}",
}


def test_every_grading_route_is_in_the_matrix(app):
    assert {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("grading.")} == set(ROUTES)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", sorted(ROUTES))
def test_access_matrix(client, auth, db, role, route):
    exam, _people, attempts = sat(db, n=1)
    if role != ANON:
        auth.login_as(role)
    response = client.get(ROUTES[route].format(code=exam.code, answer=essay_answer(db, attempts[0]).id))
    if role in GRADERS:
        assert response.status_code == 200, (role, route, response.status_code)
    elif role == ANON:
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    else:
        assert response.status_code == 403, (role, route, response.status_code)


def test_grading_is_blind_and_the_total_becomes_final(client, auth, db):
    exam, people, attempts = sat(db, n=2)
    assert all(not a.fully_graded and a.score is None for a in attempts)
    assert grading.progress(exam).total == 2 and grading.progress(exam).graded == 0
    auth.login_as("grader")
    first = grading.next_to_grade(exam)
    html = client.get(f"/grading/{exam.code}/answers/{first.id}").get_data(as_text=True)
    assert "的论述" in html and "行文目的不同" in html  # the answer and the reference answer
    for person in people:
        assert person.name not in html and person.username not in html
    too_many = client.post_form(f"/grading/{exam.code}/answers/{first.id}", {"points": "99"}, follow_redirects=True)
    assert "分数须在0至2之间" in too_many.get_data(as_text=True)
    response = client.post_form(f"/grading/{exam.code}/answers/{first.id}", {"points": "1.5", "comment": "要点不全"})
    second = grading.next_to_grade(exam)
    assert response.headers["Location"].endswith(f"/answers/{second.id}?by=item")
    db.session.expire_all()
    graded = db.session.get(Attempt, first.attempt_id)
    assert graded.fully_graded and graded.score == 2 + 1.5  # the right single choice, and the essay's 1.5
    response = client.post_form(f"/grading/{exam.code}/answers/{second.id}", {"points": "2"})
    assert response.headers["Location"].endswith(f"/grading/{exam.code}/")  # nothing left
    assert grading.progress(exam).done
    from archive.models import ExamResultRecord

    records = {r.attempt_id: r for r in db.session.scalars(select(ExamResultRecord))}
    assert all(records[a.id].final for a in attempts)


def test_points_are_bounded_and_changes_audited(app, db):
    exam, _people, attempts = sat(db, n=1)
    grader = make_user(roles=(Role.GRADER,))
    answer = essay_answer(db, attempts[0])
    for bad in (-1, 2.5, True, "2"):
        with pytest.raises(DomainError):
            grading.grade_answer(grader, answer, bad, "", now_utc())
    grading.grade_answer(grader, answer, 1, "", now_utc())
    grading.grade_answer(grader, answer, 2, "改判", now_utc())
    entries = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "answer.graded")).all()
    assert [(e.detail["old"], e.detail["new"]) for e in entries] == [(None, 1.0), (1.0, 2.0)]
    assert attempts[0].score == 2 + 2 and answer.grader_id == grader.id and answer.comment == "改判"
    objective = db.session.scalar(select(Answer).where(Answer.attempt_id == attempts[0].id, Answer.position == 1))
    with pytest.raises(DomainError):
        grading.grade_answer(grader, objective, 1, "", now_utc())  # objective items are graded by the machine


def test_sheet_by_sheet_goes_on_within_the_attempt(app, db):
    exam, _people, attempts = sat(db, n=2)
    first = grading.next_to_grade(exam, attempt_id=attempts[1].id)
    assert first.attempt_id == attempts[1].id
    assert grading.next_to_grade(exam, version_id=999999).attempt_id == attempts[0].id  # falls back to any


def test_no_grading_after_the_release(app, db):
    from exam import definition

    exam, _people, attempts = sat(db, n=1)
    admin = make_user(roles=(Role.ORG_ADMIN,))
    grading.grade_answer(admin, essay_answer(db, attempts[0]), 1, "", now_utc())
    exam.closes_at = now_utc() - timedelta(minutes=1)
    definition.release_results(admin, exam, now_utc())
    with pytest.raises(DomainError):
        grading.grade_answer(admin, essay_answer(db, attempts[0]), 2, "", now_utc())


def test_a_key_correction_regrades_and_tells_the_candidate(client, auth, db):
    exam, people, attempts = sat(db, n=2, release="immediate", review="answers")
    admin = make_user(roles=(Role.ORG_ADMIN,))
    for a in attempts:
        grading.grade_answer(admin, essay_answer(db, a), 1, "", now_utc())
    assert [a.score for a in attempts] == [3.0, 3.0]  # 2 for the right single choice, 1 for the essay
    single = next(i for i in attempts[0].paper.items if i.section.qtype == "single")
    rows = {v.id: qtype for v, qtype, _n in grading.used_versions(exam)}
    assert rows[single.question_version_id] == "single" and len(rows) == 2  # the essay needs no key
    wrong = next(i for i in range(len(single.version.options)) if i != single.version.answer[0])
    with pytest.raises(DomainError):
        grading.correct_key(admin, exam, single.version, "Z", "录入错误", now_utc())
    with pytest.raises(DomainError):
        grading.correct_key(admin, exam, single.version, "B", "", now_utc())  # a reason is needed
    changed = grading.correct_key(admin, exam, single.version, "ABCDEFGH"[wrong], "原答案录入错误", now_utc())
    db.session.commit()
    assert sorted(a.id for a, _o, _n in changed) == sorted(a.id for a in attempts)
    assert [a.score for a in attempts] == [1.0, 1.0] and all(a.regraded_at for a in attempts)
    assert single.version.answer != [wrong]  # the question version itself never changes
    key_entry = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "exam.key_corrected"))
    assert key_entry.detail["new"] == [wrong] and key_entry.detail["reason"] == "原答案录入错误"
    regrade_entry = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "exam.regraded"))
    assert {(c["old"], c["new"]) for c in regrade_entry.detail["changed"]} == {(3.0, 1.0)}
    # The candidate sees the new score, the notice, and the corrected key in the review (after the close).
    exam = db.session.get(Exam, exam.id)
    exam.closes_at = now_utc() - timedelta(minutes=1)
    db.session.commit()
    auth.login(people[0].username)
    html = client.get(f"/my/attempts/{attempts[0].id}/result").get_data(as_text=True)
    assert "因答案更正" in html and "<strong>1</strong>" in html
    review = client.get(f"/api/v1/attempts/{attempts[0].id}").get_json()["result"]["review"]
    entry = next(e for e in review if e["position"] == single.position)
    assert entry["correct_answer"] == single.option_order.index(wrong)


def test_key_pages_correct_through_the_form(client, auth, db):
    exam, _people, attempts = sat(db, n=1)
    single = next(i for i in attempts[0].paper.items if i.section.qtype == "single")
    auth.login_as("org_admin")
    listing = client.get(f"/exams/{exam.code}/keys").get_data(as_text=True)
    assert f"/keys/{single.question_version_id}" in listing
    page = client.get(f"/exams/{exam.code}/keys/{single.question_version_id}").get_data(as_text=True)
    assert 'value="A"' in page  # the key in force, in the import format
    bad = client.post_form(f"/exams/{exam.code}/keys/{single.question_version_id}", {"key": "AB", "reason": "x"})
    assert bad.status_code == 200 and "有且仅有一个正确选项" in bad.get_data(as_text=True)
    done = client.post_form(f"/exams/{exam.code}/keys/{single.question_version_id}", {"key": "B", "reason": "更正"},
                            follow_redirects=True)  # fmt: skip
    assert "答案已更正" in done.get_data(as_text=True) and "已更正" in done.get_data(as_text=True)
    assert client.get(f"/exams/{exam.code}/keys/999999").status_code == 404


def test_a_grader_who_sits_the_exam_waits_for_its_close(client, auth, db):
    exam, people, attempts = sat(db, n=2)
    grader_cadre = people[1]  # a candidate who is also a grader
    from accounts.models import RoleAssignment

    grader_cadre.roles.append(RoleAssignment(role=Role.GRADER))
    db.session.commit()
    answer = essay_answer(db, attempts[0])
    with pytest.raises(DomainError) as exc:
        grading.grade_answer(grader_cadre, answer, 1, "", now_utc())
    assert exc.value.code == "not_yours"
    auth.login(grader_cadre.username)
    assert client.get(f"/grading/{exam.code}/").status_code == 403
    assert client.get(f"/grading/{exam.code}/answers/{answer.id}").status_code == 403
    exam = db.session.get(Exam, exam.id)
    exam.closes_at = now_utc() - timedelta(minutes=1)
    db.session.commit()
    assert client.get(f"/grading/{exam.code}/answers/{answer.id}").status_code == 200
    with pytest.raises(DomainError):  # never their own answer
        grading.grade_answer(grader_cadre, essay_answer(db, attempts[1]), 1, "", now_utc())


def test_answers_of_running_attempts_are_not_found(client, auth, db):
    exam, people, _attempts = sat(db, n=1)
    newcomer = make_cadre(unit=people[0].cadre.unit).user
    papers.prepare_papers(exam, now_utc())
    running = start_attempt(exam, newcomer, now_utc())
    essay = next(i for i in running.paper.items if i.section.qtype == "essay")
    answers.save_answer(running, essay.position, "还在写", 1, now_utc())
    db.session.commit()
    row = db.session.scalar(select(Answer).where(Answer.attempt_id == running.id, Answer.position == essay.position))
    auth.login_as("grader")
    assert client.get(f"/grading/{exam.code}/answers/{row.id}").status_code == 404
