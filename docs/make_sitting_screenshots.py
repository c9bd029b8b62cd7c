"""Pictures of the day's papers and the proctor's console for the README (docs/screenshots/sitting-*.png), made from
the demo district in a throwaway SQLite database: the admission ticket (page 1 of a candidate's PDF), a room's
sitting record, and the room console in headless Chromium (a candidate of the room answering). Needs
poppler-utils, a CJK font and Debian's Chromium (make browser-deps).

    .venv/bin/python docs/make_sitting_screenshots.py
"""

import shutil
import sys
import tempfile
import threading
from pathlib import Path

from screenshot_kit import ARGS, CHROMIUM, OUT, ROOT, demo_config, first_page_png
from sqlalchemy import select
from werkzeug.serving import make_server

from accounts.models import User
from app import create_app
from core.extensions import db
from core.models import now_utc
from demo import district
from exam import adjustments, answers, attempts
from sitting import records, tickets
from sitting.models import Seat, Session


def main() -> None:
    if shutil.which("pdftoppm") is None:
        sys.exit("pdftoppm not found: install poppler-utils (make pdf-fonts, as root)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        app = create_app(demo_config(tmp))
        with app.app_context():
            from flask_migrate import upgrade

            upgrade(directory=str(ROOT / "migrations"))
            now = now_utc()
            district.load(now)
            db.session.commit()
            session = db.session.scalar(select(Session).order_by(Session.id))
            seat = db.session.scalar(select(Seat).where(Seat.session_id == session.id).order_by(Seat.seat_no))
            room = seat.room
            # The first candidate of the room answers a few questions, so the console has something to show.
            attempt = attempts.start_attempt(session.exam, seat.user, now)
            for position in (1, 2, 3):
                answers.save_answer(attempt, position, 0, position, now)
            proctor = db.session.scalar(select(User).where(User.username == "proctor01"))
            adjustments.extend(attempt, 5, proctor, "开考后电脑黑屏，换到备用机位，补足耽误的时间。", now)
            db.session.commit()
            with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
                first_page_png(tickets.ticket_pdf(seat), "sitting-ticket", tmp)
                first_page_png(records.room_record_pdf(session, room, now), "sitting-record", tmp)
            console = f"/sitting/sessions/{session.id}/rooms/{room.id}/console"
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="zh-CN")
            page.goto(base + "/login")
            page.fill("input[name=username]", "proctor01")
            page.fill("input[name=password]", district.DEMO_PASSWORD)
            page.get_by_role("button", name="登录", exact=True).click()
            page.goto(base + console)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(OUT / "sitting-console.png"), full_page=True)
            print("docs/screenshots/sitting-console.png")
            browser.close()
        server.shutdown()


if __name__ == "__main__":
    main()
