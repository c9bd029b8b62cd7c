"""The access matrix of practice: every page and API route, every role, the owner of the session and of the
wrong-answer book entry (a cadre), and people holding several roles (an admin, author or grader who is also a cadre
of the owner's unit). Practice is everyone's own: whoever is signed in practises; another person's session, mock or
book entry is not there for them (404), whatever roles they hold; anonymous callers are sent to log in (401 from
the API)."""

from datetime import timedelta

import pytest

from core.extensions import db as _db
from core.models import now_utc
from core.policy import Role
from exam import publishing
from exam.models import Exam, ExamSection, SectionRule
from practice import mock, services
from practice.models import Mode, Outcome
from question_bank import services as qb
from tests.factories import SECRET, make_bank, make_cadre, make_question, make_unit, make_user

ANON = "anonymous"
OWNER = "owner"
#: People holding several roles, each a cadre (with a profile) of the owner's unit, so a candidate of its exam ahead.
MULTI = ["system_admin+cadre", "org_admin+cadre", "unit_admin+cadre", "author+cadre", "grader+cadre"]
ROLES = [ANON, OWNER, *[r.value for r in Role], *MULTI]
SIGNED_IN = set(ROLES) - {ANON}
ADMINS = {"system_admin", "org_admin", "unit_admin", "system_admin+cadre", "org_admin+cadre", "unit_admin+cadre"}

# endpoint -> (method, url template, who gets a success); written out by hand, not derived from the code.
ROUTES = {
    "practice.home": ("GET", "/practice/", SIGNED_IN),
    "practice.start": ("POST", "/practice/start?mode=category&bank={bank}", SIGNED_IN),
    "practice.session": ("GET", "/practice/sessions/{session}", {OWNER}),
    "practice.answer": ("POST", "/practice/sessions/{session}/answer", {OWNER}),
    "practice.skip": ("POST", "/practice/sessions/{session}/skip", {OWNER}),
    "practice.finish": ("POST", "/practice/sessions/{session}/finish", {OWNER}),
    "practice.wrong_book": ("GET", "/practice/wrong-book", SIGNED_IN),
    "practice.daily": ("POST", "/practice/daily", SIGNED_IN),
    "practice.start_mock": ("POST", "/practice/mocks/{exam}", {OWNER, *MULTI}),  # a candidate of the exam ahead
    "practice.submit_mock": ("POST", "/practice/sessions/{mock}/submit", {OWNER}),
    "practice.star_entry": ("POST", "/practice/wrong-book/{entry}/star", {OWNER}),
    "practice.remove_entry": ("POST", "/practice/wrong-book/{entry}/remove", {OWNER}),
    "practice.claim_hours": ("POST", "/practice/hours", SIGNED_IN),  # nothing on offer: back to the page
    "practice.activity": ("GET", "/practice/activity", ADMINS),
    "practice_api.choices": ("GET", "/api/v1/practice", SIGNED_IN),
    "practice_api.start": ("POST", "/api/v1/practice/sessions", SIGNED_IN),
    "practice_api.session": ("GET", "/api/v1/practice/sessions/{session}", {OWNER}),
    "practice_api.answer": ("PUT", "/api/v1/practice/sessions/{session}/answers/0", {OWNER}),
    "practice_api.skip": ("POST", "/api/v1/practice/sessions/{session}/skip", {OWNER}),
    "practice_api.wrong_book": ("GET", "/api/v1/practice/wrong-book", SIGNED_IN),
    "practice_api.daily": ("POST", "/api/v1/practice/daily", SIGNED_IN),
    "practice_api.mastery": ("GET", "/api/v1/practice/mastery", SIGNED_IN),
    "practice_api.start_mock": ("POST", "/api/v1/practice/mocks", {OWNER, *MULTI}),
    "practice_api.get_mock": ("GET", "/api/v1/practice/mocks/{mock}", {OWNER}),
    "practice_api.submit_mock": ("POST", "/api/v1/practice/mocks/{mock}/submit", {OWNER}),
}
_BODIES = {"practice_api.start": {"mode": "category"}, "practice_api.answer": {"value": 0},
           "practice_api.submit_mock": {"answers": {}}}  # fmt: skip


def several_roles(label: str, unit):
    """A person holding the roles `label` names ("author+cadre"), with a cadre's profile in `unit` (a unit admin
    administers it)."""
    user = make_user(roles=tuple(Role(r) for r in label.split("+")), unit=unit)
    make_cadre(unit=unit, user=user)
    _db.session.commit()
    return user


def test_every_practice_route_is_in_the_matrix(app):
    endpoints = {
        r.endpoint for r in app.url_map.iter_rules() if r.endpoint.split(".")[0] in ("practice", "practice_api")
    }
    assert endpoints == set(ROUTES)


