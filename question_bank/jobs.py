"""The question banks' long work on the job engine: large question imports (from the page and the command line).

As the accounts' imports (accounts.jobs): the starter's stored upload, checked again against the bank as it is now,
every question written or none in the job's one transaction.
"""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from accounts.jobs import counter, speaking, stored_upload
from core.errors import DomainError
from core.extensions import db
from core.imports import issues_text
from core.models import now_utc
from core.policy import can, has_district_scope
from core.web import path_for
from jobs import JobError, register
from jobs import files as stored_files
from question_bank import formats, transfer
from question_bank.models import Bank, QuestionStatus

QUESTION_IMPORT = "question_bank.import-questions"


def upload_name(bank: Bank, fmt: str) -> str:
    """The stored upload's name ties it to its bank and format: "BANKCODE.fmt"."""
    return f"{bank.code}.{fmt}"


def upload_format(stored, bank: Bank) -> str | None:
    """The format of an upload waiting for `bank`, or None when it was uploaded for another bank."""
    code, _dot, fmt = stored.name.rpartition(".")
    return fmt if code == bank.code and fmt in transfer.FORMATS else None


@register(QUESTION_IMPORT, _l("Question import"), cancellable=True)
def _import_questions(ctx):
    actor = ctx.job.created_by
    with speaking(actor):
        bank = db.session.scalar(select(Bank).where(Bank.code == ctx.params.get("bank")))
        if bank is None:
            raise JobError(_("The question bank no longer exists."))
        if actor is None or not can(actor, "bank.manage", bank):
            raise JobError(_("You may no longer manage this question bank."))
        stored = stored_upload(ctx)
        fmt = upload_format(stored, bank)
        if fmt is None:
            raise JobError(_("The uploaded file is no longer there (it expired). Please upload it again."))
        result = transfer.read_file(fmt, stored.data, bank)
        if not result.ok:
            raise JobError(issues_text(result.issues))
        status = QuestionStatus(ctx.params.get("status", "draft"))
        if status == QuestionStatus.ACTIVE and not has_district_scope(actor):
            raise JobError(_("Only the district's administrators may import questions straight into use."))
        try:
            count = formats.commit(
                actor, bank, result, now_utc(), status=status, progress=counter(ctx, len(result.questions))
            )
        except DomainError as exc:
            raise JobError(str(exc.message)) from exc
        stored_files.discard(stored)
        message = _("%(n)d question(s) imported.", n=count)
        return {"message": message, "url": path_for("question_bank.bank", code=bank.code), "count": count}
