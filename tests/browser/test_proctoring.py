"""Issue 25's proctoring controls in a real Chromium: the watermark naming the candidate with the time kept up to
date; full screen entered from its gate, a short leave ignored and a longer one counted up to the limit that submits;
the inactivity warning, dismissed by input and, left alone, recorded (and submitting when the exam says so); camera
snapshots from Chromium's fake camera reaching the server as small JPEGs, and a start refused without the camera
the exam requires; a start refused from outside the exam's networks. Screenshots of the watermark and the
full-screen gate (desktop and phone) go to docs/screenshots/."""

import hashlib
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from core.extensions import db
from core.models import now_utc
from exam.models import Answer, Attempt, AttemptEvent
from tests.browser.conftest import ARGS, CHROMIUM, log_in
from tests.factories import PASSWORD, make_open_exam

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}
#: What the tests read of an element's computed style.
STYLE_OF = """(selector) => {
  const s = getComputedStyle(document.querySelector(selector));
  return {events: s.pointerEvents, opacity: Number(s.opacity), position: s.position};
}"""
FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


def proctor(exam, **values):
    """The exam's proctoring settings, as an administrator would save them."""
    from proctoring.models import ProctoringSettings

    db.session.add(ProctoringSettings(exam_id=exam.id, **values))
    db.session.commit()


def login(page, base, username):
    log_in(page, base, username, PASSWORD)


def start(page, base, code="T1"):
    """From the start page (already filled as the test wants) to the running exam page; returns the attempt."""
    page.get_by_label("我已阅读考试须知和考试规则。").check()
    page.get_by_role("button", name="开始答题").click()
    page.wait_for_url("**/my/attempts/*")
    page.wait_for_function("() => document.getElementById('time-left').textContent !== '--:--'")
    page.wait_for_load_state("networkidle")  # claimed and synced
    db.session.expire_all()
    return db.session.scalar(select(Attempt).order_by(Attempt.id.desc()))


def open_paper(page, base, user, code="T1"):
    login(page, base, user.username)
    page.goto(f"{base}/my/exams/{code}/")
    return start(page, base, code)


def events(attempt_id, kind=None):
    db.session.expire_all()
    query = select(AttemptEvent).where(AttemptEvent.attempt_id == attempt_id).order_by(AttemptEvent.id)
    return [e for e in db.session.scalars(query) if kind is None or e.kind == kind]


def status(attempt_id):
    db.session.expire_all()
    return db.session.get(Attempt, attempt_id).status


def eventually(check, timeout=10.0):
    """Wait until check() is true (the browser reports on its own time); returns its last value."""
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > end:
            return value
        time.sleep(0.2)


def beijing(at):
    return (at + timedelta(hours=8)).strftime("%H:%M")


# ---------------------------------------------------------------- the watermark


def test_the_watermark_names_the_candidate_and_keeps_the_time(app, live_server, page):
    exam, user = make_open_exam(qtypes=("single",))
    proctor(exam, watermark=True)
    page.clock.install()
    before = now_utc()
    attempt = open_paper(page, live_server, user)
    mark = page.locator("#watermark")
    assert mark.get_attribute("aria-hidden") == "true"
    style = page.evaluate(STYLE_OF, "#watermark")
    assert style["events"] == "none" and style["position"] == "fixed" and 0.05 <= style["opacity"] <= 0.15
    # Over the whole viewport, drawn as an inline SVG pattern (no data: URL, which the CSP would refuse).
    box = mark.bounding_box()
    assert box["width"] == 1366 and box["height"] == 768
    assert page.locator("#watermark svg pattern .watermark-text").count() >= 2
    texts = page.locator("#watermark .watermark-text")
    first = texts.first.text_content()
    assert first.startswith(f"{user.name} · {user.username} ")
    shown = re.search(r"(\d\d:\d\d)$", first).group(1)
    assert shown in {beijing(before), beijing(now_utc())}  # the server's time, in Beijing

    page.clock.fast_forward("01:00")
    page.wait_for_function(
        "(before) => document.querySelector('#watermark .watermark-text').textContent !== before", arg=first
    )
    later = texts.first.text_content()
    assert later.startswith(f"{user.name} · {user.username} ")
    assert later[-5:] in {beijing(before + timedelta(minutes=m)) for m in (1, 2)}
    assert len(set(texts.all_text_contents())) == 1  # every copy of the text moved on

    # Nothing in the way of answering: a click through the watermark reaches the option, and it is saved.
    page.locator("#paper input[type=radio]").first.click()
    page.wait_for_function("() => document.getElementById('save-state').dataset.state === 'saved'")
    assert eventually(lambda: db.session.scalar(select(Answer).where(Answer.attempt_id == attempt.id)))


