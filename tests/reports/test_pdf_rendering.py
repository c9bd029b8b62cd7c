"""Every PDF the app hands out, looked at as a reader sees it: built from the fixed samples of tests/pdf_samples.py
(several charts, tables long enough to cross pages), rendered to images with poppler's pdftoppm and read back with
pdftotext. Table cells must be white under their text, and no page may hold a lone row spilled from a table."""

import re

import pytest
from PIL import Image

from archive import documents as archive_documents
from core.pdf import page_runs
from reports import documents as report_documents
from tests import pdf_samples
from tests import poppler as pdf_tools

RESOLUTION = 50  # dots per inch: enough to see a cell's background, cheap to render
CHART_BLUE = (59, 110, 165)

BUILDERS = {
    "report": lambda **sizes: report_documents.report_pdf(*pdf_samples.report_inputs(**sizes)),
    "slip": lambda: report_documents.slip_pdf(*pdf_samples.slip_inputs()),
    "certificate": lambda: archive_documents.certificate_pdf(*pdf_samples.certificate_inputs()),
    "archive": lambda: archive_documents.archive_pdf(*pdf_samples.archive_inputs()),
}


@pytest.fixture(scope="module")
def poppler():
    return pdf_tools.tools()


@pytest.fixture
def build(app, poppler, tmp_path):
    """Build a document by name; return its pages as images and as text, and where its words sit."""

    def _build(name: str, **sizes) -> dict:
        with app.test_request_context():
            data = BUILDERS[name](**sizes)
        pdf = tmp_path / f"{name}.pdf"
        pdf.write_bytes(data)
        pages = pdf_tools.images(poppler, pdf, RESOLUTION)
        texts = pdf_tools.text(poppler, "-layout", pdf).split("\f")[: len(pages)]
        return {"images": pages, "pages": texts, "words": pdf_tools.words(poppler, pdf)}

    return _build


