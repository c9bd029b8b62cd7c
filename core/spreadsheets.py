"""Spreadsheets: writing the ones we hand out (styled header rows, text that can never turn into a formula), and
the one bounded reader of every uploaded .xlsx."""

import io
import zipfile

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.cell.text import Text
from openpyxl.reader.excel import ExcelReader
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._reader import WorkSheetParser
from openpyxl.xml.constants import SHARED_STRINGS
from openpyxl.xml.functions import iterparse

from core.imports import ImportIssue

HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDE7F3")
#: Cells starting with these are read as formulas by Excel (CSV injection); text is stored as text.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def append_row(ws, values) -> None:
    """Append a row; strings are stored as strings even when they start like a formula. (Typed as the row is made:
    reading the row back by `ws.max_row` walks every cell of the sheet, which made a long export quadratic.)"""
    row = []
    for value in values:
        if isinstance(value, str) and value.startswith("="):
            value = Cell(ws, value=value)
            value.data_type = "s"
        row.append(value)
    ws.append(row)


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


class StreamedSheet:
    """A sheet of a `StreamedWorkbook`: the header row first (styled, frozen, with the column widths), then rows
    appended one by one and written out at once (nothing is kept to change later: formats go in `formats`)."""

    def __init__(self, wb: Workbook, title: str, headers: list[str], widths: list[int], formats: dict | None = None):
        self.ws = wb.create_sheet(title)
        for idx, width in enumerate(widths, start=1):
            self.ws.column_dimensions[get_column_letter(idx)].width = width
        self.ws.freeze_panes = "A2"
        #: {column number (from 1): number format} for the cells below the header.
        self.formats = formats or {}
        header = []
        for value in headers:
            cell = WriteOnlyCell(self.ws, value)
            cell.font = HEADER_FONT
            cell.fill = _HEADER_FILL
            header.append(cell)
        self.ws.append(header)
        self.rows = 0

    def append(self, values) -> None:
        """Append a row; strings are stored as strings even when they start like a formula."""
        row = []
        for idx, value in enumerate(values, start=1):
            fmt = self.formats.get(idx)
            formula_like = isinstance(value, str) and value.startswith("=")
            if value is not None and (fmt or formula_like):
                cell = WriteOnlyCell(self.ws, value)
                if formula_like:
                    cell.data_type = "s"
                if fmt:
                    cell.number_format = fmt
                value = cell
            row.append(value)
        self.ws.append(row)
        self.rows += 1


class StreamedWorkbook:
    """An .xlsx written with openpyxl's write-only mode: each sheet's rows go to a temporary file as they are
    appended, so an export of 100,000 rows never holds 100,000 rows of cells in memory (only the finished file)."""

    def __init__(self):
        self.wb = Workbook(write_only=True)

    def sheet(self, title: str, headers: list[str], widths: list[int], formats: dict | None = None) -> StreamedSheet:
        return StreamedSheet(self.wb, title, headers, widths, formats)

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        self.wb.save(buf)
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
#: Any part other than a worksheet or the shared-string table (workbook, styles, theme, relationships) is parsed
#: whole by openpyxl, so it is held to a size no honest workbook comes near.
MAX_PART_BYTES = 16 * 1024 * 1024

#: Bounds on the work one uploaded sheet may cost, counted while it streams (its declared dimension can lie).
#: Columns read from a sheet: a value further right is refused.
MAX_COLUMNS = 64
#: Excel's own limit for one cell.
MAX_CELL_CHARS = 32_767
#: Cells (filled or empty) in the sheet, and entries in the workbook's shared-string table; an import of fewer rows
#: gets fewer: MAX_COLUMNS per row it takes, so that its work stays in proportion to what it reads.
MAX_SHEET_CELLS = 400_000
#: Characters of text in all the cells read (a shared string counts every time a cell uses it).
MAX_SHEET_CHARS = 20_000_000
#: XML elements of the sheet per cell allowed (a cell is up to three: <c><is><t>; rows and the rest fit the fourth).
ELEMENTS_PER_CELL = 4

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_ROW, _CELL, _STRING = _MAIN + "row", _MAIN + "c", _MAIN + "si"


