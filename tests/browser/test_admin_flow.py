"""The demo admin in a real browser: log in, switch to English, open the cadre list."""

from pathlib import Path

import pytest

from core.extensions import db
from core.models import now_utc
from demo import district

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_demo_admin_logs_in_switches_language_and_lists_cadres(app, live_server, page):
    district.load(now_utc())
    db.session.commit()

    page.goto(f"{live_server}/")
    assert page.url.endswith("/login?next=/") or "/login" in page.url
    assert page.locator("h1").inner_text() == "登录任职资格在线考试系统"
    page.get_by_label("工号").fill("admin")
    page.get_by_label("密码").fill(district.DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server}/")
    assert "欢迎" in page.locator("h1").inner_text()

    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text().startswith("Welcome")

    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Cadres").click()
    page.wait_for_url(f"{live_server}/admin/cadres")
    assert page.locator("h1").inner_text() == "Cadres"
    rows = page.locator("table.table tbody tr")
    assert rows.count() == 20  # the first page of the demo district's cadres
    assert "cadres found" in page.get_by_role("status").last.inner_text()

    # Filter by age band with the keyboard-usable form.
    page.get_by_label("Age", exact=True).select_option("under35")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/admin/cadres?**age=under35**")
    assert 0 < page.locator("table.table tbody tr").count() <= 20

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "cadre-list.png"), full_page=True)


def test_phone_layout_login(app, live_server, browser):
    district.load(now_utc())
    db.session.commit()
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.get_by_label("工号").fill("cadre01")
    page.get_by_label("密码").fill(district.DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server}/")
    # Nothing wider than the screen: no sideways scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "phone-dashboard.png"), full_page=True)
    context.close()
