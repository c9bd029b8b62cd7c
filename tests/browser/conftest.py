"""A live server of the test app and a real headless Chromium (Debian's, driven by Playwright)."""

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
# Without the networking flags Chromium keeps dialling Google's hosts, which this sandbox refuses.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(config, items):
    if os.path.exists(CHROMIUM) and shutil.which(CHROMIUM):
        return
    if os.environ.get("TEST_REQUIRE_BROWSER"):
        raise pytest.UsageError(f"TEST_REQUIRE_BROWSER is set but {CHROMIUM} is missing (make browser-deps)")
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed (make browser-deps installs it)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


def _buffered(app):
    """The app's responses read whole and closed before they are sent.

    Werkzeug's development server does not close a response whose client hung up half way (a page that moves on
    while its favicon is still being sent), and the open file then fails the run as a ResourceWarning. No test
    here needs a streamed body, so each one is read into memory and its file closed at once.
    """

    def wsgi(environ, start_response):
        iterable = app(environ, start_response)
        try:
            return [b"".join(iterable)]
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()

    return wsgi


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, _buffered(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


def _retrying(screenshot):
    """A screenshot taken again when Chromium had no frame ready for it.

    Headless Chromium now and then answers "Unable to capture screenshot" for a page that has just been opened
    beside another context's page. The pictures are the docs' screenshots, not what a test asserts, so such a miss
    brings the page to the front and tries again (three times at most) instead of failing the run.
    """

    def wrapped(self, *args, **kwargs):
        for attempt in range(3):
            try:
                return screenshot(self, *args, **kwargs)
            except Exception as error:
                if "Unable to capture screenshot" not in str(error) or attempt == 2:
                    raise
                page = getattr(self, "page", self)
                page.bring_to_front()
                page.wait_for_timeout(200)

    return wrapped


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import Locator, Page, sync_playwright

    Page.screenshot = _retrying(Page.screenshot)
    Locator.screenshot = _retrying(Locator.screenshot)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def log_in(page, base: str, username: str, password: str, *, exact: bool = False, landing: str = "/") -> None:
    """Log in through the login page as a person does, and wait for the page it lands on."""
    page.goto(f"{base}/login")
    page.get_by_label("工号").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录", exact=exact or None).click()
    page.wait_for_url(f"{base}{landing}")
