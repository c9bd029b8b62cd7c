"""The exam page in a real Chromium: every question type answered and restored after a reload, the offline queue,
the server's clock whatever the browser's says, submission at the deadline, a refused save shown plainly, the
focus-loss limit, a take-over by another page, and the manual submit's confirmation."""

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from core.extensions import db
from core.models import now_utc
from exam import answers, attempts, timeline
from exam.models import Answer, Attempt, AttemptEvent, Exam
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, make_open_exam

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ALL_TYPES = ("single", "multiple", "truefalse", "fill", "essay")
#: The browser's clock moved by SHIFT milliseconds (Date.now() and new Date() alike).
SHIFTED_CLOCK = """(() => {
  const Real = Date;
  class Shifted extends Real {
    constructor(...a) { if (a.length) { super(...a); } else { super(Real.now() + SHIFT); } }
    static now() { return Real.now() + SHIFT; }
  }
  window.Date = Shifted;
})();"""


def login(page, base, username):
    log_in(page, base, username, PASSWORD)


def open_paper(page, base, user, code="T1"):
    """Log in, go through the start page, and land on the exam page; returns the attempt."""
    login(page, base, user.username)
    page.goto(f"{base}/my/exams/{code}/")
    page.get_by_label("我已阅读考试须知和考试规则。").check()
    page.get_by_role("button", name="开始答题").click()
    page.wait_for_url("**/my/attempts/*")
    page.wait_for_function("() => document.getElementById('time-left').textContent !== '--:--'")
    # The page claims the attempt and syncs once on load: let that finish, so a test that changes the attempt on
    # the server next is not overtaken by it (on a busy machine it could be).
    page.wait_for_load_state("networkidle")
    db.session.expire_all()
    return db.session.scalar(select(Attempt).where(Attempt.user_id == user.id))


def block(page, attempt, qtype):
    item = next(i for i in attempt.paper.items if i.section.qtype == qtype)
    return item, page.locator(f"#q-{item.position}")


def saved(page):
    page.wait_for_function("() => document.getElementById('save-state').dataset.state === 'saved'", timeout=10_000)


def stored(attempt_id):
    db.session.expire_all()
    return {a.position: a for a in db.session.scalars(select(Answer).where(Answer.attempt_id == attempt_id))}


def test_every_type_is_saved_and_restored_after_a_reload(app, live_server, page):
    exam, user = make_open_exam(qtypes=ALL_TYPES)
    attempt = open_paper(page, live_server, user)
    single, q = block(page, attempt, "single")
    q.locator("input[type=radio]").nth(1).check()
    multiple, q = block(page, attempt, "multiple")
    q.locator("input[type=checkbox]:not(.flag)").nth(0).check()
    q.locator("input[type=checkbox]:not(.flag)").nth(2).check()
    truefalse, q = block(page, attempt, "truefalse")
    q.get_by_label("错误").check()
    fill, q = block(page, attempt, "fill")
    q.get_by_label("第1空").fill("全国代表大会")
    q.get_by_label("第2空").fill("中央委员会")
    essay, q = block(page, attempt, "essay")
    q.locator("textarea").fill("请示应当一文一事。")
    q.locator(".flag").check()
    saved(page)
    assert page.locator(f'.q-state[data-pos="{essay.position}"]').inner_text() == "已保存"
    assert "answered" in page.locator(f'.nav-item[data-pos="{single.position}"]').get_attribute("class")
    assert "flagged" in page.locator(f'.nav-item[data-pos="{essay.position}"]').get_attribute("class")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "exam-page.png"))

    on_server = stored(attempt.id)
    assert on_server[single.position].value == single.option_order[1]
    assert on_server[multiple.position].value == sorted([multiple.option_order[0], multiple.option_order[2]])
    assert on_server[truefalse.position].value is False
    assert on_server[fill.position].value == ["全国代表大会", "中央委员会"]
    assert on_server[essay.position].value == "请示应当一文一事。"

    page.reload()
    page.wait_for_function("() => document.getElementById('time-left').textContent !== '--:--'")
    assert block(page, attempt, "single")[1].locator("input[type=radio]").nth(1).is_checked()
    boxes = block(page, attempt, "multiple")[1].locator("input[type=checkbox]:not(.flag)")
    assert [boxes.nth(i).is_checked() for i in range(boxes.count())] == [True, False, True, False]
    assert block(page, attempt, "truefalse")[1].get_by_label("错误").is_checked()
    assert block(page, attempt, "fill")[1].get_by_label("第2空").input_value() == "中央委员会"
    assert block(page, attempt, "essay")[1].locator("textarea").input_value() == "请示应当一文一事。"
    assert block(page, attempt, "essay")[1].locator(".flag").is_checked()
    # A reload in the same tab is the same page: it took nothing over.
    assert db.session.scalar(select(AttemptEvent).where(AttemptEvent.kind == "takeover")) is None