def _near(pixel, colour, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def _background(image: Image.Image, box: tuple) -> float:
    """The share of near-white pixels in a word's box (points), i.e. how white the cell behind the word is."""
    scale = RESOLUTION / 72
    x0, y0, x1, y1 = (round(v * scale) for v in box)
    pixels = list(image.crop((x0, y0, max(x1, x0 + 1), max(y1, y0 + 1))).get_flattened_data())
    return sum(min(p) >= 215 for p in pixels) / len(pixels)


def _table_rows(page: str, cells: set[str]) -> int:
    """Lines of a page's text whose first word is one of `cells` (the first column of a table's body rows)."""
    return sum(1 for line in page.splitlines() if line.split() and line.split()[0] in cells)


# ---------------------------------------------------------------- cell backgrounds


@pytest.mark.parametrize("name", BUILDERS)
def test_text_stands_on_white_or_the_light_heading_band(build, name):
    """Black text on the charts' dark blue was the bug: every word of every page sits on a light background."""
    doc = build(name)
    for number, (image, words) in enumerate(zip(doc["images"], doc["words"], strict=True), start=1):
        dark = [w for w, *box in words if _background(image, box) < 0.3]
        assert not dark, f"{name} page {number}: words on a dark background: {dark[:8]}"


def test_the_report_tables_after_its_charts_have_white_bodies(build):
    """Sample the unit and section tables' body cells away from the text: white, not the bars' blue."""
    doc = build("report")
    _exam, figures, _scope = pdf_samples.report_inputs()
    body = {u["unit"] for u in figures["units"]} | set(pdf_samples.SECTIONS)
    checked = 0
    for image, words in zip(doc["images"], doc["words"], strict=True):
        scale = RESOLUTION / 72
        for word, _x0, y0, x1, y1 in words:
            if word not in body:
                continue
            # the cell's padding right of the word, in the middle of the row
            sample = image.getpixel((round(x1 * scale) + 2, round((y0 + y1) / 2 * scale)))
            assert min(sample) >= 235, f"cell of {word} is {sample}, not white"
            checked += 1
    assert checked >= len(body)  # section names appear twice: under the chart and in the table
    chart_pixels = sum(_near(p, CHART_BLUE) for image in doc["images"][1:] for p in image.get_flattened_data())
    assert chart_pixels == 0, "blue on the pages after the charts"


# ---------------------------------------------------------------- page breaks


@pytest.mark.parametrize("units", [4, 48, len(pdf_samples.UNIT_NAMES)])
def test_the_report_unit_table_crosses_pages_without_a_lone_row(build, units):
    """48 units left the last one alone on a third page; 4 fit below the charts or go over together; the last
    unit's name wraps in its cell."""
    doc = build("report", units=units)
    # a unit row: the line with its place and two percentages (participation, pass rate), even where its name wraps
    row = re.compile(r"^\s*\d+\s.*\d%.*\d%")
    per_page = [sum(1 for line in page.splitlines() if row.match(line)) for page in doc["pages"]]
    assert sum(per_page) == units
    if units > 45:
        assert sum(1 for n in per_page if n) >= 2  # it does cross a page
    for number, (n, page) in enumerate(zip(per_page, doc["pages"], strict=True), start=1):
        assert n == 0 or n >= min(3, units), f"page {number} holds {n} spilled row(s) of the unit table"
        if n:
            assert re.search(r"名次\s+单位\s+应考", page), f"page {number} has no heading row above its units"


def test_the_archive_years_cross_pages_without_a_lone_row_or_line(build):
    doc = build("archive")
    _cadre, years, _quals = pdf_samples.archive_inputs()
    assert len(doc["pages"]) >= 2
    for number, page in enumerate(doc["pages"], start=1):
        lines = [line for line in page.splitlines() if line.strip()]
        rows = _table_rows(page, {"培训班", "集体学习", "在职自学", "考试"})
        assert len(lines) >= 4, f"page {number} holds only {lines}"
        assert rows == 0 or rows >= 3, f"page {number} holds {rows} spilled row(s)"


@pytest.mark.parametrize("name", ["slip", "certificate"])
def test_one_page_documents_stay_on_one_page(build, name):
    doc = build(name)
    assert len(doc["images"]) == 1 and "欧阳明轩" in doc["pages"][0]


# ---------------------------------------------------------------- the page splitter


def test_page_runs_fill_pages_but_leave_no_lone_rows():
    rows = [6.0] * 20
    assert page_runs(rows, 6, room=200, page=270, keep=3) == [(0, 20)]  # fits where it is
    assert page_runs(rows, 6, room=30, page=270, keep=3) == [(0, 4), (4, 20)]  # 4 rows fit: enough to start here
    assert page_runs(rows, 6, room=20, page=270, keep=3) == [(0, 0), (0, 20)]  # 2 rows fit: all go over
    assert page_runs(rows, 6, room=10, page=270, keep=3) == [(0, 0), (0, 20)]  # not even one
    assert page_runs(rows, 6, room=120, page=270, keep=3) == [(0, 17), (17, 20)]  # 19 fit, 1 would be alone
    assert page_runs(rows, 6, room=100, page=270, keep=3) == [(0, 15), (15, 20)]  # 15 fit, 5 follow
    assert page_runs(rows, 6, room=120, page=270, keep=3, tail=10) == [(0, 17), (17, 20)]
    assert page_runs(rows, 6, room=126, page=270, keep=3, tail=10) == [(0, 17), (17, 20)]  # the tail goes over
    assert page_runs(rows, 6, room=136, page=270, keep=3, tail=10) == [(0, 20)]
    assert page_runs([6.0] * 100, 6, room=60, page=60, keep=3) == [
        (0, 9), (9, 18), (18, 27), (27, 36), (36, 45), (45, 54), (54, 63), (63, 72), (72, 81), (81, 90), (90, 97),
        (97, 100),
    ]  # fmt: skip
    assert page_runs([], 6, room=10, page=270, keep=3) == []
    assert page_runs([300.0], 6, room=10, page=270, keep=3) == [(0, 0), (0, 1)]  # too tall: fpdf2 says so
