"""Audit targets of this package ("kind:key") named for the audit page, in bulk (see core.audit_labels)."""

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from accounts.models import User
from archive import models
from core.audit_labels import TargetView, int_keys, register_detail_value, register_targets
from core.extensions import db
from core.i18n import join_list


@register_targets("class")
def _audit_classes(keys):
    """Audit targets "class:CODE": the training class's name, linking to the class."""
    TrainingClass = models.TrainingClass
    rows = db.session.execute(select(TrainingClass.code, TrainingClass.name).where(TrainingClass.code.in_(keys)))
    return {r.code: TargetView(r.name, url_for("archive.class_detail", code=r.code)) for r in rows}


@register_targets("book")
def _audit_books(keys):
    """Audit targets "book:ID": the required book's title."""
    Book = models.ReadingBook
    rows = db.session.execute(select(Book.id, Book.title).where(Book.id.in_(int_keys(keys))))
    return {str(r.id): TargetView(_("Book: %(title)s", title=r.title), url_for("archive.reading_list")) for r in rows}


@register_targets("note")
def _audit_notes(keys):
    """Audit targets "note:ID": whose reading note on which book."""
    Note, Book = models.ReadingNote, models.ReadingBook
    query = select(Note.id, Book.title, User.name).join(Book, Book.id == Note.book_id)
    rows = db.session.execute(query.join(User, User.id == Note.user_id).where(Note.id.in_(int_keys(keys))))
    return {str(r.id): TargetView(_("%(name)s's note on %(title)s", name=r.name, title=r.title)) for r in rows}


# ---------------------------------------------------------------- detail values in words

_SOURCES = {"hand": _l("added by hand"), "rules": _l("by the class's rules"), "xlsx": _l("from a spreadsheet")}


@register_detail_value("archive.assessed", "grade")
def _audit_grade(value):
    return models.label(value)


@register_detail_value("reading.reviewed", "status")
def _audit_note_status(value):
    return models.review_label(value)


@register_detail_value("training.enrolled", "source")
def _audit_source(value):
    return str(_SOURCES.get(value, value))


@register_detail_value("training.attendance", "changes")
def _audit_attendance(changes):
    """[{user, old, new}] with old/new as (attendance, hours, completion, comment): who, and what became what."""
    ids = int_keys(str(c.get("user")) for c in changes if isinstance(c, dict))
    names = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all()) if ids else {}

    def state(row):
        attendance, hours, completion, comment = (list(row or []) + [None] * 4)[:4]
        parts = [models.label(attendance), str(models.COMPLETION_LABELS.get(completion, completion or ""))]
        if isinstance(hours, int | float):
            parts.append(_("%(h)s hours", h=f"{hours:g}"))
        return join_list(p for p in [*parts, comment] if p)

    return "; ".join(
        _("%(name)s: %(old)s → %(new)s", name=names.get(c.get("user"), c.get("user")), old=state(c.get("old")),
          new=state(c.get("new")))
        for c in changes if isinstance(c, dict)
    )  # fmt: skip
