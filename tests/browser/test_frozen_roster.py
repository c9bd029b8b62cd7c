"""The absent list of a closed exam in a real Chromium: a cadre who retired or moved to another unit after the
close is still listed, in the unit they were in at the close (the roster frozen at the close)."""

import pytest

from core.extensions import db
from core.policy import Role
from reports import ranking
from tests.factories import PASSWORD, make_user
from tests.reports.test_frozen_roster import after_the_close, district

pytestmark = pytest.mark.browser


def test_the_absent_list_of_a_closed_exam_keeps_the_units_at_the_close(app, live_server, page):
    exam, a, b, people, _admin = district()
    ranking.participation(exam, None)  # the roster is frozen at the first reader after the close
    after_the_close(people, b)
    viewer = make_user(roles=(Role.ORG_ADMIN,))
    db.session.commit()
    page.goto(f"{live_server}/login")
    page.get_by_label("工号").fill(viewer.username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server}/")
    page.goto(f"{live_server}/reports/exams/{exam.code}/ranking")
    page.locator("#ranking-counts a").first.wait_for()
    page.locator("#ranking-counts a[href*='show=absent']").click()
    page.wait_for_url("**show=absent**")
    rows = page.locator("#absent tbody tr")
    assert rows.count() == 2
    cells = {rows.nth(i).locator("td").nth(1).inner_text(): rows.nth(i).locator("td").nth(2).inner_text()
             for i in range(2)}  # fmt: skip
    assert cells == {people["retires"].username: a.name, people["moves"].username: a.name}
