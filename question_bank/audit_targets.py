"""Audit targets of this package ("kind:key") named for the audit page, in bulk (see core.audit_labels)."""

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select

from core.audit_labels import TargetView, int_keys, register_targets
from core.extensions import db
from question_bank.models import Bank, Question


@register_targets("bank")
def _audit_banks(keys):
    """Audit targets "bank:CODE": the bank's name, linking to the bank."""
    rows = db.session.execute(select(Bank.code, Bank.name).where(Bank.code.in_(keys)))
    return {r.code: TargetView(r.name, url_for("question_bank.bank", code=r.code)) for r in rows}


@register_targets("question")
def _audit_questions(keys):
    """Audit targets "question:ID": the question's number and its bank, linking to the question."""
    query = select(Question.id, Bank.name).join(Bank, Bank.id == Question.bank_id)
    rows = db.session.execute(query.where(Question.id.in_(int_keys(keys))))
    return {
        str(r.id): TargetView(
            _("Question %(id)s (%(bank)s)", id=r.id, bank=r.name), url_for("question_bank.question", question_id=r.id)
        )
        for r in rows
    }
