"""The exam page's layout in a real Chromium: on a phone a compact bar (time, answered count, save state) and the
navigator on demand; on a desktop the navigator beside the paper; a fill-in question with a blank left empty
counted and listed as partly answered; a quiet header with no way off the paper. The screenshots of the exam page
(desktop, phone, phone with the navigator open) go to docs/screenshots/, which the README shows."""

from pathlib import Path

import pytest
from sqlalchemy import select

from accounts.models import RoleAssignment, User
from core.extensions import db
from core.models import now_utc
from core.policy import Role
from demo import district
from exam import eligibility
from exam.models import Exam
from tests.browser.test_exam_page import block, login, open_paper
from tests.factories import PASSWORD, make_open_exam

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}

#: Every navigator item on screen and the topmost element at its centre (what a tap there reaches).
ITEMS_REACHABLE = """() => Array.from(document.querySelectorAll('.navigator .nav-item')).map((a) => {
  const r = a.getBoundingClientRect();
  const inside = r.width > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth;
  return inside && document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) === a;
})"""


def demo_paper(browser, base, viewport):
    """A demo cadre on the demo exam's 32-question paper in a new browser context, two answers saved."""
    district.load(now_utc())
    exam = db.session.scalar(select(Exam).where(Exam.code == "ZZLL2026"))
    candidate = db.session.get(User, min(eligibility.eligible_user_ids(exam)))
    candidate.set_password(PASSWORD)
    candidate.must_change_password = False
    db.session.commit()
    context = browser.new_context(viewport=viewport, locale="zh-CN", is_mobile=viewport == PHONE, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    open_paper(page, base, candidate, code=exam.code)
    page.locator("#q-1 input[type=radio]").nth(1).check()
    page.locator("#q-2 input[type=radio]").nth(0).check()
    page.wait_for_function("() => document.getElementById('save-state').dataset.state === 'saved'")
    return page, context


def test_on_a_phone_a_compact_bar_and_the_navigator_on_demand(app, live_server, browser):
    page, context = demo_paper(browser, live_server, PHONE)
    bar = page.locator(".exam-side")
    toggle = page.get_by_role("button", name="答题卡")
    # The bar: time, answered count, save state and the navigator's button, in one line of at most 64 px.
    assert bar.bounding_box()["height"] <= 64, bar.bounding_box()
    assert page.locator("#answered-count").inner_text() == "已答 2/32"
    assert page.locator("#save-state").is_visible() and page.locator("#time-left").is_visible()
    assert toggle.get_attribute("aria-expanded") == "false" and toggle.get_attribute("aria-controls") == "nav-panel"
    assert not page.locator(".navigator").is_visible() and not page.locator("#submit-button").is_visible()
    page.screenshot(path=str(SCREENSHOTS / "exam-phone.png"))
    # Scrolled down the paper, the bar stays at the top and the paper has the rest of the screen.
    page.locator("#q-12").scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, 400)")
    box = bar.bounding_box()
    assert box["y"] == 0 and box["height"] <= 64

    # Opened, the navigator shows every item (none cut off, each one a tap reaches), the legend and the submit.
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert page.evaluate("document.activeElement.dataset.pos") == "1"  # the keyboard is in the navigator
    reachable = page.evaluate(ITEMS_REACHABLE)
    assert len(reachable) == 32 and all(reachable), reachable
    assert page.locator("#submit-button").is_visible() and page.locator(".nav-legend").is_visible()
    assert "answered" in page.locator('.nav-item[data-pos="2"]').get_attribute("class")
    page.screenshot(path=str(SCREENSHOTS / "exam-navigator.png"))

    # Esc closes it and gives the focus back to its button; choosing a question closes it and shows the question.
    page.keyboard.press("Escape")
    assert toggle.get_attribute("aria-expanded") == "false" and not page.locator(".navigator").is_visible()
    assert page.evaluate("document.activeElement.id") == "nav-toggle"
    page.keyboard.press("Enter")  # the keyboard opens it again
    assert page.locator(".navigator").is_visible()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.pos") == "2"
    page.locator('.nav-item[data-pos="27"]').click()
    assert not page.locator(".navigator").is_visible()
    page.wait_for_function("() => location.hash === '#q-27'")
    question = page.locator("#q-27").bounding_box()
    assert bar.bounding_box()["height"] <= question["y"] < PHONE["height"] / 2  # below the bar, not under it

    # A tap beside the open navigator closes it too.
    toggle.click()
    page.mouse.click(200, 800)
    assert not page.locator(".navigator").is_visible()
    context.close()


