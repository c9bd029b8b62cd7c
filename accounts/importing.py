"""Bulk import of cadres from .xlsx: the template, all-or-nothing validation with row/column messages, the commit."""

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import func, select

from accounts.models import LABELS, CadreStatus, Education, Gender, PoliticalStatus, Rank, Unit, User
from accounts.services import CadreData, cadre_data_problems, create_cadres, units_in_scope
from core import audit
from core.errors import DomainError
from core.extensions import db
from core.imports import ImportIssue
from core.policy import can
from core.spreadsheets import (
    HEADER_FONT,
    append_row,
    new_workbook,
    read_uploaded_sheet,
    style_header,
    to_bytes,
)

#: Each new account costs one scrypt hash (~80 ms here): 1,000 rows fit in one web request; use the CLI for more.
MAX_ROWS = 1000


@dataclass(frozen=True)
class Column:
    key: str
    header_zh: str
    label: object  # lazy string, shown in messages in the UI language
    required: bool = True


COLUMNS = (
    Column("employee_number", "工号", _l("Employee number")),
    Column("name", "姓名", _l("Name")),
    Column("gender", "性别", _l("Gender")),
    Column("birth_date", "出生日期", _l("Birth date")),
    Column("unit", "单位", _l("Unit")),
    Column("rank", "职级", _l("Rank")),
    Column("position", "职务", _l("Position"), required=False),
    Column("education", "学历", _l("Education")),
    Column("political_status", "政治面貌", _l("Political status")),
    Column("phone", "手机号码", _l("Phone"), required=False),
)
ENUM_COLUMNS = {"gender": Gender, "rank": Rank, "education": Education, "political_status": PoliticalStatus}


@dataclass
class ImportRow:
    row: int
    data: CadreData


@dataclass
class ImportResult:
    rows: list[ImportRow] = field(default_factory=list)
    issues: list[ImportIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues and bool(self.rows)


def _in_locale(locale: str, text) -> str:
    with force_locale(locale):
        return str(text)


def _zh_label(value) -> str:
    return _in_locale("zh_CN", LABELS[value])


def enum_vocabulary(enum) -> dict[str, str]:
    """Every spelling accepted in a cell for an enum: the Chinese label, the English label, and the code."""
    vocab = {}
    for value in enum:
        for spelling in (value.value, _in_locale("en", LABELS[value]), _zh_label(value)):
            vocab[_norm(spelling)] = value.value
    return vocab


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", str(text)).lower()


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)


