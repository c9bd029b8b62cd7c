"""Issue 5's "done when" in a real Chromium on the demo district: a demo cadre sits the demo exam from the start to
the automatic submission through a dropped connection; a grader grades the essays in the grading queue; an
administrator corrects a key once; the candidate sees the corrected result and only what the review policy
allows. Screenshots of the exam page, the navigator and the grading queue go to test-artifacts/."""

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from accounts.models import User
from core.extensions import db
from core.models import now_utc
from demo import district
from exam import eligibility
from exam.models import Attempt, Exam
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LETTERS = "ABCDEFGH"


def login(page, base, username):
    log_in(page, base, username, district.DEMO_PASSWORD)


def test_exam_day(app, live_server, browser, page):
    district.load(now_utc())
    exam = db.session.scalar(select(Exam).where(Exam.code == "ZZLL2026"))
    candidate = db.session.get(User, sorted(eligibility.eligible_user_ids(exam))[0])
    candidate.set_password(district.DEMO_PASSWORD)
    candidate.must_change_password = False
    db.session.commit()
    ARTIFACTS.mkdir(exist_ok=True)

    # The cadre starts from the dashboard and the start page.
    login(page, live_server, candidate.username)
    page.get_by_role("link", name=exam.title).click()
    page.get_by_label("我已阅读考试须知和考试规则。").check()
    page.get_by_role("button", name="开始答题").click()
    page.wait_for_url("**/my/attempts/*")
    page.wait_for_function("() => document.getElementById('time-left').textContent !== '--:--'")
    # (The demo's candidates sat last year's exams too.)
    attempt = db.session.scalar(select(Attempt).where(Attempt.user_id == candidate.id, Attempt.exam_id == exam.id))
    items = {i.position: i for i in attempt.paper.items}
    first = items[1]  # 一、单选题
    page.locator("#q-1 input[type=radio]").nth(0).check()
    essay = next(i for i in items.values() if i.section.qtype == "essay")
    page.locator(f"#q-{essay.position} textarea").fill("坚持和加强党的全面领导，是做好一切工作的根本保证。")
    page.wait_for_function("() => document.getElementById('save-state').dataset.state === 'saved'")
    page.screenshot(path=str(ARTIFACTS / "exam-day-paper.png"))
    page.locator(".exam-side").screenshot(path=str(ARTIFACTS / "exam-day-navigator.png"))

    # The connection drops; answers wait on this computer and go out when it is back.
    page.context.set_offline(True)
    truefalse = next(i for i in items.values() if i.section.qtype == "truefalse")
    page.locator(f"#q-{truefalse.position}").get_by_label("正确").check()
    page.wait_for_function("() => document.getElementById('save-state').dataset.state === 'offline'")
    page.context.set_offline(False)
    page.wait_for_function("() => document.getElementById('save-state').dataset.state === 'saved'", timeout=15_000)

    # The hour is nearly over (moved on in the database, as if it had passed): the page submits by itself.
    db.session.get(Attempt, attempt.id).deadline_at = now_utc() + timedelta(seconds=6)
    db.session.commit()
    page.reload()
    page.wait_for_url("**/result", timeout=20_000)
    db.session.expire_all()
    attempt = db.session.get(Attempt, attempt.id)
    assert attempt.status in ("submitted", "expired") and not attempt.fully_graded  # the essays wait
    assert "主观题尚在阅卷" not in page.content()  # results come at the close (the exam's release policy)

    # The grader grades the written answers, blind, question by question.
    grader_context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    grader = grader_context.new_page()
    grader.set_default_timeout(10_000)
    login(grader, live_server, "grader01")
    grader.get_by_role("navigation", name="主导航").get_by_role("link", name="阅卷").click()
    grader.get_by_role("link", name=exam.title).click()
    grader.screenshot(path=str(ARTIFACTS / "grading-queue.png"))
    grader.get_by_role("link", name="按题阅卷").click()
    assert candidate.name not in grader.content() and candidate.username not in grader.content()
    grader.screenshot(path=str(ARTIFACTS / "grading-answer.png"))
    graded = 0
    while grader.locator("#points").count():
        grader.locator("#points").fill("15")
        grader.get_by_label("评语（考生查看试卷回顾时可见）").fill("论述较完整。")
        grader.get_by_role("button", name="保存并阅下一份").click()
        grader.wait_for_load_state()
        graded += 1
    assert graded >= 1 and "本场考试的主观题已全部阅完" in grader.content()
    grader_context.close()
    db.session.expire_all()
    attempt = db.session.get(Attempt, attempt.id)
    assert attempt.fully_graded and attempt.score is not None
    before = attempt.score

    # The administrator corrects the key of question 1 once: the attempt is regraded.
    chosen = first.option_order[0]  # the option the candidate ticked (as the question version numbers it)
    right = first.version.answer[0] != chosen
    new_key = LETTERS[chosen] if right else LETTERS[next(i for i in range(len(first.version.options)) if i != chosen)]
    admin_context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    admin = admin_context.new_page()
    admin.set_default_timeout(10_000)
    login(admin, live_server, "zzb001")
    admin.goto(f"{live_server}/exams/{exam.code}/keys/{first.question_version_id}")
    admin.get_by_label("正确答案").fill(new_key)
    admin.get_by_label("更正原因").fill("原答案录入有误")
    admin.get_by_role("button", name="更正并重新评分").click()
    assert "答案已更正；1份答卷的成绩有变化" in admin.content()
    admin_context.close()
    db.session.expire_all()
    attempt = db.session.get(Attempt, attempt.id)
    assert attempt.score != before and attempt.regraded_at is not None

    # After the close the candidate sees the corrected score, and no keys: the demo exam's policy is score only.
    db.session.get(Exam, exam.id).closes_at = now_utc() - timedelta(minutes=1)
    db.session.commit()
    page.goto(f"{live_server}/my/attempts/{attempt.id}/result")
    html = page.content()
    assert f"<strong>{attempt.score:g}</strong>" in html and "因答案更正" in html
    assert "试卷回顾" not in html and "正确答案" not in html
    page.screenshot(path=str(ARTIFACTS / "exam-day-result.png"))
