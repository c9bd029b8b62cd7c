"""Each cadre's figures per year (`CadreYear`): hours, reading notes passed, the newest assessment. Every service
that changes one of them calls `refresh` in the same transaction; `rebuild` recomputes them all (a repair, and
the test that the kept figures equal a fresh count)."""

from sqlalchemy import delete, func, select

from archive.models import (
    AnnualAssessment,
    ArchiveEntry,
    CadreYear,
    EntryStatus,
    ReadingBook,
    ReadingNote,
    ReviewStatus,
)
from core.extensions import db


def compute(user_id: int, year: int) -> dict:
    hours = db.session.scalar(
        select(func.coalesce(func.sum(ArchiveEntry.hours), 0))
        .where(ArchiveEntry.user_id == user_id, ArchiveEntry.year == year, ArchiveEntry.deleted_at.is_(None),
               ArchiveEntry.status == EntryStatus.ACCEPTED, ArchiveEntry.hour_kind.isnot(None))
    )  # fmt: skip
    notes = db.session.scalar(
        select(func.count(func.distinct(ReadingNote.book_id))).join(ReadingBook)
        .where(ReadingNote.user_id == user_id, ReadingBook.year == year, ReadingBook.withdrawn_at.is_(None),
               ReadingNote.status == ReviewStatus.ACCEPTED)
    )  # fmt: skip
    newest = db.session.scalar(
        select(AnnualAssessment).where(AnnualAssessment.user_id == user_id, AnnualAssessment.year == year)
        .order_by(AnnualAssessment.version.desc()).limit(1)
    )  # fmt: skip
    return {"hours": float(hours or 0), "notes_passed": notes or 0, "grade": newest.grade if newest else None,
            "acknowledged": bool(newest and newest.acknowledged_at)}  # fmt: skip


def refresh(user_id: int, *years: int) -> None:
    """Recompute the cadre's figures for these years (after a change to their records, notes or assessment)."""
    db.session.flush()
    for year in set(years):
        row = db.session.get(CadreYear, (year, user_id))
        if row is None:
            row = CadreYear(year=year, user_id=user_id)
            db.session.add(row)
        for name, value in compute(user_id, year).items():
            setattr(row, name, value)
    db.session.flush()


def refresh_book(book: ReadingBook) -> None:
    """After a book leaves the list: everyone whose note on it passed counts one book fewer."""
    users = db.session.scalars(select(ReadingNote.user_id).where(ReadingNote.book_id == book.id).distinct())
    for user_id in list(users):
        refresh(user_id, book.year)


def rebuild() -> int:
    """Recompute every cadre's figures for every year that has anything; returns the number of rows."""
    db.session.execute(delete(CadreYear))
    pairs = set(db.session.execute(select(ArchiveEntry.user_id, ArchiveEntry.year).distinct()).all())
    pairs |= set(db.session.execute(
        select(ReadingNote.user_id, ReadingBook.year).join(ReadingBook).distinct()).all())  # fmt: skip
    pairs |= set(db.session.execute(select(AnnualAssessment.user_id, AnnualAssessment.year).distinct()).all())
    for user_id, year in pairs:
        db.session.add(CadreYear(year=year, user_id=user_id, **compute(user_id, year)))
    db.session.flush()
    return len(pairs)
