"""The candidate's exam pages (start, paper, result and review) and the take-over of an attempt by another page;
the browser behaviour itself (timer, autosave, offline queue) is in tests/browser/test_exam_page.py."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.models import now_utc
from core.policy import Role
from exam import answers, attempts, review
from exam.models import Attempt, AttemptEvent, Exam
from tests.factories import SECRET, make_open_exam, make_user

ANON = "anonymous"


def login(auth, user):
    assert auth.login(user.username).status_code == 302


def start(client, code="T1", follow_redirects=False, **form):
    return client.post_form(f"/my/exams/{code}/start", {"confirm": "1", **form}, follow_redirects=follow_redirects)


ROUTES = {
    "take.start_page": ("GET", "/my/exams/{code}/"),
    "take.start": ("POST", "/my/exams/{code}/start"),
    "take.attempt": ("GET", "/my/attempts/{attempt}"),
    "take.result": ("GET", "/my/attempts/{attempt}/result"),
}


def test_every_take_route_is_in_the_matrix(app):
    assert {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("take.")} == set(ROUTES)


@pytest.mark.parametrize("who", [ANON, "owner", "other cadre", "org_admin"])
@pytest.mark.parametrize("route", sorted(ROUTES))
def test_access_matrix(client, auth, db, who, route):
    exam, owner = make_open_exam()
    attempt = attempts.start_attempt(exam, owner, now_utc())
    db.session.commit()
    if who == "owner":
        login(auth, owner)
    elif who != ANON:
        auth.login_as("cadre" if who == "other cadre" else who)
    method, template = ROUTES[route]
    url = template.format(code=exam.code, attempt=attempt.id)
    response = client.get(url) if method == "GET" else client.post_form(url, {"confirm": "1"})
    if who == ANON:
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    elif who == "owner":
        assert response.status_code in (200, 302), (route, response.status_code)
    elif route == "take.start":  # anyone may ask; only candidates get an attempt
        assert response.status_code == 302
        assert db.session.scalar(select(Attempt).where(Attempt.user_id != owner.id)) is None
    else:  # not theirs: as if it did not exist
        assert response.status_code == 404, (who, route, response.status_code)


def test_start_page_asks_for_confirmation_and_the_code(client, auth, db):
    from exam import definition

    exam, user = make_open_exam()
    definition.set_access_code(make_user(roles=(Role.ORG_ADMIN,)), exam, "6688", now_utc())
    db.session.commit()
    login(auth, user)
    html = client.get("/my/exams/T1/").get_data(as_text=True)
    assert "请独立作答。" in html and 'name="access_code"' in html and 'name="confirm"' in html
    refused = client.post_form("/my/exams/T1/start", {"access_code": "6688"}, follow_redirects=True)
    assert "请确认您已阅读考试须知" in refused.get_data(as_text=True)
    wrong = start(client, access_code="1234", follow_redirects=True)
    assert "考试口令不正确" in wrong.get_data(as_text=True)
    assert db.session.scalar(select(Attempt)) is None
    response = start(client, access_code="6688")
    attempt = db.session.scalar(select(Attempt))
    assert response.headers["Location"].endswith(f"/my/attempts/{attempt.id}")
    # Coming back to the start page while the attempt runs leads back into it.
    assert client.get("/my/exams/T1/").headers["Location"].endswith(f"/my/attempts/{attempt.id}")


def test_the_paper_page_has_every_question_and_no_key(client, auth, db):
    exam, user = make_open_exam()
    login(auth, user)
    page = client.get(start(client).headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and html.count('class="question-block"') == 3
    assert 'src="/static/js/exam.' in html and "<script>" not in html  # no inline script
    state = re.search(r'<script type="application/json" id="exam-state">(.*?)</script>', html, re.S).group(1)
    assert '"deadline"' in state and '"serverTime"' in state
    for leak in (SECRET, "行文目的不同", "scoring_points", '"answer"', "人民代表大会制度</span> ✓"):
        assert leak not in html, leak


def test_result_and_review_follow_the_policies(client, auth, db):
    exam, user = make_open_exam(release="immediate", review="explanations")
    login(auth, user)
    attempt_url = start(client).headers["Location"]
    attempt = db.session.scalar(select(Attempt))
    essay = next(i.position for i in attempt.paper.items if i.section.qtype == "essay")
    answers.save_answer(attempt, essay, "我的论述", 1, now_utc())
    attempts.submit(attempt, now_utc())
    db.session.commit()
    assert client.get(attempt_url).headers["Location"].endswith("/result")
    html = client.get(f"/my/attempts/{attempt.id}/result").get_data(as_text=True)
    assert "主观题尚在阅卷" in html  # the essay waits for a grader: no score yet
    assert SECRET not in html and "试卷回顾" not in html  # others may still be sitting
    exam = db.session.get(Exam, exam.id)
    exam.closes_at = now_utc() - timedelta(minutes=1)
    db.session.commit()
    html = client.get(f"/my/attempts/{attempt.id}/result").get_data(as_text=True)
    assert "试卷回顾" in html and SECRET in html


def test_the_result_counts_a_fill_in_with_an_empty_blank_as_partly_answered(client, auth, db):
    """The result page and the administrator's attempt page count answers as the exam page does: a save of nothing
    (text typed, then deleted) is no answer, and a fill-in question with one of its two blanks filled is listed as
    partly answered."""
    exam, user = make_open_exam(qtypes=("single", "fill", "essay"))
    login(auth, user)
    start(client)
    attempt = db.session.scalar(select(Attempt))
    at = {i.section.qtype: i.position for i in attempt.paper.items}
    answers.save_answer(attempt, at["single"], 1, 1, now_utc())
    answers.save_answer(attempt, at["fill"], ["全国代表大会", ""], 2, now_utc())
    answers.save_answer(attempt, at["essay"], "", 3, now_utc())
    progress = review.progress(attempt)
    assert (progress.total, progress.answered) == (3, 1)
    assert progress.partial == (at["fill"],) and progress.unanswered == (at["essay"],)
    attempts.submit(attempt, now_utc())
    db.session.commit()
    html = client.get(f"/my/attempts/{attempt.id}/result").get_data(as_text=True)
    assert "共3题，已答1题。" in html and f"未答完（有空未填）：第{at['fill']}题。" in html
    # The administrator's view of the attempt counts the same.
    auth.logout()
    auth.login_as("org_admin")
    html = client.get(f"/exams/{exam.code}/attempts/{attempt.id}").get_data(as_text=True)
    assert "共3题，已答1题。" in html and f"未答完（有空未填）：第{at['fill']}题。" in html


def test_score_only_review_shows_no_keys(client, auth, db):
    exam, user = make_open_exam(review="score", qtypes=("single", "truefalse"))
    login(auth, user)
    start(client)
    attempt = db.session.scalar(select(Attempt))
    attempts.submit(attempt, now_utc())
    exam.closes_at = now_utc() - timedelta(minutes=1)
    db.session.commit()
    html = client.get(f"/my/attempts/{attempt.id}/result").get_data(as_text=True)
    assert "合格" in html and "试卷回顾" not in html and SECRET not in html


def test_another_page_takes_over(client, auth, db):
    exam, user = make_open_exam()
    login(auth, user)
    start(client)
    attempt = db.session.scalar(select(Attempt))
    api = f"/api/v1/attempts/{attempt.id}"
    csrf = {"X-CSRFToken": client.csrf_token()}
    assert client.post(f"{api}/claim", json={"client": "page-one-aaaa"}, headers=csrf).get_json() == {
        "took_over": False
    }
    assert client.post(f"{api}/claim", json={"client": "page-one-aaaa"}, headers=csrf).get_json() == {
        "took_over": False
    }
    first = {**csrf, "X-Exam-Client": "page-one-aaaa"}
    assert client.put(f"{api}/answers/1", json={"value": 0, "seq": 1}, headers=first).status_code == 200
    # The same candidate opens the exam elsewhere (another device or login): that page takes over.
    assert client.post(f"{api}/claim", json={"client": "page-two-bbbb"}, headers=csrf).get_json() == {"took_over": True}
    stale = client.put(f"{api}/answers/1", json={"value": 1, "seq": 2}, headers=first)
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "taken_over"
    assert client.post(f"{api}/submit", headers=first).get_json()["error"]["code"] == "taken_over"
    second = {**csrf, "X-Exam-Client": "page-two-bbbb"}
    assert client.put(f"{api}/answers/1", json={"value": 1, "seq": 3}, headers=second).status_code == 200
    kinds = [e.kind for e in db.session.scalars(select(AttemptEvent).where(AttemptEvent.attempt_id == attempt.id))]
    assert kinds == ["takeover"]
    assert client.post(f"{api}/claim", json={"client": "x"}, headers=csrf).status_code == 400  # not a page id