def test_screenshots_of_the_watermark_and_the_full_screen_gate(app, live_server, browser):
    exam, user = make_open_exam(qtypes=("single", "truefalse", "essay"))
    proctor(exam, watermark=True, fullscreen=True, fullscreen_exit_limit=3)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for viewport, name in (
        ({"width": 1366, "height": 768}, "exam-proctoring.png"),
        (PHONE, "exam-proctoring-phone.png"),
    ):
        phone = viewport == PHONE
        context = browser.new_context(viewport=viewport, locale="zh-CN", is_mobile=phone, has_touch=phone)
        page = context.new_page()
        try:
            login(page, live_server, user.username)
            page.goto(f"{live_server}/my/exams/T1/")
            if not db.session.scalar(select(Attempt).where(Attempt.user_id == user.id)):
                start(page, live_server)
            page.wait_for_selector("#fullscreen-gate:not([hidden])")
            count = page.locator("#fullscreen-count")
            assert count.is_visible() and "3" in count.inner_text()  # the limit, said before any leave
            page.screenshot(path=str(SCREENSHOTS / name))
            # On a phone the watermark's text is small, and the paper needs no sideways scrolling for it.
            size = page.evaluate("Number(document.querySelector('.watermark-text').getAttribute('font-size'))")
            assert size <= 12 if phone else size >= 14
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        finally:
            context.close()


# ---------------------------------------------------------------- full screen


def full(page):
    page.wait_for_function("() => !!document.fullscreenElement")


def test_full_screen_from_the_gate_a_short_leave_ignored_a_longer_one_counted_up_to_the_limit(app, live_server, page):
    exam, user = make_open_exam(qtypes=("single",))
    proctor(exam, fullscreen=True, fullscreen_grace_seconds=2, fullscreen_exit_limit=2)
    attempt = open_paper(page, live_server, user)
    gate = page.locator("#fullscreen-gate")
    assert gate.is_visible()  # full screen needs the candidate's click
    assert "2" in page.locator("#fullscreen-count").inner_text()  # the limit said before the first leave
    page.locator("#fullscreen-enter").click()
    full(page)
    page.wait_for_selector("#fullscreen-gate", state="hidden")

    # Out and back within the grace: nothing counted.
    page.evaluate("document.exitFullscreen()")
    page.wait_for_selector("#fullscreen-gate:not([hidden])")
    page.locator("#fullscreen-enter").click()
    full(page)
    page.wait_for_timeout(2600)  # past the grace
    assert events(attempt.id) == []

    # Out for longer than the grace: counted once, the count and limit shown, and the time out kept on the way back.
    page.evaluate("document.exitFullscreen()")
    page.wait_for_function("() => !document.getElementById('banner').hidden", timeout=6000)
    banner = page.locator("#banner").inner_text()
    assert "1" in banner and "2" in banner
    assert "1" in page.locator("#fullscreen-count").inner_text()
    assert [e.kind for e in events(attempt.id)] == ["fullscreen_exit"]
    page.wait_for_timeout(800)
    page.locator("#fullscreen-enter").click()
    full(page)
    back = eventually(lambda: events(attempt.id, "fullscreen_back"))
    assert len(back) == 1 and back[0].detail["seconds"] >= 3
    assert status(attempt.id) == "in_progress"

    # The second counted leave is the limit: the paper is submitted and the page shows the result.
    page.evaluate("document.exitFullscreen()")
    page.wait_for_url("**/result", timeout=10_000)
    assert status(attempt.id) != "in_progress"
    assert len(events(attempt.id, "fullscreen_exit")) == 2


# ---------------------------------------------------------------- inactivity


