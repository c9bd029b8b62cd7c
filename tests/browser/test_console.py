"""The proctor's console and the exam page together, in a real Chromium: the console sees a candidate's answers
and their silence once offline; an extension reaches the candidate's countdown without a reload; a pause shows
the overlay, freezes the clock, and an answer refused meanwhile is saved after the resume."""

import re
import time
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.extensions import db
from core.models import now_utc
from core.policy import Role
from exam import adjustments
from exam.models import Answer, Attempt
from sitting import services as sitting
from tests.browser.test_exam_page import block, login, open_paper
from tests.factories import make_open_exam, make_sitting, make_user

pytestmark = pytest.mark.browser


def _world(app, **config):
    app.config.update({"EXAM_SYNC_SECONDS": 1, "CONSOLE_POLL_SECONDS": 1, "CONSOLE_SILENT_SECONDS": 4, **config})
    exam, candidate = make_open_exam()
    session, rooms = make_sitting(exam, rooms=1, capacity=5)
    proctor = make_user(username="proctor01", roles=(Role.PROCTOR,))
    sitting.assign_proctor(session, rooms[0], proctor, actor=None, now=now_utc())
    db.session.commit()
    return exam, candidate, session, rooms[0]


def _console(browser, base, session, room):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    login(page, base, "proctor01")
    page.goto(f"{base}/sitting/sessions/{session.id}/rooms/{room.id}/console")
    return context, page


def test_the_console_sees_the_answers_and_the_silence(app, live_server, page, browser):
    exam, candidate, session, room = _world(app)
    attempt = open_paper(page, live_server, candidate)
    context, console = _console(browser, live_server, session, room)
    try:
        row = console.locator(f'tr[data-user="{candidate.username}"]')
        expect(row).to_have_attribute("data-state", "in_progress")
        expect(row).to_have_attribute("data-answered", "0")
        _, q = block(page, attempt, "single")
        q.locator("input[type=radio]").nth(0).check()
        expect(page.locator("#save-state")).to_have_attribute("data-state", "saved")
        expect(row).to_have_attribute("data-answered", "1")
        expect(row).to_have_attribute("data-online", "true")
        expect(row.locator('[data-alert="silent"]')).to_have_count(0)
        page.context.set_offline(True)
        _, q = block(page, attempt, "truefalse")
        q.locator("input[type=radio]").nth(0).check()  # kept on the candidate's computer, never reaching the server
        expect(row.locator('[data-alert="silent"]')).to_be_visible()
        expect(row).to_have_attribute("data-online", "false")
        expect(row).to_have_attribute("data-answered", "1")
        page.context.set_offline(False)
        expect(row).to_have_attribute("data-answered", "2")  # the queue went out, the candidate is back
        expect(row).to_have_attribute("data-online", "true")
    finally:
        context.close()


def test_an_extension_reaches_the_countdown_without_a_reload(app, live_server, page, browser):
    exam, candidate, session, room = _world(app)
    attempt = open_paper(page, live_server, candidate)
    old_deadline = attempt.deadline_at
    page.evaluate("() => { window.notReloaded = true; }")
    expect(page.locator("#time-left")).to_have_text(re.compile(r"^[0-5]\d:\d\d$"))  # under an hour
    context, console = _console(browser, live_server, session, room)
    try:
        console.locator(f'tr[data-user="{candidate.username}"] button[data-action="extend"]').click()
        dialog = console.locator("#action-dialog")
        expect(dialog).to_be_visible()
        dialog.locator("#action-minutes").fill("30")
        dialog.locator("#action-reason").fill("电脑死机，更换电脑")
        dialog.locator("#action-confirm").click()
        expect(dialog).to_be_hidden()
    finally:
        context.close()
    expect(page.locator("#time-left")).to_have_text(re.compile(r"^1:[23]\d:\d\d$"))
    expect(page.locator("#banner")).to_be_visible()
    assert page.evaluate("() => window.notReloaded === true")
    db.session.expire_all()
    assert db.session.get(Attempt, attempt.id).deadline_at == old_deadline + timedelta(minutes=30)


def test_a_pause_holds_the_page_and_an_answer_refused_meanwhile_is_saved_after_the_resume(
    app, live_server, page, browser
):
    # A slow sync: the page learns of the pause from its refused save, not from a sync.
    exam, candidate, session, room = _world(app, EXAM_SYNC_SECONDS=30)
    attempt = open_paper(page, live_server, candidate)
    proctor = db.session.scalar(select(type(candidate)).where(type(candidate).username == "proctor01"))
    adjustments.pause(db.session.get(Attempt, attempt.id), proctor, "停电", now_utc())
    db.session.commit()
    single, q = block(page, attempt, "single")
    q.locator("input[type=radio]").nth(1).check()
    overlay = page.locator("#paused")
    expect(overlay).to_be_visible()
    expect(page.locator(f'.q-state[data-pos="{single.position}"]')).to_have_attribute("data-state", "queued")
    expect(q.locator("input[type=radio]").nth(0)).to_be_disabled()
    frozen = page.locator("#time-left").text_content()
    time.sleep(2.2)
    assert page.locator("#time-left").text_content() == frozen  # the clock is held
    db.session.expire_all()
    assert db.session.scalar(select(Answer).where(Answer.attempt_id == attempt.id)) is None
    adjustments.resume(db.session.get(Attempt, attempt.id), proctor, "来电", now_utc())
    db.session.commit()
    expect(overlay).to_be_hidden()
    expect(page.locator("#save-state")).to_have_attribute("data-state", "saved")
    expect(q.locator("input[type=radio]").nth(0)).to_be_enabled()
    db.session.expire_all()
    saved = db.session.scalar(select(Answer).where(Answer.attempt_id == attempt.id, Answer.position == single.position))
    assert saved is not None and saved.value is not None
