"""Required reading (年内必读书目): the department sets each year's list; cadres submit a reading note per book;
reviewers of their unit pass or fail each note with a comment. A resubmission is a new version; the newest counts."""

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select

from accounts.models import Cadre
from archive import figures, records
from archive.models import ReadingBook, ReadingNote, ReviewStatus
from core import audit
from core.errors import DomainError
from core.extensions import db
from core.policy import can, is_archive_owner

MAX_NOTE_CHARS = 20000


def books_of(year: int) -> list[ReadingBook]:
    return list(db.session.scalars(
        select(ReadingBook).where(ReadingBook.year == year, ReadingBook.withdrawn_at.is_(None))
        .order_by(ReadingBook.position, ReadingBook.id)
    ))  # fmt: skip


def add_book(actor, year: int, title: str, author: str, note: str, min_chars, now: datetime) -> ReadingBook:
    records.check_open(year)
    title, author, note = (title or "").strip(), (author or "").strip(), (note or "").strip()
    problems = []
    if not 0 < len(title) <= 200:
        problems.append(("title", _("Required, at most %(n)d characters.", n=200)))
    if len(author) > 200:
        problems.append(("author", _("At most %(n)d characters.", n=200)))
    if len(note) > 500:
        problems.append(("note", _("At most %(n)d characters.", n=500)))
    if not isinstance(min_chars, int) or isinstance(min_chars, bool) or not 0 <= min_chars <= 5000:
        problems.append(("min_chars", _("0 to 5,000 characters.")))
    if problems:
        raise DomainError(" ".join(m for _f, m in problems), code="bad_book", problems=problems)
    position = (db.session.scalar(select(func.max(ReadingBook.position)).where(ReadingBook.year == year)) or 0) + 1
    book = ReadingBook(year=year, position=position, title=title, author=author, note=note, min_chars=min_chars,
                       created_at=now)  # fmt: skip
    db.session.add(book)
    db.session.flush()
    audit.record("reading.book_added", actor=actor, target=f"book:{book.id}", detail={"year": year, "title": title},
                 at=now)  # fmt: skip
    return book


def withdraw_book(actor, book: ReadingBook, now: datetime) -> None:
    """Take a book off the list (its notes stay in the archives, but no longer count)."""
    records.check_open(book.year)
    book.withdrawn_at = now
    audit.record("reading.book_withdrawn", actor=actor, target=f"book:{book.id}", at=now)
    figures.refresh_book(book)


def latest_note(book_id: int, user_id: int) -> ReadingNote | None:
    return db.session.scalar(
        select(ReadingNote).where(ReadingNote.book_id == book_id, ReadingNote.user_id == user_id)
        .order_by(ReadingNote.version.desc()).limit(1)
    )  # fmt: skip


def note_length(body: str) -> int:
    """Characters that count towards a note's length: everything but white space."""
    return sum(1 for ch in body if not ch.isspace())


def submit_note(user, cadre: Cadre, book: ReadingBook, body: str, now: datetime) -> ReadingNote:
    """The cadre's note on a book of the list: a new version, waiting for a reviewer. Refused once a note passed."""
    if not is_archive_owner(user, cadre):
        raise DomainError(_("Only the cadre writes their reading notes."), code="forbidden", status=403)
    if book.withdrawn_at is not None:
        raise DomainError(_("This book is no longer on the list."), code="withdrawn")
    records.check_open(book.year)
    body = (body or "").strip()
    if note_length(body) < book.min_chars:
        message = _("The note needs at least %(n)d characters (it has %(m)d).", n=book.min_chars, m=note_length(body))
        raise DomainError(message, code="too_short", problems=[("body", message)])
    if len(body) > MAX_NOTE_CHARS:
        message = _("The note is at most %(n)d characters.", n=MAX_NOTE_CHARS)
        raise DomainError(message, code="too_long", problems=[("body", message)])
    previous = latest_note(book.id, cadre.user_id)
    if previous is not None and previous.status == ReviewStatus.ACCEPTED:
        raise DomainError(_("Your note on this book has passed already."), code="accepted")
    note = ReadingNote(book_id=book.id, user_id=cadre.user_id, version=(previous.version + 1) if previous else 1,
                       body=body, submitted_at=now, status=ReviewStatus.PENDING)  # fmt: skip
    db.session.add(note)
    db.session.flush()
    return note


def review_note(actor, note: ReadingNote, cadre: Cadre, accept: bool, comment: str, now: datetime) -> ReadingNote:
    """Pass (合格) or fail (不合格) the newest version of a note; a fail needs a comment. Nobody reviews their own."""
    if not can(actor, "archive.manage", cadre) or is_archive_owner(actor, cadre):
        raise DomainError(_("You may not review this note."), code="forbidden", status=403)
    records.check_open(note.book.year)
    if note.status != ReviewStatus.PENDING:
        raise DomainError(_("This note is not waiting for review."), code="not_pending")
    latest = latest_note(note.book_id, note.user_id)
    if latest.id != note.id:
        raise DomainError(_("A newer version of this note was submitted; review that one."), code="superseded")
    comment = (comment or "").strip()
    if not accept and not comment:
        message = _("Say what is missing (the cadre reads the comment).")
        raise DomainError(message, code="comment_required", problems=[("comment", message)])
    if len(comment) > 1000:
        raise DomainError(_("At most %(n)d characters.", n=1000), code="bad_comment")
    note.status = ReviewStatus.ACCEPTED if accept else ReviewStatus.REJECTED
    note.reviewer_id, note.reviewed_at, note.review_comment = actor.id, now, comment
    audit.record("reading.reviewed", actor=actor, target=f"note:{note.id}", detail={"status": note.status}, at=now)
    figures.refresh(note.user_id, note.book.year)
    return note


def notes_of(user_id: int, year: int) -> dict[int, list[ReadingNote]]:
    """{book id: the cadre's notes on it, newest first} for a year's books."""
    notes: dict[int, list[ReadingNote]] = {}
    for note in db.session.scalars(
        select(ReadingNote).join(ReadingBook).where(ReadingNote.user_id == user_id, ReadingBook.year == year)
        .order_by(ReadingNote.version.desc())
    ):  # fmt: skip
        notes.setdefault(note.book_id, []).append(note)
    return notes
