"""Pictures of the score lifecycle for the README (docs/screenshots/results-*.png and pdf-notice-1.png), made from the
demo district in a throwaway SQLite database: XZGW2026's results page (the district's), the first page of its
public notice's PDF, cadre01's appeal page and grader02's review of that appeal, in headless Chromium. Needs
poppler-utils, a CJK font and Debian's Chromium (make browser-deps).

    .venv/bin/python docs/make_results_screenshots.py
"""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["QE_ALLOW_DEMO"] = "1"

from sqlalchemy import select  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from app import create_app  # noqa: E402
from core.extensions import db  # noqa: E402
from core.models import now_utc  # noqa: E402
from demo import district  # noqa: E402
from demo.results import CODE  # noqa: E402
from exam.models import Exam  # noqa: E402
from results import lifecycle, notices  # noqa: E402
from results.appeal_models import AppealItem  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip


def _png(pdf: bytes, name: str, tmp: Path) -> None:
    path = tmp / f"{name}.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "80", "-png", "-f", "1", "-l", "1", "-singlefile", path, OUT / name],  # noqa: S603,S607
                   check=True)  # fmt: skip
    print(f"docs/screenshots/{name}.png")


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
        # A mapping of overrides (a Config subclass would lose its database to the environment's, instance/).
        config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/demo.db", "JOBS_URL": "immediate",
                  "SESSION_COOKIE_SECURE": False, "PUBLIC_URL": "https://qualexam.example.gov.cn"}  # fmt: skip
        app = create_app(config)
        with app.app_context():
            from flask_migrate import upgrade

            upgrade(directory=str(ROOT / "migrations"))
            district.load(now_utc())
            db.session.commit()
            exam = db.session.scalar(select(Exam).where(Exam.code == CODE))
            notice = lifecycle.current_notice(exam)
            item = db.session.scalar(select(AppealItem).order_by(AppealItem.id))
            with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
                _png(notices.notice_pdf(notice, notices.verification_url(notice.serial)), "pdf-notice-1", tmp)
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
