"""The demo admin's home page in a real Chromium (zh-CN): the dashboard's cards, a number that leads to its list,
the menu of before, and no sideways scrolling on a phone. Screenshots go to docs/screenshots/."""

from pathlib import Path

import pytest

from core.extensions import db
from core.models import now_utc
from demo import district
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _login(page, live_server, username="admin"):
    log_in(page, live_server, username, district.DEMO_PASSWORD)


def test_the_demo_admins_dashboard(app, live_server, page, browser):
    district.load(now_utc())
    db.session.commit()
    page.set_viewport_size({"width": 1280, "height": 900})
    _login(page, live_server)
    board = page.locator("#board")
    assert board.locator("#board-exams h2").inner_text().startswith("正在进行的考试")
    assert "待办事项" in board.locator("#board-waiting h2").inner_text()
    assert "学习完成情况" in board.locator("#board-completion h2").inner_text()
    assert page.get_by_role("navigation", name="系统管理").get_by_role("link", name="审计日志").is_visible()
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)

    # A number leads to the list behind it, with its filter in the URL.
    board.locator("#board-completion tbody tr").first.locator("td").nth(1).get_by_role("link").first.click()
    page.wait_for_url("**/archive/overview/cadres?**which=met**")

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN")
    small = phone.new_page()
    _login(small, live_server)
    assert small.evaluate("document.documentElement.scrollWidth") <= 390
    small.screenshot(path=str(SCREENSHOTS / "dashboard-phone.png"), full_page=True)
    phone.close()
