"""The question editor in a real browser: the rich-text box, the server-rendered live preview, saving."""

from pathlib import Path

import pytest
from sqlalchemy import select

from core.extensions import db
from core.policy import Role
from question_bank.models import Question
from tests.factories import PASSWORD, make_bank, make_cadre, make_unit

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_author_writes_a_fill_in_question_with_live_preview(app, live_server, page):
    unit = make_unit("区委组织部")
    author = make_cadre(unit=unit, roles=(Role.AUTHOR, Role.CADRE)).user
    make_bank(code="ZZLL", owner_unit=unit)
    db.session.commit()

    page.goto(f"{live_server}/login")
    page.get_by_label("工号").fill(author.username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server}/")
    page.goto(f"{live_server}/banks/ZZLL/questions/new?type=fill")

    editor = page.get_by_role("textbox", name="题干")
    editor.click()
    page.keyboard.type("党的最高领导机关是党的______和它所产生的______。")
    page.get_by_label("可接受答案").fill("全国代表大会\n中央委员会")
    # The preview is rendered by the server from the unsaved form: two blanks appear as inputs.
    page.locator("#preview input.blank").nth(1).wait_for()
    assert page.locator("#preview input.blank").count() == 2
    assert "党的最高领导机关" in page.locator("#preview .stem").inner_text()

    editor.press("Control+a")
    page.get_by_role("button", name="加粗").first.click()  # bold through the toolbar
    page.get_by_role("button", name="保存", exact=True).click()
    page.wait_for_url(f"{live_server}/banks/questions/*")
    assert "草稿" in page.locator("h1").inner_text()

    question = db.session.scalar(select(Question))
    assert question.current_version.answer == [["全国代表大会"], ["中央委员会"]]
    assert "<b>" in question.current_version.stem or "<strong>" in question.current_version.stem
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "question-detail.png"), full_page=True)