@pytest.mark.parametrize("who", ROLES)
def test_access_matrix(client, auth, db, who):
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    bank = make_bank(actor=admin)
    for _ in range(3):
        make_question(bank, actor=admin, status="active")
    qb.open_for_practice(admin, bank, True, now_utc())
    unit = make_unit()
    owner = make_cadre(unit=unit).user
    session = services.start(owner, now_utc(), mode=Mode.CATEGORY, bank=bank)
    # A formal exam ahead of the owner's, drawing another bank: a mock of it comes from the opened one.
    other = make_bank(actor=admin)
    make_question(other, actor=admin, status="active")
    exam = Exam(code="MXP", title="模拟", subject=bank.subject, duration_minutes=30, opens_at=now_utc(),
                closes_at=now_utc() + timedelta(days=1), pass_mark=1, eligibility={"unit_ids": [unit.id]})  # fmt: skip
    section = ExamSection(position=1, title="一、单选题", qtype="single", points_per_question=1)
    section.rules.append(SectionRule(bank=other, count=1))
    exam.sections.append(section)
    _db.session.add(exam)
    _db.session.flush()
    publishing.publish(admin, exam, now_utc())
    mocked = mock.start(owner, exam, now_utc())
    services.record_in_book(owner.id, session.question_ids[0], Outcome.WRONG, now_utc(), "practice")
    _db.session.commit()
    entry = services.wrong_book(owner)[0].entries[0]
    if who == OWNER:
        auth.login(owner.username)
    elif who in MULTI:
        auth.login(several_roles(who, unit).username)
    elif who != ANON:
        auth.login_as(who)
    csrf, wrong = client.csrf_token(), []
    _BODIES["practice_api.start"]["bank"] = bank.code
    _BODIES["practice_api.start_mock"] = {"exam": exam.code}
    # The reads first, then the API (its answer takes position 0): a finish ends the session.
    for endpoint in sorted(ROUTES, key=lambda e: (ROUTES[e][0] != "GET", not e.startswith("practice_api"), e)):
        method, template, allowed = ROUTES[endpoint]
        url = template.format(bank=bank.id, session=session.id, entry=entry.id, exam=exam.code, mock=mocked.id)
        if url.startswith("/api/"):
            response = client.open(url, method=method, json=_BODIES.get(endpoint), headers={"X-CSRFToken": csrf})
        else:
            path, _q, query = url.partition("?")
            form = dict(pair.split("=") for pair in query.split("&")) if query else {}
            form.update({"csrf_token": csrf, "position": "0", "q": "0"})
            response = client.open(path, method=method, data=form)
        status, location = response.status_code, response.headers.get("Location", "")
        response.close()
        if who in allowed:
            ok = status == 200 or status == 302 and "/login" not in location
        elif who == ANON:
            ok = status == 401 if url.startswith("/api/") else status == 302 and "/login" in location
        else:  # the units' activity is refused outright; another's session or entry is not there
            ok = status == (403 if endpoint == "practice.activity" else 404)
        if not ok:
            wrong.append((endpoint, status))
    assert wrong == []


#: Answers to the questions of tests/practice/conftest.opened, right and wrong.
RIGHT = {"single": 0, "multiple": [0, 1, 3], "truefalse": True, "fill": ["全国代表大会", "中央委员会"], "essay": "略"}


@pytest.mark.parametrize("label", ["system_admin+cadre", "author+cadre", "grader+cadre"])
def test_a_person_of_several_roles_practises_their_own(client, auth, opened, label):
    bank, chapter, questions, _cadre, _admin = opened
    person = several_roles(label, make_unit())
    auth.login(person.username)
    # The pages: a chapter started, a wrong answer, its key at once, and the question in their book.
    started = client.post_form("/practice/start", {"mode": "category", "category": str(chapter.id)})
    assert started.status_code == 302 and "/practice/sessions/" in started.headers["Location"]
    url = started.headers["Location"]
    page = client.get(url)
    assert page.status_code == 200 and SECRET not in page.get_data(as_text=True)
    answered = client.post_form(url + "/answer", {"position": "0", "q": "1"})  # the single choice, wrong
    assert answered.status_code == 302 and answered.headers["Location"].endswith("?answered=0")
    assert SECRET in client.get(answered.headers["Location"]).get_data(as_text=True)
    book = client.get("/practice/wrong-book").get_data(as_text=True)
    assert f'data-question="{questions["single"].id}" data-access="practice"' in book and SECRET in book
    # The API: a session of the bank, an answer with its feedback, the book.
    csrf = {"X-CSRFToken": client.csrf_token()}
    session = client.post("/api/v1/practice/sessions", json={"mode": "category", "bank": bank.code}, headers=csrf)
    assert session.status_code == 200
    shown = session.get_json()["question"]
    feedback = client.put(f"/api/v1/practice/sessions/{session.get_json()['id']}/answers/{shown['position']}",
                          json={"value": RIGHT[shown["type"]]}, headers=csrf)  # fmt: skip
    assert feedback.status_code == 200 and feedback.get_json()["explanation"] == SECRET
    entries = [e for g in client.get("/api/v1/practice/wrong-book").get_json() for e in g["entries"]]
    assert [(e["question"], e["open"]) for e in entries] == [(questions["single"].id, True)]


