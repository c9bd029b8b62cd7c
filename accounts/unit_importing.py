"""Bulk import of units from .xlsx (`flask units import`): the template, all-or-nothing validation with a message
per row and column, the commit. A parent is named by its code or by its path of names ("区委/组织部"), and is a
unit already in the system or one on an earlier row."""

from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl.utils import get_column_letter
from sqlalchemy import select

from accounts.importing import Column, _cell_text, _norm, _zh_label, enum_vocabulary, match_headers
from accounts.models import Unit, UnitKind
from accounts.services import add_unit, find_units_by_name_path, unit_tree
from core import audit
from core.errors import DomainError
from core.extensions import db
from core.imports import ImportIssue
from core.spreadsheets import append_row, new_workbook, read_uploaded_sheet, to_bytes

#: A district has a few hundred units; a file ten times that is a mistake.
MAX_ROWS = 5000

COLUMNS = (
    Column("code", "单位代码", _l("Code")),
    Column("name", "单位名称", _l("Unit name")),
    Column("parent", "上级单位", _l("Parent unit"), required=False),
    Column("kind", "单位类型", _l("Kind"), required=False),
)


@dataclass
class UnitRow:
    """A unit to create. `parent` is a Unit in the system or the UnitRow of an earlier row."""

    row: int
    code: str
    name: str
    kind: str
    parent: "Unit | UnitRow | None"
    #: A stand-in id (negative) so rows and units form one tree while names are looked up.
    id: int = 0

    @property
    def parent_id(self):
        return self.parent.id if self.parent is not None else None


@dataclass
class UnitImportResult:
    rows: list[UnitRow] = field(default_factory=list)
    issues: list[ImportIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues and bool(self.rows)


def parse_unit_workbook(data: bytes) -> UnitImportResult:
    """Read and check an uploaded workbook of units; writes nothing. Every problem names its row and column."""
    result = UnitImportResult()
    rows, result.issues = read_uploaded_sheet(data, MAX_ROWS)
    if result.issues:
        return result
    if not rows:
        result.issues.append(ImportIssue(None, None, None, _("The workbook is empty.")))
        return result
    positions, result.issues = match_headers(rows[0][1], COLUMNS)
    if not result.issues:
        _check_rows(rows[1:], positions, result)
    if not result.rows and not result.issues:
        result.issues.append(ImportIssue(None, None, None, _("The workbook has no unit rows.")))
    result.issues.sort(key=ImportIssue.sort_key)
    return result


def _check_rows(rows, positions: dict[str, int], result: UnitImportResult) -> None:
    existing = list(db.session.scalars(select(Unit)))
    codes: dict[str, Unit | UnitRow] = {_norm(u.code): u for u in existing}
    tree: list = list(existing)  # units and the rows accepted so far, for paths of names
    kinds = enum_vocabulary(UnitKind)
    columns = {c.key: c for c in COLUMNS}
    for row_no, values in rows:
        values = tuple(values or ())
        cells = {key: _cell_text(values[idx] if idx < len(values) else None) for key, idx in positions.items()}
        if not any(cells.values()):
            continue
        before = len(result.issues)

        def problem(key: str, message: str, row_no=row_no) -> None:
            letter = get_column_letter(positions[key] + 1)
            result.issues.append(ImportIssue(row_no, letter, columns[key].header_zh, message))

        code, name = cells["code"], cells["name"]
        if not code:
            problem("code", _("This cell is required."))
        elif len(code) > 32:
            problem("code", _("At most %(n)d characters.", n=32))
        elif _norm(code) in codes:
            other = codes[_norm(code)]
            if isinstance(other, UnitRow):
                problem("code", _("The unit code %(code)s also appears in row %(r)d.", code=code, r=other.row))
            else:
                problem("code", _("The unit code %(code)s is already in use.", code=code))
        if not name:
            problem("name", _("This cell is required."))
        elif len(name) > 100:
            problem("name", _("At most %(n)d characters.", n=100))
        kind = UnitKind.OTHER.value
        if cells.get("kind"):
            kind = kinds.get(_norm(cells["kind"]))
            if kind is None:
                allowed = "、".join(_zh_label(k) for k in UnitKind)
                problem(
                    "kind", _("“%(v)s” is not allowed here; use one of: %(allowed)s.", v=cells["kind"], allowed=allowed)
                )
        parent = None
        if cells.get("parent"):
            parent = codes.get(_norm(cells["parent"]))
            if parent is None:
                found = find_units_by_name_path(tree, cells["parent"])
                if len(found) > 1:
                    problem("parent", _("Several units match “%(v)s”; use the unit code.", v=cells["parent"]))
                elif not found:
                    message = _(
                        "No unit in the system or on an earlier row has the code or path “%(v)s”.", v=cells["parent"]
                    )
                    problem("parent", message)
                else:
                    parent = found[0]
        if len(result.issues) == before:
            unit_row = UnitRow(row_no, code, name, kind, parent, id=-row_no)
            result.rows.append(unit_row)
            codes[_norm(code)] = unit_row
            tree.append(unit_row)


def commit_unit_import(actor, result: UnitImportResult, now: datetime, progress=None) -> list[Unit]:
    """Create every unit of a clean import, in file order (parents first), each audited; or nothing.
    `progress(n)` is told of each row done."""
    if not result.ok:
        raise DomainError(_("The file has errors; nothing was imported."), code="import_invalid")
    created: dict[int, Unit] = {}
    for row in result.rows:
        parent = created[row.parent.row] if isinstance(row.parent, UnitRow) else row.parent
        created[row.row] = add_unit(actor, row.code, row.name, row.kind, parent, now, sort_order=len(created))
        if progress:
            progress(1)
    audit.record("unit.import", actor=actor, detail={"count": len(created)}, at=now)
    return list(created.values())


def build_unit_template() -> bytes:
    """The import template: the headers on an empty first sheet; a second sheet says how to fill it and lists the
    units already in the system."""
    wb, ws = new_workbook("单位", [c.header_zh for c in COLUMNS], [14, 30, 30, 16])
    ref = wb.create_sheet("填写说明")
    append_row(ref, ["上级单位一栏填写单位代码，或自顶层起的单位名称路径（如 区委/组织部）；留空为顶层单位。"])
    append_row(
        ref,
        [
            "上级单位须已在系统中，或在本表更靠前的一行。单位类型可留空（其他）："
            + "、".join(_zh_label(k) for k in UnitKind)
        ],
    )
    append_row(ref, [])
    append_row(ref, ["单位代码", "单位名称", "上级单位（已有单位）"])
    for unit in unit_tree():
        append_row(ref, [unit.code, unit.name, unit.parent.code if unit.parent else ""])
    return to_bytes(wb)
