"""Check-in at the door in a real Chromium: the candidate's start page refuses with the reason; a proctor checks
them in by the typed ticket number; the start page then lets them start. And a ticket's QR decoded from a photo
through the page's file fallback (a PNG made by segno)."""

from pathlib import Path

import pytest
import segno
from playwright.sync_api import expect

from core.extensions import db
from core.policy import Role
from sitting import services as sitting
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, make_cadre, make_open_exam, make_sitting, make_user

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def login(page, base, username):
    log_in(page, base, username, PASSWORD)


def _door():
    exam, cadre = make_open_exam()
    second = make_cadre(unit=cadre.cadre.unit).user
    session, rooms = make_sitting(exam, requires_checkin=True)
    proctor = make_user(username="proctor01", roles=(Role.PROCTOR, Role.CADRE))
    sitting.assign_proctor(session, rooms[0], proctor, actor=None, now=session.starts_at)
    db.session.commit()
    return exam, cadre, second, session, rooms


def test_check_in_by_typed_ticket_number_lets_the_candidate_start(app, live_server, browser, page):
    exam, cadre, _second, session, rooms = _door()
    seat = sitting.seat_of(exam, cadre)
    ARTIFACTS.mkdir(exist_ok=True)

    candidate = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN").new_page()
    candidate.set_default_timeout(10_000)
    login(candidate, live_server, cadre.username)
    candidate.goto(f"{live_server}/my/exams/{exam.code}/")
    expect(candidate.locator("#start-refusal")).to_contain_text(rooms[0].name)
    expect(candidate.get_by_role("button", name="开始答题")).to_be_disabled()
    candidate.screenshot(path=str(ARTIFACTS / "checkin-start-refused.png"))

    page.set_viewport_size({"width": 390, "height": 844})  # a phone at the door
    login(page, live_server, "proctor01")
    page.goto(f"{live_server}/sitting/sessions/{session.id}/checkin")
    page.locator("#lookup-ticket-no").fill(seat.ticket_no)
    page.locator("#lookup-ticket button").click()
    card = page.locator(".candidate-card")
    expect(card).to_contain_text(cadre.name)
    page.screenshot(path=str(ARTIFACTS / "checkin-phone.png"), full_page=True)
    card.locator(".confirm-checkin").click()
    expect(card.locator(".status-active")).to_be_visible()
    expect(page.locator(f"#seat-{seat.id}")).to_have_attribute("data-state", "checked_in")
    expect(page.locator('#checkin-counts [data-count="checked_in"]')).to_have_text("1")
    page.screenshot(path=str(ARTIFACTS / "checkin-phone-done.png"), full_page=True)

    candidate.reload()
    expect(candidate.locator("#start-refusal")).to_have_count(0)
    candidate.get_by_label("我已阅读考试须知和考试规则。").check()
    candidate.get_by_role("button", name="开始答题").click()
    candidate.wait_for_url("**/my/attempts/*")
    candidate.context.close()


def test_a_photo_of_the_ticket_is_decoded_on_the_page(app, live_server, page, tmp_path: Path):
    exam, cadre, second, session, rooms = _door()
    seat = sitting.seat_of(exam, second)
    png = tmp_path / "ticket.png"
    segno.make(sitting.ticket_code(seat), error="m").save(str(png), scale=8, border=4)
    login(page, live_server, "proctor01")
    page.goto(f"{live_server}/sitting/sessions/{session.id}/checkin")
    page.locator("#scan-photo").set_input_files(str(png))
    card = page.locator(".candidate-card")
    expect(card).to_contain_text(second.name)
    expect(card).to_contain_text(seat.ticket_no)
    # A forged code is said as the server says it.
    forged = tmp_path / "forged.png"
    segno.make(sitting.ticket_code(seat).rsplit(".", 1)[0] + ".0123456789abcdef", error="m").save(
        str(forged), scale=8, border=4
    )
    page.locator("#scan-photo").set_input_files(str(forged))
    expect(page.locator(".checkin-error")).to_be_visible()
