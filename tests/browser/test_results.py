"""The lifecycle by hand in a real Chromium (zh-CN): one district admin checks an official exam's results, another
approves and publishes the notice; the candidate sees the state on their result page (no score before the notice,
the score and the appeal deadline after it)."""

import pytest
from playwright.sync_api import expect

from core.extensions import db
from core.policy import Role
from results import lifecycle
from tests.factories import PASSWORD, make_user
from tests.results.world import official_exam

pytestmark = pytest.mark.browser


def _signed_in(browser, live_server, user):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server}/login")
    page.get_by_label("工号").fill(user.username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    page.wait_for_url(f"{live_server}/**")
    return context, page


def test_check_approve_publish_and_the_candidate_sees_the_state(app, browser, live_server):
    exam, people, attempts, _registrar = official_exam(db)
    checker, approver = make_user(roles=(Role.ORG_ADMIN,)), make_user(roles=(Role.SYSTEM_ADMIN,))
    db.session.commit()
    result_url = f"{live_server}/my/attempts/{attempts[0].id}/result"

    candidate_context, candidate = _signed_in(browser, live_server, people[0])
    candidate.goto(result_url)
    expect(candidate.locator("#result-lifecycle")).to_have_attribute("data-state", "marked")
    expect(candidate.locator(".score")).to_have_count(0)

    context, page = _signed_in(browser, live_server, checker)
    page.goto(f"{live_server}/exams/{exam.code}/")
    page.locator("#results-link").click()
    expect(page.locator("#state")).to_have_attribute("data-state", "marked")
    page.locator("#check-form textarea[name=note]").fill("总分、零分、临界分均已核对")
    page.locator("#check-form button[type=submit]").click()
    expect(page.locator("#state")).to_have_attribute("data-state", "checked")
    expect(page.locator("#same-person")).to_be_visible()  # the checker does not approve
    expect(page.locator("#approve-form")).to_have_count(0)
    context.close()

    context, page = _signed_in(browser, live_server, approver)
    page.goto(f"{live_server}/results/")
    page.locator(f'tr[data-exam="{exam.code}"] a').click()
    page.locator("#approve-form textarea[name=note]").fill("同意公示")
    page.locator("#approve-form button[type=submit]").click()
    expect(page.locator("#state")).to_have_attribute("data-state", "approved")
    page.locator("#publish-form select[name=scope]").select_option("candidates")
    page.locator("#publish-form input[name=days]").fill("5")
    page.locator("#publish-form button[type=submit]").click()
    expect(page.locator("#state")).to_have_attribute("data-state", "notice")
    expect(page.locator("#notices tr[data-superseded=no]")).to_have_count(1)
    expect(page.locator("#history li")).to_have_count(3)
    context.close()

    candidate.goto(result_url)
    expect(candidate.locator("#result-lifecycle")).to_have_attribute("data-state", "notice")
    expect(candidate.locator(".score")).to_be_visible()
    expect(candidate.locator("#my-appeal-deadline")).to_be_visible()
    candidate.locator("#my-notice").click()
    expect(candidate.locator(f'#notice-list tr[data-user="{people[0].id}"]')).to_be_visible()
    candidate_context.close()
    with app.app_context():
        db.session.expire_all()
        assert lifecycle.official(exam).approved_by_id == approver.id