#: The explanations of an author's questions: those a formal exam ahead can draw, and those it cannot.
HELD, FREE = "考前保密的解析", "可以练习的解析"


def test_an_author_who_is_a_cadre_gets_no_key_of_a_question_an_exam_ahead_can_draw(client, auth, db):
    unit = make_unit()
    author = several_roles("author+cadre", unit)
    now = now_utc()
    bank = make_bank(owner_unit=unit, actor=author)  # the author's own bank, of their own questions
    held = [make_question(bank, "single", actor=author, status="active", stem=f"保密题{i}。", explanation=HELD)
            for i in range(2)]  # fmt: skip
    free = [make_question(bank, "truefalse", actor=author, status="active", stem=f"练习题{i}。", explanation=FREE)
            for i in range(2)]  # fmt: skip
    qb.open_for_practice(author, bank, True, now)
    _db.session.commit()
    auth.login(author.username)
    csrf = {"X-CSRFToken": client.csrf_token()}
    # A session started while every question was open; then a formal exam is set up that draws the single choices.
    early = client.post("/api/v1/practice/sessions", json={"mode": "category", "bank": bank.code}, headers=csrf)
    assert early.get_json()["question"]["question"] == held[0].id
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    exam = Exam(code="AUTH1", title="将来的考试", subject=bank.subject, duration_minutes=60, opens_at=now,
                closes_at=now + timedelta(days=2), pass_mark=1, eligibility={"unit_ids": [unit.id]})  # fmt: skip
    section = ExamSection(position=1, title="一、单选题", qtype="single", points_per_question=1)
    section.rules.append(SectionRule(bank=bank, count=1))
    exam.sections.append(section)
    _db.session.add(exam)
    _db.session.flush()
    publishing.publish(admin, exam, now)  # the author is one of its candidates too
    _db.session.commit()
    sid = early.get_json()["id"]
    refused = client.put(f"/api/v1/practice/sessions/{sid}/answers/0", json={"value": 0}, headers=csrf)
    assert refused.status_code == 409 and HELD not in refused.get_data(as_text=True)
    seen = []
    while (shown := client.get(f"/api/v1/practice/sessions/{sid}").get_json()["question"]) is not None:
        body = client.put(f"/api/v1/practice/sessions/{sid}/answers/{shown['position']}", json={"value": True},
                          headers=csrf).get_json()  # fmt: skip
        seen.append((shown["question"], body["explanation"]))
    assert seen == [(q.id, FREE) for q in free]
    # The pages serve none of them either, nor does anything else of practice.
    started = client.post_form("/practice/start", {"mode": "category", "bank": str(bank.id), "order": "shuffled"})
    url = started.headers["Location"]
    pages = [client.get(url).get_data(as_text=True)]
    for position in range(len(free)):
        answered = client.post_form(url + "/answer", {"position": str(position), "q": "true"})
        pages += [
            client.get(answered.headers["Location"]).get_data(as_text=True),
            client.get(url).get_data(as_text=True),
        ]
    assert FREE in pages[1] and not [p for p in pages if HELD in p or "保密题" in p]
    choices = client.get("/api/v1/practice").get_json()
    assert [(b["code"], b["count"]) for b in choices["banks"]] == [(bank.code, len(free))]
    daily = client.post("/api/v1/practice/daily", headers=csrf).get_json()
    assert daily["question"]["question"] in {q.id for q in free}
    mocked = client.post("/api/v1/practice/mocks", json={"exam": exam.code}, headers=csrf)  # its paper is all held
    assert mocked.status_code == 409 and mocked.get_json()["error"]["code"] == "nothing_open"
    # A held question in their book (from an exam's review): listed, its reason given, neither text nor key.
    services.record_in_book(author.id, held[0].id, Outcome.WRONG, now, "exam")
    _db.session.commit()
    book = client.get("/practice/wrong-book").get_data(as_text=True)
    assert f'data-question="{held[0].id}" data-access="held"' in book and HELD not in book and "保密题" not in book
    (entry,) = [e for g in client.get("/api/v1/practice/wrong-book").get_json() for e in g["entries"]]
    assert entry["question"] == held[0].id and entry["open"] is False and entry["stem"] is None
    again = client.post("/api/v1/practice/sessions", json={"mode": "wrong_book"}, headers=csrf)
    assert again.status_code == 409 and HELD not in again.get_data(as_text=True)
