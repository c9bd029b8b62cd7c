"""The admin's definition pages in a real Chromium on the demo district: the paper page keeps its forms folded
until asked for, proposes the bank of the exam's subject and lists only the chosen bank's categories; the wide
report tables fit their cards at 1,366 px; the eligibility page shows the unit tree."""

from pathlib import Path

import pytest
from sqlalchemy import select

from accounts.models import User
from core.extensions import db
from core.models import now_utc
from demo import district
from exam import definition
from exam.models import Exam
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _login(page, live_server, username="admin", password=district.DEMO_PASSWORD):
    log_in(page, live_server, username, password)


def _draft_demo_exam(code="ZZLL2026") -> Exam:
    now = now_utc()
    district.load(now)
    exam = db.session.scalar(select(Exam).where(Exam.code == code))
    definition.withdraw(db.session.scalar(select(User).where(User.username == "admin")), exam, now)
    db.session.commit()
    return exam


def test_the_paper_page_folds_its_forms_and_offers_the_subjects_bank(app, live_server, page):
    _draft_demo_exam()
    _login(page, live_server)
    page.goto(f"{live_server}/exams/ZZLL2026/paper")
    height = page.evaluate("document.documentElement.scrollHeight")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "paper.png"), full_page=True)
    print(f"paper page height at 1366 px: {height} px")
    assert height < 2600  # five sections with their rules (4,771 px with every form open)
    section = page.locator("section[id^=section-]").first
    bank = section.get_by_label("题库")
    assert not bank.is_visible()  # folded until asked for
    section.get_by_text("添加抽题规则").click()
    assert bank.is_visible()
    assert "政治理论" in bank.locator("option:checked").inner_text()  # the exam's subject decides the default
    category = section.get_by_label("分类")
    shown = category.locator("option:not([hidden])").all_inner_texts()
    assert len(shown) > 1 and all("岗位" not in text for text in shown)
    bank.select_option(label=next(t for t in bank.locator("option").all_inner_texts() if "岗位" in t))
    shown = category.locator("option:not([hidden])").all_inner_texts()
    assert len(shown) > 1 and all("政治" not in text for text in shown[1:])
    page.screenshot(path=str(ARTIFACTS / "paper-rule-form.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})  # on a phone the open form stays within the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(ARTIFACTS / "paper-phone.png"), full_page=True)


def _fits(page, table: str) -> dict:
    """The table's width against its wrapper's, and whether its last header cell is within the viewport."""
    return page.evaluate(
        """(id) => { const t = document.getElementById(id); const wrap = t.parentElement;
        const last = t.querySelector('thead th:last-child').getBoundingClientRect();
        return {table: t.scrollWidth, wrap: wrap.clientWidth, lastRight: last.right, viewport: window.innerWidth}; }""",
        table,
    )


def test_wide_report_tables_fit_their_cards_at_1366(app, live_server, page):
    district.load(now_utc())
    db.session.commit()
    _login(page, live_server)
    ARTIFACTS.mkdir(exist_ok=True)
    pages = (
        ("/reports/exams/ZZLL2025/items", "items"),  # 4 options: a compact grid of counts; the flags in view
        ("/reports/exams/ZZLL2025/ranking?rank=section_chief", "ranking"),  # filtered: two placings
        ("/reports/exams/ZZLL2025/units", "unit-ranking"),
        ("/reports/exams/ZZLL2025/statistics", "distribution"),
        ("/exams/ZZLL2025/attempts", "attempts"),
    )
    for path, table in pages:
        page.goto(f"{live_server}{path}")
        fit = _fits(page, table)
        page.screenshot(path=str(ARTIFACTS / f"wide-{table}-1366.png"), full_page=True)
        assert fit["table"] <= fit["wrap"] + 1 and fit["lastRight"] <= fit["viewport"], (path, fit)


def test_the_eligibility_page_shows_the_unit_tree(app, live_server, page):
    _draft_demo_exam()
    _login(page, live_server)
    page.goto(f"{live_server}/exams/ZZLL2026/eligibility")
    boxes = page.locator("fieldset.tree label")
    units = [t.replace("└", "").split("（")[0].strip() for t in boxes.all_inner_texts()]  # without the parent path
    assert len(units) >= 10
    town, child = units.index("青山镇"), units.index("青山镇农业综合服务中心")
    top, town_box, child_box = (boxes.nth(i).locator("input").bounding_box() for i in (0, town, child))
    assert top["x"] < town_box["x"] < child_box["x"]  # indented by depth
    assert town_box["y"] < child_box["y"] and child_box["y"] - town_box["y"] >= town_box["height"]  # a line each
    assert "青山镇 › " in boxes.nth(child).get_attribute("title")  # the parent path
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "eligibility.png"), full_page=True)


def test_a_grader_who_sat_reads_why_grading_waits_then_follows_the_queue(app, live_server, page):
    from datetime import timedelta

    from tests.exam.test_conflicts import _sat_with_grader
    from tests.factories import PASSWORD

    exam, grader, _attempts = _sat_with_grader(db)
    closes = exam.closes_at
    exam.closes_at = now_utc() + timedelta(hours=1)
    db.session.commit()
    _login(page, live_server, grader.username, PASSWORD)
    page.goto(f"{live_server}/grading/")
    assert "考试结束后即可阅卷" in page.locator("#grading-queue").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "grading-waits.png"), full_page=True)
    exam.closes_at = closes
    db.session.commit()
    page.goto(f"{live_server}/grading/")
    page.screenshot(path=str(ARTIFACTS / "grading-open.png"), full_page=True)
    page.get_by_role("link", name="阅下一份答卷").click()
    page.get_by_label("得分").first.fill("1")
    page.get_by_role("button", name="保存并阅下一份").click()
    page.wait_for_url("**/answers/**")
