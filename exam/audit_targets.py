"""Audit targets of this package ("kind:key") named for the audit page, in bulk (see core.audit_labels)."""

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import User
from core.audit_labels import TargetView, int_keys, register_detail_value, register_targets
from core.extensions import db
from exam import models
from question_bank.types import QUESTION_TYPES


@register_targets("exam")
def _audit_exams(keys):
    """Audit targets "exam:CODE": the exam's title, linking to the exam."""
    rows = db.session.execute(select(models.Exam.code, models.Exam.title).where(models.Exam.code.in_(keys)))
    return {r.code: TargetView(r.title, url_for("exam.exam", code=r.code)) for r in rows}


@register_targets("attempt")
def _audit_attempts(keys):
    """Audit targets "attempt:ID": whose attempt at which exam, linking to the attempt."""
    Attempt, Exam = models.Attempt, models.Exam
    query = select(Attempt.id, Attempt.number, Exam.code, Exam.title, User.name)
    query = query.join(Exam, Exam.id == Attempt.exam_id).join(User, User.id == Attempt.user_id)
    rows = db.session.execute(query.where(Attempt.id.in_(int_keys(keys))))
    return {
        str(r.id): TargetView(
            _("%(name)s's attempt %(n)s at %(exam)s", name=r.name, n=r.number, exam=r.title),
            url_for("exam.attempt", code=r.code, attempt_id=r.id),
        )
        for r in rows
    }


@register_detail_value("exam.section_changed", "qtype")
def _audit_qtype(value):
    qtype = QUESTION_TYPES.get(value)
    return str(qtype.label) if qtype else str(value)


@register_detail_value("exam.access_code", "set")
def _audit_access_code(value):
    return _("Yes") if value else _("No")


@register_detail_value("exam.candidate", "included")
def _audit_included(value):
    return _("added") if value else _("removed")


@register_detail_value("exam.candidate", "user")
def _audit_candidate(value):
    user = db.session.get(User, value) if isinstance(value, int) else None
    return _("%(name)s (%(code)s)", name=user.name, code=user.username) if user else str(value)


# Marking at scale (exam.marking): the graders and roles of assignments, the chief grader, the kinds of marks.
def _person(value):
    user = db.session.get(User, value) if isinstance(value, int) else None
    return _("%(name)s (%(code)s)", name=user.name, code=user.username) if user else str(value)


for _action in ("marking.assigned", "marking.unassigned"):
    register_detail_value(_action, "user")(_person)
    register_detail_value(_action, "role")(lambda value: str(models.MARKING_ROLE_LABELS.get(value, value)))
for _key in ("old", "new"):
    register_detail_value("marking.chief_set", _key)(_person)
for _action in ("marking.plan_set", "marking.item_set"):
    register_detail_value(_action, "mode")(lambda value: str(models.MARKING_MODE_LABELS.get(value, value)))
for _action in ("answer.graded", "answer.marked"):
    register_detail_value(_action, "kind")(lambda value: str(models.MARK_KIND_LABELS.get(value, value)))


@register_detail_value("marking.plan_set", "created")
def _audit_plan_created(value):
    return _("Yes") if value else _("No")
