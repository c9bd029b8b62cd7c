"""The required reading page in a real Chromium on the demo district: cadre01 sees the year's books with their
notes and the list's written exam with its window and a way to it; the department's admin sees the exam's editor
link. The screenshot goes to docs/screenshots/ (the README shows it)."""

from pathlib import Path

import pytest

from core.extensions import db
from core.models import now_utc
from demo import district
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _login(page, live_server, username):
    log_in(page, live_server, username, district.DEMO_PASSWORD)


def test_the_reading_page_shows_the_lists_written_exam(app, live_server, page):
    district.load(now_utc())
    db.session.commit()
    page.set_viewport_size({"width": 1100, "height": 900})
    _login(page, live_server, "cadre01")
    page.goto(f"{live_server}/archive/reading?year=2026")
    card = page.locator("#reading-exam")
    assert card.get_attribute("data-exam") == "READ2026"
    assert "2026年度必读书目笔试" in card.inner_text()
    assert page.locator("ol.books li").count() == 2
    page.screenshot(path=str(SCREENSHOTS / "archive-reading.png"), full_page=True)
    page.locator("#reading-exam-take").click()
    page.wait_for_url("**/exams/READ2026/")
    assert "2026年度必读书目笔试" in page.locator("h1").inner_text()

    # Leave the exam's start page first: a request of its still in flight could set the session cookie again.
    page.goto("about:blank")
    page.context.clear_cookies()
    _login(page, live_server, "zzb001")  # runs the exams: left out of this one by hand, so no way to sit it
    page.goto(f"{live_server}/archive/reading?year=2026")
    assert page.locator("#reading-exam").get_by_role("link", name="编辑考试").is_visible()
    assert page.locator("#reading-exam-take").count() == 0 and page.locator("#reading-exam-problems").count() == 0
