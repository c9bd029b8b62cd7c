"""Practice on a phone-sized page in a real Chromium (zh-CN), as the demo's cadre01: a chapter practised with the key
and explanation right after each answer, a mock of the exam ahead handed in by its timer, and the wrong-answer book
filling and emptying. Screenshots go to docs/screenshots/."""

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.models import now_utc
from demo import district
from practice.models import PracticeAnswer, PracticeSession, WrongBookEntry
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}


def _login(page, live_server, username="cadre01"):
    log_in(page, live_server, username, district.DEMO_PASSWORD)


def _book(user_id):
    db.session.expire_all()
    return db.session.scalar(
        select(func.count())
        .select_from(WrongBookEntry)
        .where(
            WrongBookEntry.user_id == user_id, WrongBookEntry.removed_at.is_(None), WrongBookEntry.mastered_at.is_(None)
        )
    )


def test_practice_on_a_phone(app, live_server, browser):
    district.load(now_utc())
    db.session.commit()
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    _login(page, live_server)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="练习").click()
    page.wait_for_url("**/practice/")
    assert page.locator("#practice-daily .streak").get_attribute("data-streak") == "5"
    assert page.locator("#practice-mastery li").count() >= 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SCREENSHOTS / "practice-home-phone.png"), full_page=True)
    user_id = db.session.scalar(select(PracticeSession.user_id).limit(1))  # cadre01's: the demo's only practice
    before = _book(user_id)

    # A chapter, in order: the key and the explanation come right after the answer.
    first = page.locator("form.practice-choice").first
    first.get_by_role("button", name="开始练习").click()
    page.wait_for_url("**/practice/sessions/*")
    question = page.locator("#question")
    assert question.is_visible() and page.locator("#feedback").count() == 0
    # Answer wrong on purpose where the type allows it: the last option, "wrong" or an empty blank.
    choice = question.locator("input[type=radio], input[type=checkbox]")
    if choice.count():
        choice.last.check()
    page.get_by_role("button", name="提交并查看解析").click()
    feedback = page.locator("#feedback")
    feedback.wait_for()
    assert feedback.locator("h2").inner_text() in ("回答正确", "回答错误", "部分正确", "请对照参考答案自评")
    assert feedback.locator("dl.key").is_visible()  # the key (and explanation, where the question has one)
    page.screenshot(path=str(SCREENSHOTS / "practice-feedback-phone.png"), full_page=True)
    db.session.expire_all()
    answer = db.session.scalar(select(PracticeAnswer).order_by(PracticeAnswer.id.desc()).limit(1))
    if answer.outcome in ("wrong", "partly"):  # the question is in the book now
        entry = db.session.scalar(select(WrongBookEntry).filter_by(user_id=user_id, question_id=answer.question_id))
        assert entry.removed_at is None and entry.mastered_at is None and _book(user_id) >= before
    page.get_by_role("link", name="下一题").click()
    page.locator("#question").wait_for()

    # The wrong-answer book: it empties as questions are removed (or mastered).
    page.goto(f"{live_server}/practice/wrong-book")
    assert _book(user_id) >= 1 and page.locator(".wrong-book-entry").count() >= 1
    page.screenshot(path=str(SCREENSHOTS / "practice-wrong-book-phone.png"), full_page=True)
    while page.locator(".wrong-book-entry").count():
        page.locator(".wrong-book-entry").first.get_by_role("button", name="移除").click()
        page.wait_for_load_state()
    assert _book(user_id) == 0 and page.locator("#book-empty").is_visible()

    # A mock of the exam ahead, handed in by its timer.
    page.goto(f"{live_server}/practice/")
    mocks = page.locator("#practice-mocks form")
    assert mocks.count() >= 1
    mocks.first.get_by_role("button", name="参加模拟考试").click()
    page.wait_for_url("**/practice/sessions/*")
    paper = page.locator("#mock-paper")
    assert paper.is_visible() and page.locator("#mock-result").count() == 0
    paper.locator("#m-0 input[type=radio]").first.check()
    page.screenshot(path=str(SCREENSHOTS / "practice-mock-phone.png"), full_page=False)
    # Nearly out of time (moved on in the database): after a reload the answer given is still there, and the
    # paper goes in by itself.
    session = db.session.scalar(select(PracticeSession).where(PracticeSession.mode == "mock"))
    session.deadline_at = now_utc() + timedelta(seconds=4)
    db.session.commit()
    page.reload()
    assert page.locator("#m-0 input[type=radio]").first.is_checked()
    page.locator("#mock-result").wait_for(timeout=15_000)
    db.session.expire_all()
    assert db.session.get(PracticeSession, session.id).finished_at is not None
    given = db.session.scalar(select(PracticeAnswer).filter_by(session_id=session.id, position=0))
    assert given.answer == 0  # the first option, as shown (practice shows options unshuffled)
    assert page.locator(".practice-feedback dl.key").count() >= 1
    page.screenshot(path=str(SCREENSHOTS / "practice-mock-result-phone.png"), full_page=False)
    context.close()
