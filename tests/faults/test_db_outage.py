"""Database outage: PostgreSQL is stopped (immediate mode: as if it crashed) while candidates save, then started
again. While it is down every request gets a clear, retryable 503 (never a 500), the exam page keeps its answers
queued and says so; once it is back the same app processes serve again without a restart, and no save
acknowledged before, during or after the outage is missing."""

import time

import pytest

from tests.faults.conftest import (
    Node,
    SavingCrowd,
    app_env,
    assert_nothing_acknowledged_is_lost,
    exam_database,
    request,
    start_all,
    stored_answers,
)

pytestmark = pytest.mark.faults

CODE = "DOWN"


@pytest.fixture
def exam_db(pg_cluster, tmp_path):
    return exam_database(pg_cluster, tmp_path / "instance", CODE, n_candidates=8, qtypes=SavingCrowd.PAPER)


@pytest.fixture
def node(exam_db, tmp_path):
    node = Node(app_env(exam_db[1], tmp_path / "instance"), tmp_path / "gunicorn.log").start()
    yield node
    node.stop()


def _outcome(candidates, key: str) -> int:
    return sum(c.outcomes.get(key, 0) for c in candidates)


def test_saves_during_an_outage_get_503_and_go_through_after_it(pg_cluster, exam_db, node):
    name, url, tokens, _ = exam_db
    candidates, positions = start_all(tokens, [node.host], CODE)
    workers = set(node.worker_pids())
    with SavingCrowd(candidates, positions) as crowd:
        crowd.wait_for_acks(100)
        pg_cluster.stop("immediate")
        try:
            deadline = time.monotonic() + 30
            while _outcome(candidates, "503") < 20:
                assert time.monotonic() < deadline, [c.outcomes for c in candidates]
                time.sleep(0.1)
            # What a client is told while the database is down: retry, and when.
            path = f"/api/v1/attempts/{candidates[0].attempt_id}/answers/1"
            bearer = {"Authorization": f"Bearer {tokens[0]}"}
            status, body, headers = request(node.host, "PUT", path, {"value": "x", "seq": 10**6}, bearer)
            assert status == 503 and body["error"]["code"] == "unavailable", (status, body)
            assert int(headers["Retry-After"]) > 0 and body["error"]["retry_after"] > 0
            status, page, headers = request(node.host, "GET", "/verify/ABCD-EFGH-JKLM-NPQR")  # a page that reads
            assert status == 503 and "Retry-After" in headers and "<html" in page.lower()
            acked_while_down = crowd.saves_acknowledged()
        finally:
            pg_cluster.start()  # before the crowd is stopped: its threads retry until the database is back
        crowd.wait_for_acks(100, timeout=60)  # recovered: the same processes serve again
        assert crowd.saves_acknowledged() > acked_while_down
    assert set(node.worker_pids()) == workers and node.proc.poll() is None  # no restart was needed
    stored = stored_answers(pg_cluster, name)
    checked = assert_nothing_acknowledged_is_lost(candidates, stored)
    assert checked["exact"] == checked["acks"] >= 200  # every acknowledgement checked, none overwritten
    # The save refused while the database was down was not stored behind the client's back.
    assert all(seq < 10**6 for seq, _ in stored["answers"].values())


@pytest.mark.browser
def test_the_exam_page_queues_answers_while_the_database_is_down(pg_cluster, exam_db, node):
    """The real thing in Chromium: the page says the server is briefly unavailable, keeps the answer in its
    offline queue, and sends it once PostgreSQL is back."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import ARGS, CHROMIUM
    from tests.factories import PASSWORD

    name, url, tokens, usernames = exam_db
    base = f"http://127.0.0.1:{node.port}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_context(locale="zh-CN").new_page()
            page.set_default_timeout(20_000)
            page.goto(f"{base}/login")
            page.get_by_label("工号").fill(usernames[0])
            page.get_by_label("密码").fill(PASSWORD)
            page.get_by_role("button", name="登录").click()
            page.wait_for_url(f"{base}/")
            page.goto(f"{base}/my/exams/{CODE}/")
            page.get_by_label("我已阅读考试须知和考试规则。").check()
            page.get_by_role("button", name="开始答题").click()
            page.wait_for_url("**/my/attempts/*")
            page.wait_for_load_state("networkidle")
            attempt_id = int(page.url.rstrip("/").split("/")[-1])
            first = page.locator("textarea").first
            first.fill("数据库停机前的答案")
            page.wait_for_function("() => document.getElementById('save-state').dataset.state === 'saved'")
            pg_cluster.stop("immediate")
            try:
                first.fill("数据库停机时写下的答案")
                page.wait_for_function("() => document.getElementById('save-state').dataset.state === 'unavailable'")
                assert "服务器暂时无法访问" in page.locator("#save-state").inner_text()
                queued = page.evaluate(f"JSON.parse(localStorage.getItem('qe-{attempt_id}-queue'))")
                assert len(queued) == 1 and queued[0]["value"] == "数据库停机时写下的答案"
            finally:
                pg_cluster.start()
            page.wait_for_function("() => document.getElementById('save-state').dataset.state === 'saved'",
                                   timeout=60_000)  # fmt: skip
            assert page.evaluate(f"localStorage.getItem('qe-{attempt_id}-queue')") == "[]"
        finally:
            browser.close()
    with pg_cluster.connect(name) as conn:
        values = conn.execute("SELECT value FROM answers WHERE attempt_id = %s", (attempt_id,)).fetchall()
    assert [v for (v,) in values] == ["数据库停机时写下的答案"]
