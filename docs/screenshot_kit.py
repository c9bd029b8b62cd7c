"""What the README's picture scripts share (docs/make_*_screenshots.py): where pictures go, Debian's Chromium and its
flags, a PDF's first page as a PNG, and the settings of a throwaway demo database."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["QE_ALLOW_DEMO"] = "1"

OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip


def first_page_png(pdf: bytes, name: str, tmp: Path) -> None:
    """docs/screenshots/<name>.png: the PDF's first page at 80 dpi (poppler's pdftoppm)."""
    path = tmp / f"{name}.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "80", "-png", "-f", "1", "-l", "1", "-singlefile", path, OUT / name],  # noqa: S603,S607
                   check=True)  # fmt: skip
    print(f"docs/screenshots/{name}.png")


def demo_config(tmp: Path, **extra) -> dict:
    """The app's settings for a demo district in `tmp` (a mapping of overrides: a Config subclass would lose its
    database to the environment's, instance/)."""
    return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/demo.db", "JOBS_URL": "immediate",
            "SESSION_COOKIE_SECURE": False, **extra}  # fmt: skip