def test_answers_wait_offline_and_go_out_on_reconnect(app, live_server, page):
    exam, user = make_open_exam(qtypes=("single", "essay"))
    attempt = open_paper(page, live_server, user)
    single, q = block(page, attempt, "single")
    page.context.set_offline(True)
    q.locator("input[type=radio]").nth(2).check()
    page.wait_for_function("() => document.getElementById('save-state').dataset.state === 'offline'")
    assert page.locator("#save-state").inner_text() == "网络断开，答案已暂存本机"
    essay, q = block(page, attempt, "essay")
    q.locator("textarea").fill("断网时写下的答案")
    page.wait_for_timeout(1200)
    queued = page.evaluate(f"JSON.parse(localStorage.getItem('qe-{attempt.id}-queue'))")
    assert sorted(int(e["pos"]) for e in queued) == sorted([single.position, essay.position])
    assert stored(attempt.id) == {}  # nothing reached the server
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "exam-offline.png"))
    page.context.set_offline(False)
    saved(page)
    on_server = stored(attempt.id)
    assert on_server[single.position].value == single.option_order[2]
    assert on_server[essay.position].value == "断网时写下的答案"
    assert page.evaluate(f"localStorage.getItem('qe-{attempt.id}-queue')") == "[]"


def test_a_503_keeps_the_answer_queued_and_says_the_server_is_briefly_down(app, live_server, page):
    """While the database is down the server answers 503 with Retry-After (tests/core/test_unavailable.py, and for
    real in tests/faults): the page keeps the answer, says why, and sends it again once the server is back."""
    exam, user = make_open_exam(qtypes=("single",))
    attempt = open_paper(page, live_server, user)
    single, q = block(page, attempt, "single")
    refused = []

    def unavailable(route):
        refused.append(route.request.url)
        body = '{"error": {"code": "unavailable", "message": "down", "retry_after": 2}}'
        route.fulfill(status=503, headers={"Retry-After": "2"}, content_type="application/json", body=body)

    page.route("**/api/v1/attempts/*/answers/*", unavailable)
    q.locator("input[type=radio]").nth(1).check()
    page.wait_for_function("() => document.getElementById('save-state').dataset.state === 'unavailable'")
    assert page.locator("#save-state").inner_text() == "服务器暂时无法访问；答案已保存在本机，恢复后自动重新提交"
    queued = page.evaluate(f"JSON.parse(localStorage.getItem('qe-{attempt.id}-queue'))")
    assert [int(e["pos"]) for e in queued] == [single.position]
    page.wait_for_timeout(2500)
    assert len(refused) >= 2  # sent again after the Retry-After, still refused
    assert stored(attempt.id) == {}
    page.unroute("**/api/v1/attempts/*/answers/*")
    saved(page)
    assert stored(attempt.id)[single.position].value == single.option_order[1]


@pytest.mark.parametrize("minutes", [10, -10])
def test_the_countdown_follows_the_server_whatever_the_browser_clock(app, live_server, browser, minutes):
    exam, user = make_open_exam(qtypes=("single",))
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    context.add_init_script(SHIFTED_CLOCK.replace("SHIFT", str(minutes * 60000)))
    page = context.new_page()
    page.set_default_timeout(10_000)
    attempt = open_paper(page, live_server, user)
    assert page.evaluate("Date.now()") - now_utc().timestamp() * 1000 == pytest.approx(minutes * 60000, abs=5000)
    shown = page.locator("#time-left").inner_text()
    hours, mins, secs = ([0] + [int(x) for x in shown.split(":")])[-3:]
    left = hours * 3600 + mins * 60 + secs
    true_left = (attempt.deadline_at - now_utc()).total_seconds()
    assert abs(left - true_left) < 10, (shown, true_left)
    context.close()


