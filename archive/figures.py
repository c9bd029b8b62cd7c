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
    return compute_many([(user_id, year)])[(user_id, year)]


def compute_many(pairs) -> dict[tuple[int, int], dict]:
    """The figures of many (user, year) pairs at once: a few grouped queries per 500 users, whatever the count."""
    pairs = set(pairs)
    found = {pair: {"hours": 0.0, "notes_passed": 0, "grade": None, "acknowledged": False} for pair in pairs}
    users = sorted({u for u, _y in pairs})
    years = sorted({y for _u, y in pairs})
    for start in range(0, len(users), 500):
        chunk = users[start : start + 500]
        hours = db.session.execute(
            select(ArchiveEntry.user_id, ArchiveEntry.year, func.coalesce(func.sum(ArchiveEntry.hours), 0))
            .where(ArchiveEntry.user_id.in_(chunk), ArchiveEntry.year.in_(years), ArchiveEntry.deleted_at.is_(None),
                   ArchiveEntry.status == EntryStatus.ACCEPTED, ArchiveEntry.hour_kind.isnot(None))
            .group_by(ArchiveEntry.user_id, ArchiveEntry.year)
        )  # fmt: skip
        for user_id, year, total in hours:
            if (user_id, year) in found:
                found[(user_id, year)]["hours"] = float(total or 0)
        notes = db.session.execute(
            select(ReadingNote.user_id, ReadingBook.year, func.count(func.distinct(ReadingNote.book_id)))
            .join(ReadingBook)
            .where(ReadingNote.user_id.in_(chunk), ReadingBook.year.in_(years), ReadingBook.withdrawn_at.is_(None),
                   ReadingNote.status == ReviewStatus.ACCEPTED)
            .group_by(ReadingNote.user_id, ReadingBook.year)
        )  # fmt: skip
        for user_id, year, count in notes:
            if (user_id, year) in found:
                found[(user_id, year)]["notes_passed"] = count or 0
        newest = db.session.execute(
            select(AnnualAssessment.user_id, AnnualAssessment.year, AnnualAssessment.grade,
                   AnnualAssessment.acknowledged_at)
            .where(AnnualAssessment.user_id.in_(chunk), AnnualAssessment.year.in_(years))
            .order_by(AnnualAssessment.user_id, AnnualAssessment.year, AnnualAssessment.version.desc())
        )  # fmt: skip
        seen = set()
        for user_id, year, grade, acknowledged_at in newest:
            if (user_id, year) in found and (user_id, year) not in seen:
                seen.add((user_id, year))
                found[(user_id, year)].update(grade=grade, acknowledged=acknowledged_at is not None)
    return found


def refresh(user_id: int, *years: int) -> None:
    """Recompute the cadre's figures for these years (after a change to their records, notes or assessment)."""
    refresh_many([(user_id, year) for year in years])


def refresh_many(pairs) -> None:
    """Recompute the figures of many (user, year) pairs (a batch import's), in a few statements per 500 users."""
    pairs = set(pairs)
    if not pairs:
        return
    db.session.flush()
    figures = compute_many(pairs)
    users = sorted({u for u, _y in pairs})
    years = sorted({y for _u, y in pairs})
    rows = {}
    for start in range(0, len(users), 500):
        query = select(CadreYear).where(CadreYear.user_id.in_(users[start : start + 500]), CadreYear.year.in_(years))
        rows.update({(r.user_id, r.year): r for r in db.session.scalars(query)})
    for user_id, year in pairs:
        row = rows.get((user_id, year))
        if row is None:
            row = CadreYear(year=year, user_id=user_id)
            db.session.add(row)
        for name, value in figures[(user_id, year)].items():
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
    for (user_id, year), values in compute_many(pairs).items():
        db.session.add(CadreYear(year=year, user_id=user_id, **values))
    db.session.flush()
    return len(pairs)
