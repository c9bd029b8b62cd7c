"""PDFs we hand out embed a CJK font, so Chinese renders the same on every reader."""

from functools import cache
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from fpdf import FPDF
from fpdf.enums import MethodReturnValue, TableCellFillMode
from fpdf.fonts import FontFace

from core.errors import DomainError

#: Table headings: a light blue band (the CJK font has one, regular, style); body cells are white.
HEADING = FontFace(emphasis="", fill_color=(225, 231, 243))
WHITE = (255, 255, 255)

#: CJK fonts looked for when PDF_FONT is not set: (path, index of the Simplified Chinese face in a collection).
SYSTEM_FONTS = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
)


@cache
def _find_font(configured: str) -> tuple[str, int] | None:
    if configured:
        return (configured, 0) if Path(configured).is_file() else None
    return next(((p, i) for p, i in SYSTEM_FONTS if Path(p).is_file()), None)


def cjk_font() -> tuple[str, int]:
    found = _find_font(current_app.config.get("PDF_FONT") or "")
    if found is None:
        raise DomainError(_("No Chinese font is installed for PDFs (install fonts-noto-cjk, or set QE_PDF_FONT)."),
                          code="no_font", status=503)  # fmt: skip
    return found


class Pdf(FPDF):
    """An A4 document in the CJK font (it has one, regular, style)."""

    def __init__(self, orientation="portrait"):
        super().__init__(orientation=orientation, format="A4")
        path, index = cjk_font()
        self.add_font("cjk", fname=path, collection_font_number=index)
        self.set_font("cjk", size=11)
        self.set_auto_page_break(True, margin=15)
        self.set_title("QualExam")

    def keep_room(self, height: float) -> None:
        """Start a new page unless `height` mm fit below the current position (a title with what follows it)."""
        if self.y + height > self.page_break_trigger:
            self.add_page()

    def data_table(self, rows: list[tuple], widths: tuple, line_height: float = 6, keep: int = 3, tail: float = 0):
        """A table whose first row is its heading: white body cells, whatever colours were set before, the heading
        repeated on every page the table crosses, and no page with fewer than `keep` of its body rows (the table
        then starts on the next page, or its page break comes earlier). `tail` mm stay free below its last row for
        what belongs with it (a closing line), so that never stands alone on a page."""
        heading, body = rows[0], rows[1:]
        heights = [self._row_height(row, widths, line_height) for row in rows]
        room, page = self.page_break_trigger - self.y, self.page_break_trigger - self.t_margin
        for i, (start, end) in enumerate(page_runs(heights[1:], heights[0], room, page, keep, tail) or [(0, 0)]):
            if i:
                self.add_page()
            if start == end and body:
                continue  # the table starts on the next page
            style = {"headings_style": HEADING, "cell_fill_color": WHITE, "cell_fill_mode": TableCellFillMode.ALL}
            with self.table(col_widths=widths, text_align="LEFT", line_height=line_height, **style) as table:
                for row in (heading, *body[start:end]):
                    table.row([str(c) for c in row])

    def _row_height(self, row: tuple, widths: tuple, line_height: float) -> float:
        """The height fpdf2's table gives `row` (its tallest cell) in the current font."""
        scale = self.epw / sum(widths)
        height = MethodReturnValue.HEIGHT
        return max(
            self.multi_cell(w * scale, line_height, str(text), padding=0, dry_run=True, output=height)
            for w, text in zip(widths, row, strict=True)
        )


def page_runs(heights: list[float], heading: float, room: float, page: float, keep: int, tail: float = 0) -> list:
    """How a table's body rows (of `heights`) fall on pages: one (start, end) run per page, the first on the current
    page (`room` left), the others on fresh pages (`page` each), each page with the heading (`heading` high) on top
    and the last with `tail` free below. No run holds fewer than `keep` rows unless the whole table is shorter; an
    empty first run means "start the table on the next page"."""
    runs, start, space, fresh, n = [], 0, room, False, len(heights)
    while start < n:
        end, used = start, heading
        while end < n and used + heights[end] <= space:
            used += heights[end]
            end += 1
        fitted = end
        if end == n and used + tail > space:
            end = n - min(keep, n)  # the closing line needs room: it goes over with the last rows
        if end < n:
            end -= max(0, keep - (n - end))  # leave `keep` rows for the last page
            if end - start < min(keep, n - start):
                end = start  # too few here: all on the next page
        if fresh and end == start:
            end = max(fitted, start + 1)  # a fresh page takes what fits (a row taller than a page makes fpdf2 raise)
        runs.append((start, end))
        start, space, fresh = end, page, True
    return runs