def test_the_paper_submits_itself_at_the_deadline_with_its_answers(app, live_server, page):
    exam, user = make_open_exam(qtypes=("single", "truefalse"))
    attempt = open_paper(page, live_server, user)
    single, q = block(page, attempt, "single")
    q.locator("input[type=radio]").nth(0).check()
    saved(page)
    # The time is nearly over (as if the hour had passed): the page shows it after a reload and ends by itself.
    db.session.get(Attempt, attempt.id).deadline_at = now_utc() + timedelta(seconds=6)
    db.session.commit()
    page.reload()
    truefalse, q = block(page, attempt, "truefalse")
    q.get_by_label("正确").check()
    page.wait_for_url("**/result", timeout=20_000)
    assert "您已于" in page.content() or "考试时间已到" in page.content()
    db.session.expire_all()
    ended = db.session.get(Attempt, attempt.id)
    assert ended.status in ("submitted", "expired")
    on_server = stored(attempt.id)
    assert on_server[single.position].value == single.option_order[0] and on_server[truefalse.position].value is True


def test_a_refused_save_is_shown_plainly(app, live_server, page):
    exam, user = make_open_exam(qtypes=("single", "truefalse"))
    attempt = open_paper(page, live_server, user)
    # The server's deadline passed while the page believed otherwise (its next sync would say so).
    db.session.get(Attempt, attempt.id).deadline_at = now_utc() - timedelta(minutes=2)
    db.session.commit()
    single, q = block(page, attempt, "single")
    q.locator("input[type=radio]").nth(0).check()
    page.wait_for_function("() => !document.getElementById('banner').hidden")
    assert "考试时间已到，此答案未能保存" in page.locator("#banner").inner_text()
    assert page.locator(f'.q-state[data-pos="{single.position}"]').inner_text() == "考试时间已到，此答案未能保存。"
    page.wait_for_url("**/result", timeout=15_000)
    assert stored(attempt.id).get(single.position) is None or stored(attempt.id)[single.position].seq == 0


def test_a_number_another_writer_used_is_renumbered_once(app, live_server, page):
    """A script with the candidate's login saved another answer under the number the page uses next: the server
    refuses the page's save (seq_reused) and the page sends what it shows once more, numbered above."""
    exam, user = make_open_exam(qtypes=("single",))
    attempt = open_paper(page, live_server, user)
    single, q = block(page, attempt, "single")
    next_seq = page.evaluate(f"JSON.parse(localStorage.getItem('qe-{attempt.id}-seq') || '0')") + 1
    answers.save_answer(attempt.id, single.position, 0, next_seq, now_utc())  # a script: no page id
    db.session.commit()
    replies = []
    page.on("response", lambda r: "/answers/" in r.url and replies.append(r.status))
    q.locator("input[type=radio]").nth(1).check()
    saved(page)
    assert replies[:2] == [409, 200]
    answer = stored(attempt.id)[single.position]
    assert answer.value == single.option_order[1] and answer.seq > next_seq
    assert page.locator("#banner").is_hidden()


def test_a_number_refused_twice_is_shown_plainly_not_sent_round(app, live_server, page):
    exam, user = make_open_exam(qtypes=("single",))
    attempt = open_paper(page, live_server, user)
    single, q = block(page, attempt, "single")
    refused = []
    message = f"第{single.position}题已有另一答案以相同序号保存，本次答案未保存。请使用更大的序号重新提交。"

    def reused(route):
        refused.append(route.request.post_data_json["seq"])
        body = json.dumps({"error": {"code": "seq_reused", "message": message}}, ensure_ascii=False)
        route.fulfill(status=409, content_type="application/json; charset=utf-8", body=body)

    page.route("**/api/v1/attempts/*/answers/*", reused)
    q.locator("input[type=radio]").nth(1).check()
    page.wait_for_function("() => !document.getElementById('banner').hidden")
    assert message in page.locator("#banner").inner_text()
    assert page.locator(f'.q-state[data-pos="{single.position}"]').inner_text() == message
    page.wait_for_timeout(1500)
    assert len(refused) == 2 and refused[1] > refused[0]  # renumbered once, then no more
    page.unroute("**/api/v1/attempts/*/answers/*")


