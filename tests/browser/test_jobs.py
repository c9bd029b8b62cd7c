"""A job's page in a real Chromium (zh-CN): the bar moves while the job runs, with the elapsed time and an estimate,
the download appears when it is done, and a running job is stopped with its button."""

import threading
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from core.extensions import db
from core.policy import Role
from jobs import engine, register, submit
from jobs.models import Job
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

GATES: dict[int, threading.Event] = {}


@register("tests.gated", "Gated steps (test)")
def _gated(ctx):
    """Four steps; waits before steps 2 and 4 until the test opens the gate (so the page sees it half-way)."""
    for step in range(1, 5):
        if step in (2, 4):
            GATES[step].wait(20)
        if step > 1:
            time.sleep(0.6)  # past the progress write's throttle (jobs.runner.PROGRESS_EVERY)
        ctx.progress(step, 4)
    ctx.save_file("名单.txt", "text/plain", "四行".encode())
    return {"message": "four steps"}


def _worker(app):
    def run():
        with app.app_context():
            engine.run_pending()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _login(page, live_server, user):
    log_in(page, live_server, user.username, PASSWORD, exact=True, landing="/**")


@pytest.fixture
def gates():
    GATES.clear()
    GATES.update({2: threading.Event(), 4: threading.Event()})
    yield GATES
    for gate in GATES.values():
        gate.set()


def test_the_bar_moves_and_the_download_appears(app, live_server, page, queued_jobs, gates):
    user = make_user(roles=(Role.CADRE, Role.AUTHOR))
    job = submit("tests.gated", {}, user=user)
    db.session.commit()
    _login(page, live_server, user)
    page.goto(f"{live_server}/jobs/{job.id}")
    box = page.locator(f"#job-{job.id}")
    assert box.locator('[data-job="state_label"]').inner_text() == "等待中"
    expect(box.locator('[data-job="times"]')).to_contain_text("已等待")

    thread = _worker(app)
    expect(box.locator('[data-job="counts"]')).to_have_text("1 / 4")
    assert box.locator('[data-job="state_label"]').inner_text() == "运行中"
    assert page.evaluate("document.querySelector('[data-job=bar]').value") == 1
    gates[2].set()
    expect(box.locator('[data-job="counts"]')).to_have_text("3 / 4")
    times = box.locator('[data-job="times"]').inner_text()
    assert "已用时" in times and "约剩" in times
    page.screenshot(path=str(SCREENSHOTS / "job-progress.png"))
    gates[4].set()
    thread.join(20)
    expect(box.locator('[data-job="state_label"]')).to_have_text("已完成")
    link = box.get_by_role("link", name="名单.txt")
    with page.expect_download() as download:
        link.click()
    assert Path(download.value.path()).read_bytes() == "四行".encode()
    assert box.get_by_text("four steps").is_visible()


def test_a_running_job_is_stopped_from_its_page(app, live_server, page, queued_jobs, gates):
    user = make_user(roles=(Role.CADRE,))
    job = submit("tests.gated", {}, user=user)
    db.session.commit()
    _login(page, live_server, user)
    page.goto(f"{live_server}/jobs/{job.id}")
    box = page.locator(f"#job-{job.id}")
    thread = _worker(app)
    expect(box.locator('[data-job="counts"]')).to_have_text("1 / 4")
    page.reload()
    page.get_by_role("button", name="停止任务").click()
    page.wait_for_url(f"{live_server}/jobs/{job.id}")
    gates[2].set()
    thread.join(20)
    expect(box.locator('[data-job="state_label"]')).to_have_text("已取消")
    db.session.expire_all()
    assert db.session.get(Job, job.id).state == "cancelled"


def test_the_exam_page_follows_the_drawing_of_its_papers(app, live_server, page, queued_jobs):
    """Publishing from the exam's page goes to the drawing's job; the exam's page shows it too, live, until done."""
    from datetime import timedelta

    from sqlalchemy import func, select

    from core.models import now_utc
    from exam.models import Paper
    from tests.exam.test_engine import fill_bank, make_exam
    from tests.factories import make_bank, make_cadre, make_unit

    bank = make_bank()
    fill_bank(bank, n=4)
    unit = make_unit()
    for _ in range(3):
        make_cadre(unit=unit)
    now = now_utc()
    exam = make_exam(bank, code="LIVE", opens_at=now + timedelta(days=1), closes_at=now + timedelta(days=1, hours=2),
                     eligibility={"unit_ids": [unit.id]})  # fmt: skip
    admin = make_user(roles=(Role.ORG_ADMIN,))
    db.session.commit()
    _login(page, live_server, admin)
    page.goto(f"{live_server}/exams/LIVE/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="发布", exact=True).click()
    page.wait_for_url(f"{live_server}/jobs/**")
    expect(page.get_by_text("已发布；正在生成试卷。")).to_be_visible()

    page.goto(f"{live_server}/exams/LIVE/")
    card = page.locator("#papers-job")
    expect(card.get_by_role("heading", name="正在生成试卷")).to_be_visible()
    expect(card.locator('[data-job="state_label"]')).to_have_text("等待中")
    _worker(app).join(20)
    expect(card.locator('[data-job="state_label"]')).to_have_text("已完成")  # the page polls the job
    expect(card.get_by_text("已生成试卷3份。")).to_be_visible()
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Paper.id)).where(Paper.exam_id == exam.id)) == 3
