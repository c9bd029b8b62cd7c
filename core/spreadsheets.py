"""Writing spreadsheets we hand out: styled header rows, and text that can never turn into a formula."""

import io
import zipfile

from flask_babel import gettext as _
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from core.imports import ImportIssue

HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDE7F3")
#: Cells starting with these are read as formulas by Excel (CSV injection); text is stored as text.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def append_row(ws, values) -> None:
    """Append a row; strings are stored as strings even when they start like a formula."""
    ws.append(values)
    for cell in ws[ws.max_row]:
        if isinstance(cell.value, str) and cell.value.startswith("="):
            cell.data_type = "s"


def style_header(ws, widths) -> None:
    for idx, width in enumerate(widths, start=1):
        cell = ws.cell(row=1, column=idx)
        cell.font = HEADER_FONT
        cell.fill = _HEADER_FILL
        ws.column_dimensions[get_column_letter(idx)].width = width
    ws.freeze_panes = "A2"


def new_workbook(title: str, headers: list[str], widths: list[int]) -> tuple[Workbook, object]:
    wb = Workbook()
    ws = wb.active
    ws.title = title
    ws.append(headers)
    style_header(ws, widths)
    return wb, ws


def to_bytes(wb: Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv_safe(value: str) -> str:
    """A CSV cell Excel will not evaluate: text that starts like a formula (or with an apostrophe, so that the
    inverse is exact) gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith((*FORMULA_PREFIXES, "'")):
        return "'" + value
    return value


def csv_unsafe(value: str) -> str:
    """The inverse of csv_safe, for reading back what we wrote."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith((*FORMULA_PREFIXES, "'")):
        return value[1:]
    return value


#: What we are willing to unpack from an uploaded .xlsx (a zip): stops zip bombs before openpyxl reads anything.
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200


def open_uploaded_workbook(data: bytes):
    """Open an uploaded .xlsx for reading, or say why not (returns (workbook, None) or (None, message)).

    Refused: not a zip, more than 200 MB unpacked or a suspicious compression ratio, macros. Formulas are read
    as formulas (never evaluated) and external links are not loaded.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile:
        return None, _("The file is not a valid .xlsx workbook.")
    unpacked = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos) or 1
    if unpacked > MAX_UNZIPPED_BYTES or unpacked / packed > MAX_COMPRESSION_RATIO:
        return None, _("The workbook is too large once unpacked.")
    if any(i.filename.lower().endswith("vbaproject.bin") for i in infos):
        return None, _("Workbooks with macros are not accepted.")
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False, keep_vba=False)
    except Exception:  # openpyxl raises many kinds for a broken or truncated file
        return None, _("The file is not a valid .xlsx workbook.")
    return wb, None


#: Columns read from an uploaded sheet; anything further right is ignored. (openpyxl pads every row to the width the
#: sheet *declares*, so a tiny file declaring A1:XFD40 would otherwise unpack into millions of cells.)
MAX_COLUMNS = 64


def sheet_rows(wb, limit: int):
    """(row number, [(value, is_formula)]) of the first sheet's first MAX_COLUMNS columns; stops after `limit` rows.

    Raises ValueError on a damaged sheet, and when the sheet has more than `limit` rows.
    """
    rows = []
    try:
        ws = wb.worksheets[0]
        ws.reset_dimensions()  # do not trust the declared size
        for row_no, cells in enumerate(ws.iter_rows(max_col=MAX_COLUMNS), start=1):
            if row_no > limit:
                raise ValueError("too many rows")
            rows.append((row_no, [(c.value, getattr(c, "data_type", None) == "f") for c in cells]))
    except ValueError:
        raise
    except Exception as exc:  # a truncated or malformed sheet XML
        raise ValueError("damaged") from exc
    finally:
        wb.close()
    return rows


def read_uploaded_sheet(data: bytes, max_rows: int) -> tuple[list[tuple[int, list]], list]:
    """The first sheet of an uploaded .xlsx as (row number, [values]) rows, or the problems that stop its import
    (not a workbook, too large, macros, damaged, more than `max_rows` data rows, formulas: each named by cell)."""
    wb, error = open_uploaded_workbook(data)
    if error:
        return [], [ImportIssue(None, None, None, error)]
    try:
        cells = sheet_rows(wb, max_rows + 1)  # the header row comes on top
    except ValueError as exc:
        message = (
            _("Too many rows (at most %(n)d).", n=max_rows)
            if str(exc) == "too many rows"
            else _("The workbook is damaged and cannot be read.")
        )
        return [], [ImportIssue(None, None, None, message)]
    issues = [
        ImportIssue(row_no, get_column_letter(idx + 1), None, _("Formulas are not accepted; type the value."))
        for row_no, values in cells
        for idx, (_value, is_formula) in enumerate(values)
        if is_formula
    ]
    return [(row_no, [v for v, _f in values]) for row_no, values in cells], issues