def test_on_a_desktop_the_navigator_stays_beside_the_paper(app, live_server, browser):
    page, context = demo_paper(browser, live_server, {"width": 1366, "height": 768})
    assert not page.locator("#nav-toggle").is_visible()
    assert page.locator(".navigator").is_visible() and page.locator("#submit-button").is_visible()
    assert all(page.evaluate(ITEMS_REACHABLE))
    side, paper = page.locator(".exam-side").bounding_box(), page.locator("#paper").bounding_box()
    assert side["x"] + side["width"] <= paper["x"]  # beside, not above
    page.screenshot(path=str(SCREENSHOTS / "exam-page.png"))
    context.close()


def test_a_fill_in_with_an_empty_blank_is_partly_answered_and_listed_before_submitting(app, live_server, page):
    exam, user = make_open_exam(qtypes=("single", "fill", "essay"))
    attempt = open_paper(page, live_server, user)
    single, q = block(page, attempt, "single")
    q.locator("input[type=radio]").nth(0).check()
    fill, q = block(page, attempt, "fill")
    essay = next(i for i in attempt.paper.items if i.section.qtype == "essay")
    nav = page.locator(f'.nav-item[data-pos="{fill.position}"]')
    q.get_by_label("第1空").fill("全国代表大会")
    assert nav.get_attribute("data-state") == "partial" and "partial" in nav.get_attribute("class")
    assert "answered" not in nav.get_attribute("class").split()
    assert page.locator("#answered-count").inner_text() == "已答 1/3"
    assert page.locator("#partial-count").inner_text() == "1题未答完"
    assert "未答完" in page.locator(".nav-legend").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".exam-side").screenshot(path=str(ARTIFACTS / "exam-partial.png"))
    page.wait_for_function("() => document.getElementById('save-state').dataset.state === 'saved'")

    page.get_by_role("button", name="交卷").first.click()
    dialog = page.get_by_role("dialog")
    assert dialog.locator("#confirm-unanswered").inner_text() == str(essay.position)
    assert dialog.locator("#confirm-partial").inner_text() == str(fill.position)
    assert "未答完（有空未填）" in dialog.inner_text()
    dialog.get_by_role("button", name="返回试卷").click()

    # The second blank filled: answered; emptied again: partly answered again.
    q.get_by_label("第2空").fill("中央委员会")
    assert nav.get_attribute("data-state") == "answered"
    assert page.locator("#answered-count").inner_text() == "已答 2/3" and page.locator("#partial-count").is_hidden()
    q.get_by_label("第2空").fill("")
    assert nav.get_attribute("data-state") == "partial"
    page.wait_for_function("() => document.getElementById('save-state').dataset.state === 'saved'")

    # The result page counts as the exam page did.
    page.get_by_role("button", name="交卷").first.click()
    page.get_by_role("dialog").get_by_role("button", name="交卷").click()
    page.wait_for_url("**/result")
    progress = page.locator("#progress").inner_text()
    assert "共3题，已答1题。" in progress and f"未答完（有空未填）：第{fill.position}题。" in progress


def test_the_exam_page_has_a_quiet_header(app, live_server, page):
    """Also for a candidate who administers the district and grades (whose header has the most links)."""
    exam, user = make_open_exam(qtypes=("single",))
    for role in (Role.ORG_ADMIN, Role.GRADER):
        user.roles.append(RoleAssignment(role=role))
    db.session.commit()
    login(page, live_server, user.username)
    page.goto(f"{live_server}/my/exams/{exam.code}/")
    header = page.locator("header")
    # The start page keeps the site's header: home, log-out, the language switch.
    assert header.get_by_role("link", name="首页").count() == 1
    assert header.get_by_role("button", name="退出登录").count() == 1 and header.locator(".lang-switch").count() == 1
    assert (
        header.get_by_role("link", name="阅卷").count() == 1
        and header.get_by_role("link", name="统计报表").count() == 1
    )
    page.get_by_label("我已阅读考试须知和考试规则。").check()
    page.get_by_role("button", name="开始答题").click()
    page.wait_for_url("**/my/attempts/*")
    # On the paper: the product's name and the exam's title, nothing that leads away.
    assert header.locator("a, button, form").count() == 0
    assert (
        page.get_by_role("link", name="首页").count() == 0 and page.get_by_role("button", name="退出登录").count() == 0
    )
    assert "页面测试考试" in header.inner_text()
    assert page.locator("a[href]:not([href^='#'])").count() == 0  # no link anywhere on the page leaves it