def test_inactivity_warns_with_a_countdown_input_dismisses_it_and_the_end_is_recorded(app, live_server, page):
    exam, user = make_open_exam(qtypes=("single",))
    proctor(exam, inactivity_minutes=1, inactivity_warning_seconds=30, inactivity_submit=False)
    page.clock.install()
    attempt = open_paper(page, live_server, user)
    warning = page.locator("#inactivity-warning")
    assert warning.is_hidden()
    page.clock.fast_forward("00:40")
    assert warning.is_hidden()  # not yet
    page.clock.fast_forward("00:25")
    page.wait_for_selector("#inactivity-warning:not([hidden])")
    assert 25 <= int(page.locator("#inactivity-countdown").inner_text()) <= 30
    assert page.locator("#inactivity-then-record").is_visible() and page.locator("#inactivity-then-submit").is_hidden()
    page.clock.fast_forward("00:10")
    assert 15 <= int(page.locator("#inactivity-countdown").inner_text()) <= 20

    page.mouse.move(300, 300)
    page.mouse.move(320, 340)
    page.wait_for_selector("#inactivity-warning", state="hidden")
    page.clock.fast_forward("00:20")  # past the countdown's first end: dismissed, nothing recorded
    assert events(attempt.id) == []

    # Left alone again: the warning, then the whole countdown; recorded, and (without submission) the exam goes on.
    page.clock.fast_forward("01:05")
    page.wait_for_selector("#inactivity-warning:not([hidden])")
    page.clock.fast_forward("00:31")
    inactive = eventually(lambda: events(attempt.id, "inactive"))
    assert len(inactive) == 1 and inactive[0].detail["seconds"] >= 90
    page.wait_for_selector("#inactivity-warning", state="hidden")
    assert status(attempt.id) == "in_progress"
    assert "/result" not in page.url


def test_inactivity_submits_when_the_exam_says_so(app, live_server, page):
    exam, user = make_open_exam(qtypes=("single",))
    proctor(exam, inactivity_minutes=1, inactivity_warning_seconds=20, inactivity_submit=True)
    page.clock.install()
    attempt = open_paper(page, live_server, user)
    page.clock.fast_forward("01:01")
    page.wait_for_selector("#inactivity-warning:not([hidden])")
    assert page.locator("#inactivity-then-submit").is_visible()
    page.clock.fast_forward("00:21")
    page.wait_for_url("**/result", timeout=10_000)
    assert status(attempt.id) != "in_progress"
    assert [e.detail["seconds"] >= 80 for e in events(attempt.id, "inactive")] == [True]


# ---------------------------------------------------------------- camera snapshots


@pytest.fixture(scope="module")
def camera_browser(browser):
    """A Chromium whose camera is a fake one (a moving test pattern) and that grants it without asking."""
    camera = browser.browser_type.launch(executable_path=CHROMIUM, args=ARGS + FAKE_CAMERA)
    yield camera
    camera.close()


def snapshots_of(attempt_id):
    from proctoring.models import Snapshot

    db.session.expire_all()
    return list(db.session.scalars(select(Snapshot).where(Snapshot.attempt_id == attempt_id).order_by(Snapshot.id)))


def test_camera_snapshots_from_the_fake_camera_reach_the_server(app, live_server, camera_browser, tmp_path):
    app.config["SNAPSHOT_DIR"] = str(tmp_path / "snapshots")
    exam, user = make_open_exam(qtypes=("single",))
    proctor(exam, snapshots=True, snapshot_minutes=1, camera_required=True)
    context = camera_browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.clock.install()
        login(page, live_server, user.username)
        page.goto(f"{live_server}/my/exams/T1/")
        # The consent and the camera test on the start page: the preview shows the camera's picture.
        page.locator("#camera-consent").check()
        page.locator("#camera-test").click()
        page.wait_for_function("() => document.getElementById('camera-state').value === 'granted'")
        page.wait_for_function("() => document.getElementById('camera-preview').readyState >= 2")
        assert page.locator("#camera-preview").is_visible()
        attempt = start(page, live_server)
        assert attempt is not None and attempt.user_id == user.id
        assert events(attempt.id, "camera_off") == []

        # One at the start, and the camera said to be on.
        assert eventually(lambda: [s.reason for s in snapshots_of(attempt.id)] == ["start"])
        page.wait_for_selector("#camera-state[data-state=on]")
        # One a minute (the exam's interval), and one at a counted focus loss (the server takes one every 5 s at
        # most, by its own clock: the page's is a fake one here, so real seconds pass between them).
        page.wait_for_timeout(5200)
        page.clock.fast_forward("01:00")
        assert eventually(lambda: [s.reason for s in snapshots_of(attempt.id)] == ["start", "interval"])
        page.wait_for_timeout(5200)
        page.evaluate("window.dispatchEvent(new Event('blur'))")
        page.clock.fast_forward("00:02")  # the focus loss counts after 1.5 s
        assert eventually(lambda: "focus" in [s.reason for s in snapshots_of(attempt.id)])

        taken = snapshots_of(attempt.id)
        assert {s.reason for s in taken} == {"start", "interval", "focus"}
        for shot in taken:
            data = (Path(app.config["SNAPSHOT_DIR"]) / shot.path).read_bytes()
            assert data[:3] == b"\xff\xd8\xff"  # a JPEG
            assert len(data) == shot.size < 200_000
            assert hashlib.sha256(data).hexdigest() == shot.sha256
        # Each one an event of the attempt's timeline too.
        assert sorted(e.detail["snapshot"] for e in events(attempt.id, "snapshot")) == [s.id for s in taken]
    finally:
        context.close()