def parse_date(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for pattern in _DATE_PATTERNS:
        m = pattern.match(text)
        if m:
            try:
                return date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                return None
    return None


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # an employee number typed as a number
    return str(value).strip()


def match_headers(header_row, columns: tuple[Column, ...] = COLUMNS) -> tuple[dict[str, int], list[ImportIssue]]:
    """Map column keys to 0-based indexes; report unknown, duplicated and missing headers. A header may be written
    in Chinese, in English or as the key."""
    aliases = {}
    for col in columns:
        aliases[_norm(col.header_zh)] = col
        aliases[_norm(_in_locale("en", col.label))] = col
        aliases[_norm(col.key)] = col
    positions: dict[str, int] = {}
    issues = []
    for idx, raw in enumerate(header_row):
        text = _cell_text(raw)
        if not text:
            continue
        letter = get_column_letter(idx + 1)
        col = aliases.get(_norm(text))
        if col is None:
            issues.append(ImportIssue(1, letter, text, _("Unknown column header.")))
        elif col.key in positions:
            issues.append(ImportIssue(1, letter, text, _("This column appears twice.")))
        else:
            positions[col.key] = idx
    for col in columns:
        if col.required and col.key not in positions:
            issues.append(ImportIssue(1, None, None, _("The required column “%(h)s” is missing.", h=col.header_zh)))
    return positions, issues


def _unit_lookup() -> tuple[dict[str, Unit], dict[str, list[Unit]]]:
    units = list(db.session.scalars(select(Unit).where(Unit.is_active.is_(True))))
    by_code = {_norm(u.code): u for u in units}
    by_name: dict[str, list[Unit]] = {}
    for u in units:
        by_name.setdefault(_norm(u.name), []).append(u)
    return by_code, by_name


def parse_cadre_workbook(stream, actor, today: date) -> ImportResult:
    """Read and validate an uploaded workbook; writes nothing. Every problem is reported with row and column."""
    result = ImportResult()
    rows, result.issues = read_uploaded_sheet(stream.read(), MAX_ROWS)
    if result.issues:
        return result
    if not rows:
        result.issues.append(ImportIssue(None, None, None, _("The workbook is empty.")))
        return result
    positions, issues = match_headers(rows[0][1])
    result.issues.extend(issues)
    if issues:
        return result
    _validate_rows(rows[1:], positions, actor, today, result)
    if not result.rows and not result.issues:
        result.issues.append(ImportIssue(None, None, None, _("The workbook has no cadre rows.")))
    return result


def _validate_rows(rows, positions, actor, today, result: ImportResult) -> None:
    by_code, by_name = _unit_lookup()
    vocab = {key: enum_vocabulary(enum) for key, enum in ENUM_COLUMNS.items()}
    columns = {c.key: c for c in COLUMNS}
    seen_numbers: dict[str, int] = {}  # lower-cased number -> first row
    spelled: dict[str, str] = {}  # lower-cased number -> as written
    parsed: list[tuple[int, dict]] = []

    for row_no, values in rows:
        values = tuple(values or ())
        cells = {key: (values[idx] if idx < len(values) else None) for key, idx in positions.items()}
        if all(_cell_text(v) == "" for v in cells.values()):
            continue
        row_issues = len(result.issues)

        def problem(key: str, message: str, row_no=row_no) -> None:
            col = columns[key]
            letter = get_column_letter(positions[key] + 1)
            result.issues.append(ImportIssue(row_no, letter, col.header_zh, message))

        fields: dict = {}
        for key in positions:
            col = columns[key]
            raw = cells[key]
            text = _cell_text(raw)
            if col.required and text == "":
                problem(key, _("This cell is required."))
                continue
            if key == "birth_date":
                fields[key] = parse_date(raw) if text else None
                if fields[key] is None:
                    problem(key, _("“%(v)s” is not a date; write it as 1990-05-01.", v=text))
            elif key == "unit":
                unit = by_code.get(_norm(text))
                if unit is None:
                    candidates = by_name.get(_norm(text), [])
                    if len(candidates) > 1:
                        problem(key, _("Several units are named “%(v)s”; use the unit code.", v=text))
                        continue
                    unit = candidates[0] if candidates else None
                if unit is None:
                    problem(key, _("Unknown unit “%(v)s”.", v=text))
                elif not can(actor, "cadre.manage", unit):
                    problem(key, _("The unit “%(v)s” is outside your scope.", v=text))
                else:
                    fields[key] = unit
            elif key in ENUM_COLUMNS:
                value = vocab[key].get(_norm(text))
                if value is None:
                    allowed = "、".join(_zh_label(v) for v in ENUM_COLUMNS[key])
                    problem(key, _("“%(v)s” is not allowed here; use one of: %(allowed)s.", v=text, allowed=allowed))
                fields[key] = value
            else:
                fields[key] = text

        number = fields.get("employee_number")
        if number:
            first = seen_numbers.get(number.lower())
            if first:
                problem("employee_number", _("Employee number %(n)s also appears in row %(r)d.", n=number, r=first))
            else:
                seen_numbers[number.lower()] = row_no
                spelled[number.lower()] = number
        if len(result.issues) == row_issues:
            parsed.append((row_no, fields))

    # Numbers already in the system are reported on every row that has one, even rows with other problems.
    existing = _existing_numbers(list(seen_numbers))
    number_col = get_column_letter(positions["employee_number"] + 1)
    for key, row_no in seen_numbers.items():
        if key in existing:
            message = _("Employee number %(n)s already exists in the system.", n=spelled[key])
            result.issues.append(ImportIssue(row_no, number_col, columns["employee_number"].header_zh, message))
    for row_no, fields in parsed:
        number = fields["employee_number"]
        if number.lower() in existing:
            continue
        data = CadreData(
            employee_number=number,
            name=fields["name"],
            gender=fields["gender"],
            birth_date=fields["birth_date"],
            unit=fields["unit"],
            rank=fields["rank"],
            position=fields.get("position", ""),
            education=fields["education"],
            political_status=fields["political_status"],
            phone=fields.get("phone", ""),
            status=CadreStatus.SERVING,
        )
        for message in cadre_data_problems(data, today):
            result.issues.append(ImportIssue(row_no, None, None, message))
        result.rows.append(ImportRow(row_no, data))
    result.issues.sort(key=ImportIssue.sort_key)


def _existing_numbers(numbers: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(numbers), 500):
        chunk = numbers[start : start + 500]
        found.update(db.session.scalars(select(func.lower(User.username)).where(func.lower(User.username).in_(chunk))))
    return found


@dataclass
class Credential:
    employee_number: str
    name: str
    unit: str
    password: str


def commit_cadre_import(actor, result: ImportResult, now: datetime, progress=None) -> list[Credential]:
    """Create every cadre of a clean import, or nothing: any problem raises before the caller commits.
    `progress(n)` is told of each row done (a job's progress bar)."""
    if not result.ok:
        raise DomainError(_("The file has errors; nothing was imported."), code="import_invalid")
    created = create_cadres(actor, [row.data for row in result.rows], now, progress)
    credentials = [Credential(c.employee_number, c.name, c.unit.name, password) for c, password in created]
    audit.record("cadre.import", actor=actor, detail={"count": len(credentials)}, at=now)
    return credentials


# ---------------------------------------------------------------- workbooks we hand out


def build_template(actor) -> bytes:
    """The import template: Chinese headers, an example row, drop-down lists, and a sheet of units and values."""
    wb = Workbook()
    ws = wb.active
    ws.title = "干部信息"
    ws.append([c.header_zh for c in COLUMNS])
    style_header(ws, [12, 10, 8, 14, 28, 14, 20, 18, 16, 16])
    ref = wb.create_sheet("填写说明")
    ref.append(["单位代码", "单位名称", "上级单位"])
    units = units_in_scope(actor)
    for u in units:
        append_row(ref, [u.code, u.name, u.parent.name if u.parent else ""])
    style_header(ref, [14, 30, 30])

    lists_col = 5
    for key, enum in ENUM_COLUMNS.items():
        labels = [_zh_label(v) for v in enum]
        letter = get_column_letter(lists_col)
        ref.cell(row=1, column=lists_col, value=next(c.header_zh for c in COLUMNS if c.key == key)).font = HEADER_FONT
        for i, text in enumerate(labels, start=2):
            ref.cell(row=i, column=lists_col, value=text)
        ref.column_dimensions[letter].width = 18
        target = get_column_letter([c.key for c in COLUMNS].index(key) + 1)
        dv = DataValidation(
            type="list", formula1=f"'填写说明'!${letter}$2:${letter}${len(labels) + 1}", allow_blank=True
        )
        dv.add(f"{target}2:{target}{MAX_ROWS + 1}")
        ws.add_data_validation(dv)
        lists_col += 1
    if units:
        unit_col = get_column_letter([c.key for c in COLUMNS].index("unit") + 1)
        dv = DataValidation(type="list", formula1=f"'填写说明'!$A$2:$A${len(units) + 1}", allow_blank=True)
        dv.showErrorMessage = False  # names are accepted too
        dv.add(f"{unit_col}2:{unit_col}{MAX_ROWS + 1}")
        ws.add_data_validation(dv)
    date_col = get_column_letter([c.key for c in COLUMNS].index("birth_date") + 1)
    for row in range(2, 202):
        ws[f"{date_col}{row}"].number_format = "yyyy-mm-dd"
    for key in ("employee_number", "phone"):
        letter = get_column_letter([c.key for c in COLUMNS].index(key) + 1)
        for row in range(2, 202):
            ws[f"{letter}{row}"].number_format = "@"  # keep leading zeros
    ref.cell(row=len(units) + 3, column=1, value="单位一栏填写单位代码或单位全称；出生日期格式如 1990-05-01。")
    return to_bytes(wb)


def build_credentials_workbook(credentials: list[Credential]) -> bytes:
    wb, ws = new_workbook("初始密码", ["工号", "姓名", "单位", "初始密码"], [14, 12, 30, 16])
    for c in credentials:
        append_row(ws, [c.employee_number, c.name, c.unit, c.password])
    return to_bytes(wb)