def test_the_focus_loss_limit_submits(app, live_server, page):
    exam, user = make_open_exam(qtypes=("single",))
    db.session.get(Exam, exam.id).focus_loss_limit = 2
    db.session.commit()
    attempt = open_paper(page, live_server, user)
    page.evaluate("window.dispatchEvent(new Event('blur'))")
    page.wait_for_function("() => !document.getElementById('banner').hidden")
    assert "1次" in page.locator("#banner").inner_text() and "达到2次将自动交卷" in page.locator("#banner").inner_text()
    page.wait_for_timeout(1700)  # one switch fires blur and visibilitychange: reports closer together count once
    page.evaluate("window.dispatchEvent(new Event('blur'))")
    page.wait_for_url("**/result")
    db.session.expire_all()
    ended = db.session.get(Attempt, attempt.id)
    assert ended.status == "submitted" and ended.focus_losses == 2
    kinds = [e.kind for e in timeline.attempt_events(ended)]
    assert kinds == ["focus_loss", "focus_loss", "auto_submit"]


def test_another_page_takes_over_and_the_old_one_says_so(app, live_server, browser, page):
    exam, user = make_open_exam(qtypes=("single", "truefalse"))
    attempt = open_paper(page, live_server, user)
    other = browser.new_context(viewport={"width": 375, "height": 740}, locale="zh-CN")  # the candidate's phone
    phone = other.new_page()
    phone.set_default_timeout(10_000)
    login(phone, live_server, user.username)
    phone.goto(f"{live_server}/my/attempts/{attempt.id}")
    phone.wait_for_function("() => document.getElementById('time-left').textContent !== '--:--'")
    phone.wait_for_timeout(500)
    single, q = block(page, attempt, "single")
    q.locator("input[type=radio]").nth(0).check()
    page.wait_for_function("() => !document.getElementById('banner').hidden")
    assert "另一页面打开" in page.locator("#banner").inner_text()
    assert page.locator(f"#q-{single.position} input[type=radio]").first.is_disabled()
    truefalse, pq = block(phone, attempt, "truefalse")
    pq.get_by_label("正确").check()
    saved(phone)
    assert stored(attempt.id)[truefalse.position].value is True
    assert [e.kind for e in timeline.attempt_events(db.session.get(Attempt, attempt.id))] == ["takeover"]
    other.close()


def test_manual_submit_lists_unanswered_and_flagged(app, live_server, page):
    exam, user = make_open_exam(qtypes=("single", "truefalse", "essay"))
    attempt = open_paper(page, live_server, user)
    single, q = block(page, attempt, "single")
    q.locator("input[type=radio]").nth(0).check()
    q.locator(".flag").check()
    saved(page)
    page.get_by_role("button", name="交卷").first.click()
    dialog = page.get_by_role("dialog")
    unanswered = sorted(i.position for i in attempt.paper.items if i.position != single.position)
    assert dialog.locator("#confirm-unanswered").inner_text() == "、".join(str(p) for p in unanswered)
    assert dialog.locator("#confirm-flagged").inner_text() == str(single.position)
    dialog.get_by_role("button", name="返回试卷").click()
    assert dialog.is_hidden()
    page.get_by_role("button", name="交卷").first.click()
    dialog.get_by_role("button", name="交卷").click()
    page.wait_for_url("**/result")
    db.session.expire_all()
    assert db.session.get(Attempt, attempt.id).status == "submitted"