class SheetTooLarge(Exception):
    """A limit of the bounded reader was passed; `issue` says which (and where)."""

    def __init__(self, issue: ImportIssue):
        super().__init__(issue.message)
        self.issue = issue


def _too_many_cells(limit: int = MAX_SHEET_CELLS) -> SheetTooLarge:
    message = _("The sheet has too many cells (at most %(n)d).", n=limit)
    return SheetTooLarge(ImportIssue(None, None, None, message))


def _too_much_text() -> SheetTooLarge:
    message = _("The sheet holds too much text (at most %(n)d characters).", n=MAX_SHEET_CHARS)
    return SheetTooLarge(ImportIssue(None, None, None, message))


def _cell_too_long(row: int | None = None, column: str | None = None) -> SheetTooLarge:
    message = _("A cell holds at most %(n)d characters.", n=MAX_CELL_CHARS)
    return SheetTooLarge(ImportIssue(row, column, None, message))


class _BoundedExcelReader(ExcelReader):
    """openpyxl's reader, but the shared-string table is streamed with the same bounds as the sheet (openpyxl
    would read it whole before the first row)."""

    def read_strings(self):
        ct = self.package.find(SHARED_STRINGS)
        if ct is None:
            return
        strings, chars = [], 0
        with self.archive.open(ct.PartName[1:]) as src:
            for _event, node in iterparse(src):
                if node.tag != _STRING:
                    continue
                text = Text.from_tree(node).content.replace("x005F_", "")
                node.clear()
                chars += len(text)
                if len(text) > MAX_CELL_CHARS:
                    raise _cell_too_long()
                if chars > MAX_SHEET_CHARS:
                    raise _too_much_text()
                strings.append(text)
                if len(strings) > MAX_SHEET_CELLS:
                    raise _too_many_cells()
        self.shared_strings = strings


def _is_sheet_data(name: str) -> bool:
    return name.startswith(("xl/worksheets/", "xl/sharedStrings")) and not name.endswith(".rels")


