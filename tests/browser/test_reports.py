"""The report pages in a real Chromium on the demo district: the ranking, the statistics with their charts (drawn
by the vendored Chart.js from the data tables, under the app's CSP) and the item analysis; the print layout hides
the navigation. Screenshots go to docs/screenshots/ (the README shows them), so they stay current."""

from pathlib import Path

import pytest

from core.extensions import db
from core.models import now_utc
from demo import district

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_report_pages_with_charts(app, live_server, page):
    district.load(now_utc())
    db.session.commit()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server}/login")
    page.get_by_label("工号").fill("admin")
    page.get_by_label("密码").fill(district.DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server}/")
    page.get_by_role("link", name="统计报表").first.click()
    page.get_by_role("row", name="ZZLL2025").get_by_role("link", name="排名").click()

    rows = page.locator("#ranking tbody tr")
    assert rows.count() == 12
    assert rows.first.locator("td").first.inner_text().startswith("1")
    assert "缺考" in page.locator("#ranking-counts").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "report-ranking.png"), full_page=True)

    page.get_by_role("link", name="成绩统计").click()
    page.locator("#distribution[data-chart-drawn='1']").wait_for()  # (a function to wait for would need eval: CSP)
    assert page.locator(".chart-box canvas").count() == 3  # distribution, by section, by subject
    assert page.locator("#distribution tbody tr").count() == 10  # the data table stays, for screen readers
    assert page.locator(".chart-box").first.get_attribute("aria-hidden") == "true"
    page.screenshot(path=str(SCREENSHOTS / "report-statistics.png"), full_page=True)
    page.emulate_media(media="print")
    assert not page.locator(".topbar").is_visible() and not page.locator(".subnav").is_visible()
    assert page.locator("#summary").is_visible()
    page.emulate_media(media="screen")

    page.get_by_role("link", name="题目分析").click()
    assert page.locator("#items tbody tr").count() >= 20
    assert "克龙巴赫 α 系数" in page.locator("#reliability").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "report-items.png"), full_page=True)
    assert errors == []