#: Every answer save takes 600 ms longer, so a second click lands while the first save is on its way.
SLOW_SAVES = """(() => {
  const real = window.fetch;
  window.fetch = (url, options) => options && options.method === "PUT"
    ? new Promise((resolve) => setTimeout(resolve, 600)).then(() => real(url, options))
    : real(url, options);
})();"""


def test_a_change_made_while_a_save_is_on_its_way_is_saved_too(app, live_server, page):
    exam, user = make_open_exam(qtypes=("multiple",))
    page.context.add_init_script(SLOW_SAVES)
    attempt = open_paper(page, live_server, user)
    multiple, q = block(page, attempt, "multiple")
    boxes = q.locator("input[type=checkbox]:not(.flag)")
    boxes.nth(0).check()
    page.wait_for_timeout(150)  # the first save is in flight
    boxes.nth(2).check()
    saved(page)
    assert stored(attempt.id)[multiple.position].value == sorted([multiple.option_order[0], multiple.option_order[2]])
    page.reload()
    boxes = block(page, attempt, "multiple")[1].locator("input[type=checkbox]:not(.flag)")
    assert boxes.nth(0).is_checked() and boxes.nth(2).is_checked()


def test_a_duplicated_tab_takes_over_instead_of_sharing_the_page_id(app, live_server, page):
    exam, user = make_open_exam(qtypes=("single", "truefalse"))
    attempt = open_paper(page, live_server, user)
    page_id = page.evaluate(f"sessionStorage.getItem('qe-{attempt.id}-page')")
    duplicate = page.context.new_page()  # a duplicated tab starts with a copy of the tab's sessionStorage
    duplicate.add_init_script(f"sessionStorage.setItem('qe-{attempt.id}-page', '{page_id}')")
    duplicate.goto(page.url)
    duplicate.wait_for_function("() => document.getElementById('time-left').textContent !== '--:--'")
    assert duplicate.evaluate(f"sessionStorage.getItem('qe-{attempt.id}-page')") != page_id
    duplicate.wait_for_timeout(500)
    block(page, attempt, "single")[1].locator("input[type=radio]").nth(0).check()
    page.wait_for_function("() => !document.getElementById('banner').hidden")
    assert "另一页面打开" in page.locator("#banner").inner_text()


def test_saving_resumes_after_a_new_login_in_another_tab(app, live_server, page):
    exam, user = make_open_exam(qtypes=("single", "truefalse"))
    attempt = open_paper(page, live_server, user)
    other = page.context.new_page()  # same browser: the new login replaces the session (and its CSRF token)
    other.goto(f"{live_server}/")
    other.get_by_role("button", name="退出登录").click()
    login(other, live_server, user.username)
    truefalse, q = block(page, attempt, "truefalse")
    q.get_by_label("正确").check()
    page.wait_for_function("() => document.getElementById('save-state').dataset.state === 'saved'", timeout=20_000)
    assert stored(attempt.id)[truefalse.position].value is True


def test_the_result_page_lists_answers_that_never_left_the_computer(app, live_server, page):
    exam, user = make_open_exam(qtypes=("single", "truefalse"))
    attempt = open_paper(page, live_server, user)
    attempts.submit(db.session.get(Attempt, attempt.id), now_utc())
    db.session.commit()
    page.evaluate(f"localStorage.setItem('qe-{attempt.id}-queue', JSON.stringify([{{pos: '2', value: true, seq: 9}}]))")
    page.goto(f"{live_server}/my/attempts/{attempt.id}/result")
    page.wait_for_function("() => !document.getElementById('unsent').hidden")
    assert "第2题" in page.locator("#unsent").inner_text() or "2" in page.locator("#unsent").inner_text()
    assert page.evaluate(f"localStorage.getItem('qe-{attempt.id}-queue')") is None  # and this computer forgets it


def test_warnings_at_five_and_one_minutes(app, live_server, page):
    exam, user = make_open_exam(qtypes=("single",))
    attempt = open_paper(page, live_server, user)
    db.session.get(Attempt, attempt.id).deadline_at = now_utc() + timedelta(seconds=64)
    db.session.commit()
    page.reload()
    page.wait_for_function("() => !document.getElementById('banner').hidden")
    assert page.locator("#banner").inner_text() == "距考试结束还有5分钟。"
    assert "urgent" in page.locator(".exam-clock").get_attribute("class")
    page.wait_for_function("() => document.getElementById('banner').textContent === '距考试结束还有1分钟。'",
                           timeout=15_000)  # fmt: skip


