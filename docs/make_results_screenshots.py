"""Pictures of the score lifecycle for the README (docs/screenshots/results-*.png and pdf-notice-1.png), made from the
demo district in a throwaway SQLite database: XZGW2026's results page (the district's), the first page of its
public notice's PDF, cadre01's appeal page and grader02's review of that appeal, in headless Chromium. Needs
poppler-utils, a CJK font and Debian's Chromium (make browser-deps).

    .venv/bin/python docs/make_results_screenshots.py
"""

import shutil
import sys
import tempfile
import threading
from pathlib import Path

from screenshot_kit import ARGS, CHROMIUM, OUT, ROOT, demo_config, first_page_png
from sqlalchemy import select
from werkzeug.serving import make_server

from app import create_app
from core.extensions import db
from core.models import now_utc
from demo import district
from demo.results import CODE
from exam.models import Exam
from results import lifecycle, notices
from results.appeal_models import AppealItem


def _shot(browser, base: str, username: str, path: str, name: str) -> None:
    page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", district.DEMO_PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    page.goto(base + path)
    page.wait_for_timeout(500)
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
    print(f"docs/screenshots/{name}.png")
    page.close()


def main() -> None:
    if shutil.which("pdftoppm") is None:
        sys.exit("pdftoppm not found: install poppler-utils (make pdf-fonts, as root)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        app = create_app(demo_config(tmp, PUBLIC_URL="https://qualexam.example.gov.cn"))
        with app.app_context():
            from flask_migrate import upgrade

            upgrade(directory=str(ROOT / "migrations"))
            district.load(now_utc())
            db.session.commit()
            exam = db.session.scalar(select(Exam).where(Exam.code == CODE))
            notice = lifecycle.current_notice(exam)
            item = db.session.scalar(select(AppealItem).order_by(AppealItem.id))
            with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
                first_page_png(notices.notice_pdf(notice, notices.verification_url(notice.serial)), "pdf-notice-1", tmp)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            _shot(browser, base, "zzb001", f"/results/exams/{CODE}", "results-exam")
            _shot(browser, base, "cadre01", f"/results/exams/{CODE}/appeal", "results-appeal")
            _shot(browser, base, "grader02", f"/results/appeals/{item.id}", "results-appeal-review")
            browser.close()
        server.shutdown()


if __name__ == "__main__":
    main()
