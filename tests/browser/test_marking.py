"""Double marking in a real Chromium: two graders mark one essay blind on the grading page (neither sees the
other's mark or comment), their marks differ beyond the tolerance, and the arbitrator, who sees both, decides."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from exam.models import Answer, Attempt
from tests.browser.test_checkin import login
from tests.exam.test_marking import essay, planned

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _person(browser, base, user):
    page = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN").new_page()
    page.set_default_timeout(10_000)
    login(page, base, user.username)
    return page


def test_two_graders_double_mark_and_an_arbitrator_decides(app, db, live_server, browser):
    exam, _people, attempts, _version, _admin, (g1, g2), (judge,) = planned(db, n=1, tolerance=1)
    answer = essay(db, attempts[0])
    ARTIFACTS.mkdir(exist_ok=True)

    first = _person(browser, live_server, g1)
    first.goto(f"{live_server}/grading/")
    first.locator("#grading-queue a.button.primary").first.click()
    expect(first.locator("#grade-form")).to_have_attribute("data-my-mark", "")
    first.locator("#points").fill("3")
    first.locator("#comment").fill("甲评：偏离题意")
    first.locator("#grade-form button[type=submit]").click()
    first.wait_for_url(f"{live_server}/grading/{exam.code}/")

    second = _person(browser, live_server, g2)
    second.goto(f"{live_server}/grading/{exam.code}/answers/{answer.id}")
    form = second.locator("#grade-form")
    expect(form).to_have_attribute("data-planned", "yes")
    expect(form).to_have_attribute("data-my-mark", "")  # blind: nothing of the first mark
    expect(second.locator("#points")).to_have_value("")
    assert "甲评" not in second.content()
    second.screenshot(path=str(ARTIFACTS / "marking-second-marker.png"), full_page=True)
    second.locator("#points").fill("8")
    second.locator("#comment").fill("乙评：论证充分")
    second.locator("#grade-form button[type=submit]").click()
    second.wait_for_url(f"{live_server}/grading/{exam.code}/")
    db.session.expire_all()
    assert db.session.get(Answer, answer.id).points is None  # 3 and 8: to arbitration

    arbiter = _person(browser, live_server, judge)
    arbiter.goto(f"{live_server}/grading/")
    arbiter.locator('#grading-queue a[data-arbitration="1"]').click()
    arbiter.locator(f'#arbitration-queue tr[data-answer="{answer.id}"] a').click()
    marks = arbiter.locator("#marks tr.mark")
    expect(marks).to_have_count(2)
    expect(arbiter.locator('#marks tr[data-kind="first"]')).to_have_attribute("data-points", "3")
    expect(arbiter.locator('#marks tr[data-kind="second"]')).to_have_attribute("data-points", "8")
    expect(arbiter.locator("#marks")).to_contain_text("甲评：偏离题意")
    expect(arbiter.locator("#marks")).to_contain_text("乙评：论证充分")
    arbiter.screenshot(path=str(ARTIFACTS / "marking-arbitration.png"), full_page=True)
    arbiter.locator("#points").fill("6")
    arbiter.locator("#comment").fill("仲裁：要点基本齐全")
    arbiter.locator("#mark-form button[type=submit]").click()
    arbiter.wait_for_url(f"{live_server}/marking/{exam.code}/arbitration")
    expect(arbiter.locator(f'#arbitration-queue tr[data-answer="{answer.id}"]')).to_have_count(0)

    db.session.expire_all()
    final = db.session.get(Answer, answer.id)
    assert (final.points, final.grader_id) == (6, judge.id)
    attempt = db.session.get(Attempt, attempts[0].id)
    assert attempt.fully_graded and attempt.score == 2 + 6
    for p in (first, second, arbiter):
        p.context.close()