def open_uploaded_workbook(data: bytes):
    """Open an uploaded .xlsx for reading, or say why not (returns (workbook, None) or (None, message)).

    Refused: not a zip, more than 200 MB unpacked or a suspicious compression ratio, a part other than the sheets
    over 16 MB, macros, a shared-string table past the sheet limits. Formulas are read as formulas (never
    evaluated) and external links are not loaded.
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
    if any(i.file_size > MAX_PART_BYTES and not _is_sheet_data(i.filename) for i in infos):
        return None, _("The workbook is too large once unpacked.")
    if any(i.filename.lower().endswith("vbaproject.bin") for i in infos):
        return None, _("Workbooks with macros are not accepted.")
    reader = None
    try:
        reader = _BoundedExcelReader(
            io.BytesIO(data), read_only=True, keep_vba=False, data_only=False, keep_links=False
        )
        reader.read()
    except Exception as exc:  # openpyxl raises many kinds for a broken or truncated file
        if reader is not None:
            reader.archive.close()
        if isinstance(exc, SheetTooLarge):
            return None, str(exc.issue)
        return None, _("The file is not a valid .xlsx workbook.")
    return reader.wb, None


def _letter(column: int) -> str:
    return get_column_letter(column) if 0 < column <= 18278 else str(column)  # openpyxl names columns up to ZZZ


def sheet_rows(wb, max_rows: int):
    """(row number, [(value, is_formula)] of MAX_COLUMNS cells) of the first sheet, streamed with bounded work.

    Rows are numbered as the sheet numbers them (missing rows come back empty) and counted as they stream: the
    sheet's declared dimension is not trusted. Raises SheetTooLarge as soon as a limit is passed: a header row and
    more than `max_rows` rows under it; more cells than MAX_COLUMNS for each of those rows (or MAX_SHEET_CELLS);
    more than ELEMENTS_PER_CELL XML elements for each of those cells; a value beyond column MAX_COLUMNS; a cell
    over MAX_CELL_CHARS characters; MAX_SHEET_CHARS characters in all. Raises ValueError on a damaged sheet.
    """
    empty = [(None, False)] * MAX_COLUMNS
    rows, current, row_no = [], None, 0
    cells = elements = chars = 0
    max_cells = min(MAX_SHEET_CELLS, (max_rows + 1) * MAX_COLUMNS)
    max_elements = ELEMENTS_PER_CELL * max_cells
    try:
        ws = wb.worksheets[0]
        parser = WorkSheetParser(
            None,
            ws._shared_strings,
            epoch=wb.epoch,
            date_formats=wb._date_formats,
            timedelta_formats=wb._timedelta_formats,
        )
        with ws._get_source() as src:
            for event, element in iterparse(src, events=("start", "end")):
                if event == "start":
                    elements += 1
                    if elements > max_elements:
                        message = _("The sheet is too complex to read (more than %(n)d XML elements).", n=max_elements)
                        raise SheetTooLarge(ImportIssue(None, None, None, message))
                    if element.tag == _ROW:
                        number = element.get("r")
                        number = int(float(number)) if number else row_no + 1
                        if number <= row_no:
                            raise ValueError("rows out of order")
                        if number > max_rows + 1:  # the header row comes on top
                            message = _("Too many rows (at most %(n)d).", n=max_rows)
                            raise SheetTooLarge(ImportIssue(None, None, None, message))
                        rows.extend((n, list(empty)) for n in range(row_no + 1, number))
                        row_no = parser.row_counter = number
                        parser.col_counter = 0
                        current = list(empty)
                        rows.append((row_no, current))
                    continue
                if element.tag == _CELL:
                    cells += 1
                    if cells > max_cells:
                        raise _too_many_cells(max_cells)
                    if current is None:
                        raise ValueError("a cell outside a row")
                    cell = parser.parse_cell(element)
                    element.clear()
                    value, column = cell["value"], cell["column"]
                    if cell["row"] != row_no:
                        raise ValueError("a cell in the wrong row")
                    if value is None or value == "":
                        continue
                    letter = _letter(column)
                    if column > MAX_COLUMNS:
                        message = _("A sheet has at most %(n)d columns; this cell is further right.", n=MAX_COLUMNS)
                        raise SheetTooLarge(ImportIssue(row_no, letter, None, message))
                    text = str(value)
                    if len(text) > MAX_CELL_CHARS:
                        raise _cell_too_long(row_no, letter)
                    chars += len(text)
                    if chars > MAX_SHEET_CHARS:
                        raise _too_much_text()
                    current[column - 1] = (value, cell["data_type"] == "f")
                elif element.tag == _ROW:
                    element.clear()
                    current = None
    except SheetTooLarge:
        raise
    except Exception as exc:  # a truncated or malformed sheet XML
        raise ValueError("damaged") from exc
    finally:
        wb.close()
    return rows


def read_uploaded_sheet(data: bytes, max_rows: int) -> tuple[list[tuple[int, list]], list]:
    """The first sheet of an uploaded .xlsx as (row number, [values]) rows, or the problems that stop its import
    (not a workbook, too large, macros, damaged, more than `max_rows` data rows, past the bounds of sheet_rows,
    formulas: each named by cell). The one reader of every xlsx import."""
    wb, error = open_uploaded_workbook(data)
    if error:
        return [], [ImportIssue(None, None, None, error)]
    try:
        cells = sheet_rows(wb, max_rows)
    except SheetTooLarge as exc:
        return [], [exc.issue]
    except ValueError:
        return [], [ImportIssue(None, None, None, _("The workbook is damaged and cannot be read."))]
    issues = [
        ImportIssue(row_no, get_column_letter(idx + 1), None, _("Formulas are not accepted; type the value."))
        for row_no, values in cells
        for idx, (_value, is_formula) in enumerate(values)
        if is_formula
    ]
    return [(row_no, [v for v, _f in values]) for row_no, values in cells], issues