def test_a_start_without_the_camera_the_exam_requires_is_refused(app, live_server, page):
    """The ordinary test Chromium has no camera: the test finds none, and the start is refused, saying why. The same
    without the camera required: the attempt starts, and the missing camera is recorded."""
    exam, user = make_open_exam(qtypes=("single",))
    proctor(exam, snapshots=True, camera_required=True)
    login(page, live_server, user.username)
    page.goto(f"{live_server}/my/exams/T1/")
    page.locator("#camera-consent").check()
    page.locator("#camera-test").click()
    page.wait_for_function("() => document.getElementById('camera-state').value === 'unavailable'")
    assert page.locator("#camera-result").inner_text().strip()
    assert page.locator("#camera-preview").is_hidden()
    page.get_by_label("我已阅读考试须知和考试规则。").check()
    page.get_by_role("button", name="开始答题").click()
    page.wait_for_url("**/my/exams/T1/")
    assert page.locator(".flash-error").is_visible()
    assert db.session.scalar(select(Attempt).where(Attempt.user_id == user.id)) is None

    from proctoring.models import ProctoringSettings

    db.session.get(ProctoringSettings, exam.id).camera_required = False
    db.session.commit()
    page.goto(f"{live_server}/my/exams/T1/")
    page.locator("#camera-consent").check()  # consented, but the browser has no camera to give
    attempt = start(page, live_server)
    assert attempt is not None and attempt.user_id == user.id
    off = eventually(lambda: events(attempt.id, "camera_off"))
    assert [e.detail["reason"] for e in off] == ["unavailable"]
    page.wait_for_selector("#camera-state[data-state=off]")


def test_a_camera_the_candidate_does_not_allow_is_refused(app, live_server, browser):
    """A camera there but not allowed (the browser's question answered no, as Playwright answers it): "refused",
    and the start refused; the candidate's consent alone is not enough."""
    exam, user = make_open_exam(qtypes=("single",))
    proctor(exam, snapshots=True, camera_required=True)
    camera = browser.browser_type.launch(executable_path=CHROMIUM, args=[*ARGS, "--use-fake-device-for-media-stream"])
    try:
        page = camera.new_context(locale="zh-CN").new_page()
        page.set_default_timeout(10_000)
        login(page, live_server, user.username)
        page.goto(f"{live_server}/my/exams/T1/")
        page.locator("#camera-consent").check()
        page.get_by_label("我已阅读考试须知和考试规则。").check()
        page.get_by_role("button", name="开始答题").click()  # the camera asked on the way, since not tested yet
        page.wait_for_selector(".flash-error")
        assert "/my/exams/T1/" in page.url
        assert db.session.scalar(select(Attempt).where(Attempt.user_id == user.id)) is None
        page.locator("#camera-test").click()
        page.wait_for_function("() => document.getElementById('camera-state').value === 'refused'")
        assert page.locator("#camera-result").get_attribute("data-state") == "refused"
    finally:
        camera.close()


# ---------------------------------------------------------------- networks


def test_a_start_from_outside_the_exams_networks_is_refused(app, live_server, page):
    exam, user = make_open_exam(qtypes=("single",))
    proctor(exam, networks="10.0.0.0/8, 192.168.0.0/16")
    login(page, live_server, user.username)
    page.goto(f"{live_server}/my/exams/T1/")
    refusal = page.locator("#start-refusal")
    assert refusal.is_visible() and "127.0.0.1" in refusal.inner_text()
    assert page.get_by_role("button", name="开始答题").is_disabled()
    assert db.session.scalar(select(Attempt).where(Attempt.user_id == user.id)) is None

    from proctoring.models import ProctoringSettings

    db.session.get(ProctoringSettings, exam.id).networks = "10.0.0.0/8\n127.0.0.0/8"
    db.session.commit()
    page.goto(f"{live_server}/my/exams/T1/")
    assert page.locator("#start-refusal").count() == 0
    attempt = start(page, live_server)
    assert attempt is not None and attempt.user_id == user.id and attempt.status == "in_progress"
