"""Blind grading against a curious grader: no page a grader reaches (the queue, an exam's progress, the answer
sheet, item by item or sheet by sheet, after a refusal, asked for JSON) names a candidate, their username or unit,
in the text, the title or any attribute; and an answer is reached only through its own exam (no IDOR by id)."""

import re

import pytest
from sqlalchemy import select

from accounts.models import Unit
from exam.models import Answer, Attempt, Exam
from tests.exam.test_grading import essay_answer, sat

#: What would identify a candidate; each is given to one of them (or their unit) below.
IDENTITIES = ("甄考生", "贾考生", "QZ88001", "QZ88002", "保密镇秘书科")


@pytest.fixture
def blind(client, auth, db):
    exam, people, attempts = sat(db, n=2)
    for person, name, username in zip(people, IDENTITIES[:2], IDENTITIES[2:4], strict=True):
        person.name, person.username = name, username
        person.cadre.position = "镇长助理" + name
    db.session.get(Unit, people[0].cadre.unit_id).name = IDENTITIES[4]
    db.session.commit()
    grader = auth.login_as("grader")
    return exam, people, attempts, grader


def _leaks(text: str, attempts) -> list[str]:
    found = [i for i in IDENTITIES if i in text or i.lower() in text.lower()]
    found += [f"attempt {a.id}" for a in attempts if re.search(rf"attempts?[/:=]{a.id}\b", text)]
    found += [f"user {a.user_id}" for a in attempts if re.search(rf"user[s_]?(id)?[/:=\"]+{a.user_id}\b", text)]
    return found


def test_the_detector_sees_a_name(blind):
    """The check can fail: the identities are where it looks."""
    _exam, people, attempts, _grader = blind
    assert _leaks(f'<p title="{people[0].name}">x</p>', attempts) and _leaks("qz88001", attempts)
    assert _leaks(f"/exams/X/attempts/{attempts[0].id}", attempts)


def test_no_grading_page_names_a_candidate(client, db, blind):
    exam, _people, attempts, _grader = blind
    answers = [essay_answer(db, a) for a in attempts]
    pages = {"queue": client.get("/grading/"), "progress": client.get(f"/grading/{exam.code}/")}
    for answer in answers:
        for by in ("item", "candidate"):
            pages[f"answer {answer.id} by {by}"] = client.get(f"/grading/{exam.code}/answers/{answer.id}?by={by}")
            pages[f"answer {answer.id} by {by}, JSON asked"] = client.get(
                f"/grading/{exam.code}/answers/{answer.id}?by={by}", headers={"Accept": "application/json"}
            )
    # A refusal (points out of range) and a save that goes on to the next sheet, followed as a browser would.
    pages["refusal"] = client.post_form(
        f"/grading/{exam.code}/answers/{answers[0].id}?by=candidate",
        {"points": "99", "comment": ""},
        follow_redirects=True,
    )
    saved = client.post_form(f"/grading/{exam.code}/answers/{answers[0].id}?by=item", {"points": "1"})
    assert saved.status_code == 302 and not _leaks(saved.headers["Location"], attempts)
    pages["after saving"] = client.get(saved.headers["Location"])
    wrong = {}
    for where, response in pages.items():
        assert response.status_code == 200, (where, response.status_code)
        text = response.get_data(as_text=True)
        if _leaks(text, attempts):
            wrong[where] = _leaks(text, attempts)
    assert wrong == {}
    # The positive control: the answer and the sheet number are on the page (it is the grading page, not a stub).
    html = pages[f"answer {answers[1].id} by item"].get_data(as_text=True)
    assert "的论述" in html and re.search(r"[0-9A-F]{8}", html)


def test_pages_that_name_candidates_stay_closed_to_a_grader(client, db, blind):
    """The grader knows an attempt's sheet and an answer's id; the pages that do name candidates refuse them."""
    exam, people, attempts, _grader = blind
    attempt = attempts[0]
    for url in (
        f"/exams/{exam.code}/attempts",
        f"/exams/{exam.code}/attempts/{attempt.id}",
        f"/exams/{exam.code}/",
        f"/reports/exams/{exam.code}/ranking",
        f"/reports/attempts/{attempt.id}/slip.pdf",
        f"/reports/people/{people[0].username}/history",
        f"/api/v1/attempts/{attempt.id}",
        f"/archive/cadres/{people[0].username}",
        "/admin/cadres",
        f"/my/attempts/{attempt.id}/result",
    ):
        response = client.get(url)
        assert response.status_code in (401, 403, 404), (url, response.status_code)
        # (the refusal may repeat the URL the grader typed, never anything more)
        assert not [i for i in IDENTITIES if i in response.get_data(as_text=True) and i not in url], url


def test_an_answer_is_reached_only_through_its_own_exam(client, db, blind, app):
    """IDOR: an answer id under another exam's code, a draft's code, an objective answer, a missing id: all 404,
    and a grade posted that way changes nothing."""
    exam, people, attempts, _grader = blind
    essay = essay_answer(db, attempts[0])
    other, _people2, other_attempts = _second_exam(db)
    foreign = essay_answer(db, other_attempts[0])
    objective = db.session.scalar(select(Answer).where(Answer.attempt_id == attempts[0].id,
                                                       Answer.position != essay.position))  # fmt: skip
    draft = Exam(code="DRAFT9", title="草稿", subject="政治理论", duration_minutes=10, opens_at=exam.opens_at,
                 closes_at=exam.closes_at, pass_mark=1)  # fmt: skip
    db.session.add(draft)
    db.session.commit()
    for url in (f"/grading/{exam.code}/answers/{foreign.id}", f"/grading/{other.code}/answers/{essay.id}",
                f"/grading/DRAFT9/answers/{essay.id}", f"/grading/{exam.code}/answers/999999",
                f"/grading/{exam.code}/answers/{objective.id}"):  # fmt: skip
        assert client.get(url).status_code == 404, url
        assert client.post_form(url, {"points": "1", "comment": "越权"}).status_code == 404, url
    assert client.get("/grading/DRAFT9/").status_code == 404
    db.session.expire_all()
    assert db.session.get(Answer, essay.id).points is None and db.session.get(Answer, foreign.id).points is None
    assert db.session.get(Attempt, attempts[0].id).score is None


def _second_exam(db):
    """Another sat exam (make_open_exam's code T1 is taken: this one is T2)."""
    import tests.exam.test_grading as grading_tests
    from tests import factories

    original = factories.make_open_exam

    def make(**kwargs):
        return original(code="T2", **kwargs)

    grading_tests.make_open_exam = make
    try:
        return sat(db, n=1)
    finally:
        grading_tests.make_open_exam = original
