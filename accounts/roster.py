"""The cadre roster as a workbook (干部名册): the profiles the viewer sees, in the columns of the import template.

ID and phone numbers are left out, unless the exporter asks for them with a reason: then each is written in full
where the exporter keeps the profile (accounts.personal.may_reveal), masked elsewhere, and the export is audited
with its reason. Every export is audited (how many profiles, whether with the numbers)."""

from datetime import datetime

from flask_babel import gettext as _

from accounts import personal
from accounts.importing import COLUMNS, _zh_label
from accounts.models import Cadre
from core import audit
from core.errors import DomainError
from core.spreadsheets import StreamedWorkbook

REASON_MIN, REASON_MAX = 4, 500


def check_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        message = _("Say why the ID and phone numbers are needed (%(a)d to %(b)d characters).", a=REASON_MIN,
                    b=REASON_MAX)  # fmt: skip
        raise DomainError(message, code="reason_required", problems=(("reason", message),))
    return reason


def build_roster(actor, cadres: list[Cadre], *, personal_reason: str | None, now: datetime) -> bytes:
    """The workbook; `personal_reason` (checked) adds the ID and phone numbers. Audited."""
    with_numbers = personal_reason is not None
    reason = check_reason(personal_reason) if with_numbers else None
    headers = [c.header_zh for c in COLUMNS if c.key != "phone"] + ["单位代码", "状态"]
    if with_numbers:
        headers += ["身份证号", "手机号码"]
    book = StreamedWorkbook()
    # ID and phone numbers as text: a spreadsheet would turn 18 digits into a rounded number.
    text = {len(headers) - 1: "@", len(headers): "@"} if with_numbers else {}
    sheet = book.sheet("干部名册", headers, [12, 10, 6, 12, 28, 14, 24, 16, 14, 12, 8, 20, 14],
                       {4: "yyyy-mm-dd", **text})  # fmt: skip
    for c in cadres:
        row = [c.employee_number, c.name, _zh_label(c.gender), c.birth_date, c.unit.name, _zh_label(c.rank),
               c.position, _zh_label(c.education), _zh_label(c.political_status), c.unit.code,
               _zh_label(c.status)]  # fmt: skip
        if with_numbers:
            full = personal.may_reveal(actor, c)
            row += [(c.id_number or "") if full else personal.mask_id_number(c.id_number),
                    (c.phone or "") if full else personal.mask_phone(c.phone)]  # fmt: skip
        sheet.append(row)
    detail = {"count": len(cadres), "personal": with_numbers}
    if reason:
        detail["reason"] = reason
    audit.record("cadre.exported", actor=actor, detail=detail, at=now)
    return book.to_bytes()
