"""The report pages in a real Chromium on the demo district: the ranking, the statistics with their charts (drawn
by the vendored Chart.js from the data tables, under the app's CSP) and the item analysis; the print layout hides
the navigation. Screenshots go to docs/screenshots/ (the README shows them), so they stay current."""

from pathlib import Path

import pytest

from core.extensions import db
from core.models import now_utc
from demo import district
from tests import poppler

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHART_BAR = (108, 146, 188)  # charts.js's rgba(59, 110, 165, 0.75) on white


def _assert_charts_print_inside_their_boxes(pdf: bytes, tmp_path) -> None:
    """Printed (as Ctrl+P prints the page on screen), the distribution chart ends above its table's caption: the
    canvas keeps the size it was drawn at, and used to run over the table and off the page's right edge."""
    tools = poppler.tools()
    printed = tmp_path / "statistics.pdf"
    printed.write_bytes(pdf)
    image = poppler.images(tools, printed, 50)[0]
    _word, _x0, top, _x1, bottom = next(w for w in poppler.words(tools, printed)[0] if w[0] == "各分数段人数")
    scale = 50 / 72
    band = image.crop((0, round(top * scale), image.width, round((bottom + 60) * scale)))
    bars = [p for p in band.get_flattened_data() if all(abs(a - b) <= 30 for a, b in zip(p, CHART_BAR, strict=True))]
    assert not bars, f"{len(bars)} pixels of the chart's bars over its table"


def test_report_pages_with_charts(app, live_server, page, tmp_path):
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
    page.wait_for_url("**/reports/exams/ZZLL2025/ranking")  # the click returns before the page has changed

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
    page.emulate_media(media="no-override")  # back to the screen; page.pdf prints with the print styles, as Ctrl+P does
    _assert_charts_print_inside_their_boxes(page.pdf(format="A4"), tmp_path)

    page.get_by_role("link", name="题目分析").click()
    page.wait_for_url("**/items")
    assert page.locator("#items tbody tr").count() >= 20
    assert "克龙巴赫 α 系数" in page.locator("#reliability").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "report-items.png"), full_page=True)

    # Computing again is a job (run at once here): its page shows the bar at its end and leads back.
    page.get_by_role("button", name="立即重新计算").click()
    page.wait_for_url("**/jobs/*")
    box = page.locator("section.job")
    assert "已完成" in box.locator("[data-job=state_label]").inner_text()
    assert box.locator("progress").get_attribute("value") == box.locator("progress").get_attribute("max") != "0"
    box.get_by_role("link", name="查看结果").click()
    page.wait_for_url("**/items")
    assert page.locator("#items tbody tr").count() >= 20
    assert errors == []
