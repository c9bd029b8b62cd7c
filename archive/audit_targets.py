"""Audit targets of this package ("kind:key") named for the audit page, in bulk (see core.audit_labels)."""

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import User
from archive import models
from core.audit_labels import TargetView, int_keys, register_targets
from core.extensions import db


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
