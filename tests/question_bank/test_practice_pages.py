"""The bank's pages and practice: each question's practice access on the list, opening and closing the bank and its
categories, and a question's use in the editor. Asserted on ids, data attributes and the database, never wording."""

import re
from datetime import timedelta

from sqlalchemy import func, select

from core.audit import AuditEvent
from core.extensions import db as _db
from core.models import now_utc
from core.policy import Role
from exam.models import Exam, ExamSection, SectionRule
from question_bank import services as qb
from question_bank.models import Bank, Category, Question, QuestionVersion
from tests.factories import make_bank, make_cadre, make_category, make_question, make_unit, make_user


def _badges(html: str) -> dict[int, tuple[str, str]]:
    """question id -> (data-practice, data-usage) of every badge on the page."""
    found = re.findall(r'data-question="(\d+)" data-practice="(\w*)" data-usage="(\w+)"', html)
    return {int(q): (practice, usage) for q, practice, usage in found}


def _draft_exam_drawing(bank: Bank, category: Category) -> Exam:
    """A formal exam ahead (a draft: it counts) whose rule draws single-choice questions of the category."""
    now = now_utc()
    exam = Exam(code="HOLD", title="HOLD", subject="政治理论", duration_minutes=60, opens_at=now + timedelta(days=1),
                closes_at=now + timedelta(days=2), pass_mark=1, status="draft")  # fmt: skip
    section = ExamSection(position=1, title="一、单选题", qtype="single", points_per_question=1)
    section.rules.append(SectionRule(bank=bank, category=category, count=1))
    exam.sections.append(section)
    _db.session.add(exam)
    _db.session.flush()
    return exam


def test_the_list_shows_what_each_question_is_open_to(client, auth, db):
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    bank = make_bank(code="OPEN", actor=admin)
    drawn = make_category(bank, "考点")
    held = make_question(bank, actor=admin, status="active", category=drawn)
    both = make_question(bank, actor=admin, status="active")
    practice_only = make_question(bank, actor=admin, status="active")
    exam_only = make_question(bank, actor=admin, status="active")
    draft = make_question(bank, actor=admin)
    qb.set_usage(admin, practice_only, "practice", now_utc())
    qb.set_usage(admin, exam_only, "exam", now_utc())
    qb.open_for_practice(admin, bank, True, now_utc())
    _draft_exam_drawing(bank, drawn)
    closed_bank = make_bank(code="SHUT", actor=admin)
    closed = make_question(closed_bank, actor=admin, status="active")
    db.session.commit()
    auth.login_as("org_admin")
    assert _badges(client.get("/banks/OPEN/").get_data(as_text=True)) == {
        held.id: ("held", "any"),
        both.id: ("practice", "any"),
        practice_only.id: ("practice", "practice"),
        exam_only.id: ("exam_only", "exam"),
        draft.id: ("inactive", "any"),
    }
    assert _badges(client.get("/banks/SHUT/").get_data(as_text=True)) == {closed.id: ("closed", "any")}
    assert _badges(client.get(f"/banks/questions/{held.id}").get_data(as_text=True)) == {held.id: ("held", "any")}


