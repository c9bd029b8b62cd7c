"""PDFs we hand out embed a CJK font, so Chinese renders the same on every reader."""

from functools import cache
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from fpdf import FPDF

from core.errors import DomainError

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
