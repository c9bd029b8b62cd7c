"""The practice pages and the practice API: a chapter practised with feedback at once, no key before the answer,
only one's own sessions and book, CSRF on every change, and the OpenAPI shapes."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from accounts.services import create_api_token
from core.extensions import db as _db
from core.models import now_utc
from core.policy import Role
from exam.models import Exam, ExamSection, SectionRule
from practice import services
from practice.models import Outcome, WrongBookEntry
from question_bank import services as qb
from tests.factories import SECRET, make_bank, make_cadre, make_category, make_question, make_user

ROUTES = {
    "practice.home": ("GET", "/practice/"),
    "practice.start": ("POST", "/practice/start"),
    "practice.session": ("GET", "/practice/sessions/{id}"),
    "practice.answer": ("POST", "/practice/sessions/{id}/answer"),
    "practice.skip": ("POST", "/practice/sessions/{id}/skip"),
    "practice.finish": ("POST", "/practice/sessions/{id}/finish"),
    "practice.wrong_book": ("GET", "/practice/wrong-book"),
    "practice.remove_entry": ("POST", "/practice/wrong-book/{id}/remove"),
    "practice.star_entry": ("POST", "/practice/wrong-book/{id}/star"),
    "practice.daily": ("POST", "/practice/daily"),
    "practice.start_mock": ("POST", "/practice/mocks/{id}"),
    "practice.submit_mock": ("POST", "/practice/sessions/{id}/submit"),
    "practice.claim_hours": ("POST", "/practice/hours"),
    "practice.activity": ("GET", "/practice/activity"),
}


def test_every_practice_route_is_listed(app):
    assert {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("practice.")} == set(ROUTES)


def _start(client, chapter):
    response = client.post_form("/practice/start", {"mode": "category", "category": str(chapter.id)})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def test_a_cadre_practises_a_chapter_and_sees_the_key_only_after_answering(client, auth, opened):
    bank, chapter, questions, cadre, _admin = opened
    auth.login(cadre.username)
    home = client.get("/practice/").get_data(as_text=True)
    assert bank.name in home and "章节练习" in home and "错题本" in home
    url = _start(client, chapter)
    page = client.get(url).get_data(as_text=True)
    assert "提交并查看解析" in page and SECRET not in page and "中央委员会" not in page
    response = client.post_form(url + "/answer", {"position": "0", "q": "1"})  # the single choice, wrong
    assert response.status_code == 302 and response.headers["Location"].endswith("?answered=0")
    feedback = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "回答错误" in feedback and SECRET in feedback
    assert _db.session.scalar(select(WrongBookEntry.question_id)) == questions["single"].id
    # The next question comes without its key.
    page = client.get(url).get_data(as_text=True)
    assert SECRET not in page and "第 1 / 5 题" in page
    book = client.get("/practice/wrong-book").get_data(as_text=True)
    assert "错题本" in book and "答错 1 次" in book


def test_an_answer_for_another_position_shows_no_key(client, auth, opened):
    _bank, chapter, _questions, cadre, _admin = opened
    auth.login(cadre.username)
    url = _start(client, chapter)
    response = client.post_form(url + "/answer", {"position": "3", "q": "0"})
    assert response.status_code == 302 and "answered" not in response.headers["Location"]
    assert SECRET not in client.get(url + "?answered=3").get_data(as_text=True)


def test_anothers_session_and_book_entries_are_not_there(client, auth, opened):
    _bank, chapter, _questions, cadre, _admin = opened
    auth.login(cadre.username)
    url = _start(client, chapter)
    client.post_form(url + "/answer", {"position": "0", "q": "1"})
    entry = _db.session.scalar(select(WrongBookEntry.id))
    auth.logout()
    other = make_cadre().user
    _db.session.commit()
    auth.login(other.username)
    assert client.get(url).status_code == 404
    assert client.get(url + "?answered=0").status_code == 404
    assert client.post_form(url + "/answer", {"position": "1", "q": "0"}).status_code == 404
    assert client.post_form(f"/practice/wrong-book/{entry}/remove").status_code == 404
    assert "错题本是空的" in client.get("/practice/wrong-book").get_data(as_text=True)


def test_every_change_needs_the_csrf_token(client, auth, opened):
    _bank, chapter, _questions, cadre, _admin = opened
    auth.login(cadre.username)
    assert client.post("/practice/start", data={"mode": "category", "category": chapter.id}).status_code == 400
    url = _start(client, chapter)
    assert client.post(url + "/answer", data={"position": "0", "q": "0"}).status_code == 400


def test_the_book_entry_is_starred_and_removed(client, auth, opened):
    _bank, chapter, _questions, cadre, _admin = opened
    auth.login(cadre.username)
    url = _start(client, chapter)
    client.post_form(url + "/answer", {"position": "0", "q": "1"})
    entry = _db.session.scalar(select(WrongBookEntry))
    client.post_form(f"/practice/wrong-book/{entry.id}/star", {"starred": "1"})
    _db.session.refresh(entry)
    assert entry.starred
    client.post_form(f"/practice/wrong-book/{entry.id}/remove")
    _db.session.refresh(entry)
    assert entry.removed_at is not None
    assert "错题本是空的" in client.get("/practice/wrong-book").get_data(as_text=True)


def test_signed_out_visitors_are_sent_to_the_login(client, opened):
    for endpoint, (method, template) in ROUTES.items():
        url = template.format(id=1)
        response = client.get(url) if method == "GET" else client.post_form(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], endpoint


@pytest.fixture
def token(opened):
    cadre = opened[3]
    value = create_api_token(cadre, "phone", now_utc())
    _db.session.commit()
    return {"Authorization": f"Bearer {value}"}


def test_the_api_practises_with_feedback_and_gives_no_other_key(client, opened, token):
    bank, chapter, questions, _cadre, _admin = opened
    choices = client.get("/api/v1/practice", headers=token).get_json()
    assert choices["banks"][0]["code"] == bank.code and choices["banks"][0]["count"] == 5
    assert choices["banks"][0]["categories"] == [{"id": chapter.id, "name": "第一章", "depth": 0, "count": 5}]
    session = client.post("/api/v1/practice/sessions", json={"mode": "category", "bank": bank.code},
                          headers=token).get_json()  # fmt: skip
    assert session["question"]["position"] == 0 and SECRET not in str(session)
    assert "answer" not in session["question"] and "explanation" not in session["question"]
    sid = session["id"]
    wrong = client.put(f"/api/v1/practice/sessions/{sid}/answers/2", json={"value": True}, headers=token)
    assert wrong.status_code == 409 and wrong.get_json()["error"]["code"] == "wrong_position"
    assert SECRET not in wrong.get_data(as_text=True)
    feedback = client.put(f"/api/v1/practice/sessions/{sid}/answers/0", json={"value": 0}, headers=token)
    body = feedback.get_json()
    assert feedback.status_code == 200 and body["outcome"] == "right" and body["correct_answer"] == 0
    assert body["explanation"] == questions["single"].current_version.explanation
    assert body["session"]["position"] == 1 and SECRET not in str(body["session"])
    book = client.get("/api/v1/practice/wrong-book", headers=token).get_json()
    assert book == []


def test_the_api_refuses_what_does_not_fit(client, opened, token):
    _bank, chapter, _questions, _cadre, _admin = opened
    assert client.post("/api/v1/practice/sessions", json={"mode": "nonsense"}, headers=token).status_code == 400
    assert client.post("/api/v1/practice/sessions", json={"mode": "category", "bank": "NOPE"},
                       headers=token).status_code == 404  # fmt: skip
    sid = client.post("/api/v1/practice/sessions", json={"mode": "category", "category": chapter.id},
                      headers=token).get_json()["id"]  # fmt: skip
    bad = client.put(f"/api/v1/practice/sessions/{sid}/answers/0", json={"value": "A"}, headers=token)
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "bad_answer"
    other = make_cadre().user
    other_token = create_api_token(other, "phone", now_utc())
    _db.session.commit()
    assert (
        client.get(f"/api/v1/practice/sessions/{sid}", headers={"Authorization": f"Bearer {other_token}"}).status_code
        == 404
    )


def test_the_book_says_why_each_question_it_does_not_show_is_closed(client, auth, db):
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    now = now_utc()
    bank, shut = make_bank(actor=admin), make_bank(actor=admin)
    free_chapter, drawn_chapter = make_category(bank, "第一章"), make_category(bank, "第二章")

    def question(reason, in_bank=bank, category=None):
        return make_question(in_bank, "truefalse" if reason != "held" else "single", actor=admin, status="active",
                             category=category, stem=f"题干{reason}。", explanation=f"解析{reason}")  # fmt: skip

    questions = {
        "practice": question("practice", category=free_chapter),
        "held": question("held", category=drawn_chapter),
        "closed": question("closed", in_bank=shut),
        "exam_only": question("exam_only", category=free_chapter),
        "inactive": question("inactive", category=free_chapter),
    }
    qb.open_for_practice(admin, bank, True, now)
    qb.set_usage(admin, questions["exam_only"], "exam", now)
    qb.retire(admin, questions["inactive"], now)
    exam = Exam(code="AHEAD", title="将来的考试", subject="政治理论", duration_minutes=60, opens_at=now,
                closes_at=now + timedelta(days=2), pass_mark=1)  # fmt: skip
    section = ExamSection(position=1, title="一、单选题", qtype="single", points_per_question=1)
    section.rules.append(SectionRule(bank=bank, category=drawn_chapter, count=1))
    exam.sections.append(section)
    _db.session.add(exam)
    cadre = make_cadre().user
    for q in questions.values():
        services.record_in_book(cadre.id, q.id, Outcome.WRONG, now, "exam")
    _db.session.commit()
    auth.login(cadre.username)
    page = client.get("/practice/wrong-book").get_data(as_text=True)
    entries = {
        int(qid): (reason, body)
        for qid, reason, body in re.findall(
            r'<li class="wrong-book-entry[^"]*" data-question="(\d+)" data-access="(\w+)">(.*?)</li>', page, re.S
        )
    }
    assert {qid: reason for qid, (reason, _body) in entries.items()} == {q.id: r for r, q in questions.items()}
    for reason, q in questions.items():
        body = entries[q.id][1]
        if reason == "practice":
            assert f"题干{reason}" in body and f"解析{reason}" in body
        else:  # neither its text nor its key anywhere on the page
            assert f"题干{reason}" not in page and f"解析{reason}" not in page, reason
        assert ('class="muted access-note"' in body) == (reason != "practice"), reason
    notes = {
        re.search(r'access-note">([^<]+)<', entries[q.id][1]).group(1) for r, q in questions.items() if r != "practice"
    }
    assert len(notes) == 4  # a message of its own for each reason
    # The API says as much as "open": no text for any of the others.
    api = client.get("/api/v1/practice/wrong-book").get_json()
    found = {e["question"]: (e["open"], e["stem"] is not None) for g in api for e in g["entries"]}
    assert found == {q.id: (r == "practice",) * 2 for r, q in questions.items()}