def _integrity(attempt_id):
    db.session.expire_all()
    attempt = db.session.get(Attempt, attempt_id)
    return attempt.status, attempt.focus_losses, [e.kind for e in timeline.attempt_events(attempt)]


def _settled(page):
    """The exam page loaded, claimed and synced, and past the time a focus loss takes to be counted (so that one
    the page had seen would have gone out by now)."""
    page.wait_for_function("() => document.getElementById('time-left').textContent !== '--:--'")
    page.wait_for_timeout(2000)
    page.wait_for_load_state("networkidle")


def test_a_reload_or_the_pages_own_navigation_is_no_focus_loss(app, live_server, page):
    """The README tells a candidate to reload on network trouble: with a focus-loss limit of 2, three reloads (the
    page unloading: its visibilitychange and blur on the way out), the navigator's own links (the page's only
    navigation: its quiet header has no link away), and a blur just before a slow reload, count nothing, and the
    attempt runs on."""
    exam, user = make_open_exam(qtypes=("single",))
    db.session.get(Exam, exam.id).focus_loss_limit = 2
    db.session.commit()
    attempt = open_paper(page, live_server, user)
    for _ in range(3):
        page.reload()
        _settled(page)
    for link in page.locator(".navigator .nav-item").all():
        link.click()
    _settled(page)
    # The address bar clicked (the page blurs), then a reload on a slow network: the old page waits 2.5 s for the
    # new one, longer than a loss takes to count, and still it is no loss.
    page.route(f"**/my/attempts/{attempt.id}", lambda route: (time.sleep(2.5), route.continue_()))
    page.evaluate("window.dispatchEvent(new Event('blur'))")
    page.reload()
    page.unroute(f"**/my/attempts/{attempt.id}")
    _settled(page)
    assert page.url.split("#")[0].endswith(f"/my/attempts/{attempt.id}")
    assert _integrity(attempt.id) == ("in_progress", 0, [])


#: The tab hidden (another tab in front, the window minimised) or shown again, as Chromium does it; a headless
#: Chromium never hides a page by itself, so its state is set as a real switch sets it.
VISIBILITY = """(hidden) => {
  Object.defineProperty(document, "visibilityState", {configurable: true, get: () => hidden ? "hidden" : "visible"});
  Object.defineProperty(document, "hidden", {configurable: true, get: () => hidden});
  if (hidden) window.dispatchEvent(new Event("blur"));
  document.dispatchEvent(new Event("visibilitychange"));
  if (!hidden) window.dispatchEvent(new Event("focus"));
}"""


def test_a_real_switch_away_still_counts(app, live_server, page):
    """Another tab in front hides the exam page: the loss counts when the page comes back (even at once; the limit
    alone, without coming back, is test_the_focus_loss_limit_submits). A switch right after a leave that did not
    happen (the reload stopped, the prompt cancelled) counts too, and reaches the limit of 2."""
    exam, user = make_open_exam(qtypes=("single",))
    db.session.get(Exam, exam.id).focus_loss_limit = 2
    db.session.commit()
    attempt = open_paper(page, live_server, user)
    page.evaluate(VISIBILITY, True)
    page.evaluate(VISIBILITY, False)
    page.wait_for_function("() => !document.getElementById('banner').hidden")
    assert "1次" in page.locator("#banner").inner_text()
    assert _integrity(attempt.id) == ("in_progress", 1, ["focus_loss"])
    page.wait_for_timeout(1700)  # past the time one switch's blur and visibilitychange count once
    page.evaluate("window.dispatchEvent(new Event('beforeunload'))")  # a reload begun, then stopped: no pagehide
    page.evaluate(VISIBILITY, True)
    page.evaluate(VISIBILITY, False)
    page.wait_for_url("**/result")
    assert _integrity(attempt.id) == ("submitted", 2, ["focus_loss", "focus_loss", "auto_submit"])
