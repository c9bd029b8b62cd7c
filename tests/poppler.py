"""Poppler's pdftoppm and pdftotext (Debian's poppler-utils, installed by `make pdf-fonts` as root), for tests that
look at PDFs as a reader sees them: pages as images, text with positions."""

import os
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest
from PIL import Image


def tools() -> dict:
    """The tools' paths; without them the test is skipped, or fails under TEST_FORBID_SKIPS/TEST_REQUIRE_BROWSER."""
    found = {tool: shutil.which(tool) for tool in ("pdftoppm", "pdftotext")}
    missing = [tool for tool, path in found.items() if path is None]
    if missing:
        reason = f"{' and '.join(missing)} not found: install poppler-utils (make pdf-fonts, as root)"
        if os.environ.get("TEST_FORBID_SKIPS") or os.environ.get("TEST_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def images(poppler: dict, pdf: Path, resolution: int) -> list[Image.Image]:
    """The pages as RGB images at `resolution` dots per inch."""
    stem = pdf.with_suffix("")
    subprocess.run([poppler["pdftoppm"], "-r", str(resolution), "-png", pdf, stem], check=True)
    pages = sorted(pdf.parent.glob(f"{stem.name}-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    return [Image.open(p).convert("RGB") for p in pages]


def text(poppler: dict, mode: str, pdf: Path) -> str:
    return subprocess.run([poppler["pdftotext"], mode, pdf, "-"], check=True, capture_output=True, text=True).stdout


def words(poppler: dict, pdf: Path) -> list[list[tuple]]:
    """Per page, (word, x0, y0, x1, y1) in points from the top left (pdftotext -bbox)."""
    pattern = r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
    return [
        [(unescape(w), float(x0), float(y0), float(x1), float(y1)) for x0, y0, x1, y1, w in re.findall(pattern, page)]
        for page in text(poppler, "-bbox", pdf).split("<page ")[1:]
    ]