def _audits(action: str) -> list[AuditEvent]:
    return list(_db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def _page_form(html: str, action: str) -> dict:
    """The hidden fields of the page's form posting to `action`, as a browser sends them."""
    form = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', html, re.S).group()
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def test_open_and_close_the_bank_and_a_category(client, auth, db):
    bank = make_bank(code="PRAC")
    chapter = make_category(bank, "第一章")
    db.session.commit()
    bank_id, chapter_id = bank.id, chapter.id
    auth.login_as("org_admin")
    page = client.get("/banks/PRAC/").get_data(as_text=True)
    assert 'data-practice-open="0"' in page
    fields = _page_form(page, "/banks/PRAC/practice")  # the form as the page renders it, its CSRF field included
    assert client.post("/banks/PRAC/practice", data={**fields, "opened": "1"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Bank, bank_id).practice_open is True
    assert 'data-practice-open="1"' in client.get("/banks/PRAC/").get_data(as_text=True)
    client.post_form("/banks/PRAC/practice", {"opened": "0"})
    db.session.expire_all()
    assert db.session.get(Bank, bank_id).practice_open is False
    assert [e.detail for e in _audits("bank.practice_changed")] == [{"opened": True}, {"opened": False}]

    fields = _page_form(page, "/banks/PRAC/categories/practice")
    response = client.post("/banks/PRAC/categories/practice", data={**fields, "category_id": chapter_id, "opened": "1"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Category, chapter_id).practice_open is True
    assert db.session.get(Bank, bank_id).practice_open is False
    assert _audits("bank.practice_changed")[-1].detail == {"opened": True, "category": chapter_id}
    assert f'data-practice-open="{chapter_id}"' in client.get("/banks/PRAC/").get_data(as_text=True)
    client.post_form("/banks/PRAC/categories/practice", {"category_id": chapter_id, "opened": "0"})
    db.session.expire_all()
    assert db.session.get(Category, chapter_id).practice_open is False


def test_bad_requests_change_nothing(client, auth, db):
    bank = make_bank(code="PRAC")
    other = make_category(make_bank(code="ELSE"), "别的")
    db.session.commit()
    auth.login_as("org_admin")
    token = client.csrf_token()
    assert client.post("/banks/PRAC/practice", data={"opened": "1"}).status_code == 400  # no CSRF token
    assert client.post("/banks/PRAC/practice", data={"csrf_token": token}).status_code == 400  # neither open nor close
    assert client.post_form("/banks/PRAC/practice", {"opened": "yes"}).status_code == 400
    for category_id in (other.id, "", "x"):  # another bank's category, none, not a number
        url = "/banks/PRAC/categories/practice"
        assert client.post_form(url, {"category_id": category_id, "opened": "1"}).status_code == 400
    response = client.post("/banks/PRAC/categories/practice", data={"category_id": other.id, "opened": "1"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Bank, bank.id).practice_open is False
    assert db.session.get(Category, other.id).practice_open is False
    assert _audits("bank.practice_changed") == []


def test_a_cadre_and_an_author_of_another_unit_are_refused(client, auth, db):
    bank = make_bank(code="MINE", owner_unit=make_unit())
    chapter = make_category(bank, "第一章")
    outsider = make_cadre(unit=make_unit(), roles=(Role.AUTHOR, Role.CADRE)).user
    cadre = make_cadre().user
    db.session.commit()
    for user in (cadre, outsider):
        auth.login(user.username)
        assert client.post_form("/banks/MINE/practice", {"opened": "1"}).status_code == 403
        response = client.post_form("/banks/MINE/categories/practice", {"category_id": chapter.id, "opened": "1"})
        assert response.status_code == 403
        client.post_form("/logout")
    db.session.expire_all()
    assert db.session.get(Bank, bank.id).practice_open is False
    assert db.session.get(Category, chapter.id).practice_open is False
    assert _audits("bank.practice_changed") == []


def test_the_editor_sets_a_questions_use_without_a_new_version(client, auth, db):
    make_bank(code="USE")
    db.session.commit()
    auth.login_as("org_admin")
    form = {"stem": "宪法规定的根本制度是______。", "blanks": "人民代表大会制度", "points": "1", "usage": "practice"}
    form |= {"difficulty": "3", "category_id": "0", "tags": ""}
    assert client.post_form("/banks/USE/questions/new?type=fill", form).status_code == 302
    question = db.session.scalar(select(Question))
    assert question.usage == "practice"
    page = client.get(f"/banks/questions/{question.id}/edit").get_data(as_text=True)
    assert re.search(r'<option[^>]*selected[^>]*value="practice"|<option[^>]*value="practice"[^>]*selected', page)
    assert client.post_form(f"/banks/questions/{question.id}/edit", {**form, "usage": "exam"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Question, question.id).usage == "exam"
    versions = select(func.count(QuestionVersion.id)).where(QuestionVersion.question_id == question.id)
    assert db.session.scalar(versions) == 1
    assert [e.detail for e in _audits("question.usage_changed")] == [{"from": "practice", "to": "exam"}]
    client.post_form(f"/banks/questions/{question.id}/edit", {**form, "usage": "everything"})
    db.session.expire_all()
    assert db.session.get(Question, question.id).usage == "exam"  # not a choice: the form refuses it
