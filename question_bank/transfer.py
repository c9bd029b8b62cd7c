"""Reading question files and exporting questions, whatever the format."""

from pathlib import PurePath

from flask_babel import gettext as _
from sqlalchemy import select

from core.extensions import db
from core.imports import ImportIssue
from question_bank import services
from question_bank.formats import EXTENSIONS, MAX_FILE_BYTES, ImportResult, aiken, gift, table, warn_duplicates
from question_bank.models import Bank, Category, Question

FORMATS = tuple(EXTENSIONS)
_READERS = {"xlsx": table.read_xlsx, "csv": table.read_csv, "gift": gift.read, "aiken": aiken.read}
MIMETYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "gift": "text/plain; charset=utf-8",
    "aiken": "text/plain; charset=utf-8",
}


def guess_format(filename: str) -> str | None:
    suffix = PurePath(filename or "").suffix.lower()
    return {".xlsx": "xlsx", ".csv": "csv", ".gift": "gift", ".aiken": "aiken"}.get(suffix)


def read_file(fmt: str, data: bytes, bank: Bank | None) -> ImportResult:
    """Parse and check a file; with a bank, also warn of likely duplicates. Writes nothing."""
    if len(data) > MAX_FILE_BYTES:
        result = ImportResult()
        result.issues.append(ImportIssue(None, None, None, _("The file is too large.")))
        return result
    result = _READERS[fmt](data)
    if result.ok:
        warn_duplicates(bank, result)
    return result


def export_items(questions: list[Question]):
    """(question, current version, category path) for every question, with categories loaded once."""
    bank_ids = {q.bank_id for q in questions}
    by_id = {c.id: c for c in db.session.scalars(select(Category).where(Category.bank_id.in_(bank_ids)))}
    return [(q, q.current_version, services.category_path_names(q.category, by_id)) for q in questions]


def export_questions(questions: list[Question], fmt: str) -> tuple[bytes, list[str], int]:
    """The file, the list of what it could not hold (never silently dropped), and how many questions it holds."""
    items = export_items(questions)
    if fmt in ("xlsx", "csv"):
        rows = [table.question_row(q, v, path) for q, v, path in items]
        return (table.write_xlsx(rows) if fmt == "xlsx" else table.write_csv(rows)), [], len(rows)
    text, skipped, written = (gift.write if fmt == "gift" else aiken.write)(items)
    return text.encode("utf-8"), skipped, written
