"""What reports keep per exam, each with a fingerprint of the results it was computed from, so that pages read it
at once and know when it is out of date (a new result, a grader's points, a key correction): the ranking, and
the item analysis (computed from every counted attempt's answers in one pass of SQL aggregates)."""

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, Numeric, String, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.models import UTCDateTime


class ExamAnalysis(db.Model):
    __tablename__ = "exam_analyses"

    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), primary_key=True)
    #: reports.items.fingerprint() of the results when the analysis was computed.
    fingerprint: Mapped[str] = mapped_column(String(200))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: How many counted attempts (one per candidate, fully graded) it covers.
    attempts: Mapped[int] = mapped_column(Integer)
    #: {"items": [...], "sections": [...], "categories": [...], "reliability": {...}} (see reports.items).
    data: Mapped[dict] = mapped_column(JSON)


class RankSet(db.Model):
    """The kept ranking of an exam: its rows (RankEntry) are computed in one INSERT … SELECT with window functions
    and kept with a fingerprint of the results; pages read them by index and recompute them when the results
    changed (reports.ranking.kept_ranks)."""

    __tablename__ = "exam_rank_sets"

    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(200), default="")
    computed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ranked: Mapped[int] = mapped_column(Integer, default=0)


class RankEntry(db.Model):
    """One ranked candidate of an exam: their counted attempt, its rank (standard competition ranking) and how
    many share it."""

    __tablename__ = "exam_ranks"
    __table_args__ = (Index("ix_exam_ranks_exam_rank", "exam_id", "rank"),
                      Index("ix_exam_ranks_exam_user", "exam_id", "user_id"))  # fmt: skip

    #: The attempt and the candidate, without foreign keys: checking 200,000 of them doubled the time to rank
    #: 100,000 candidates. The rows go with their exam; a deleted attempt or account changes the results'
    #: fingerprint, so the next read ranks again (and pages join the account, so a deleted one never shows).
    attempt_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(Integer)
    rank: Mapped[int] = mapped_column(Integer)
    tied: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Numeric(7, 2, asdecimal=False))
    passed: Mapped[bool | None] = mapped_column(Boolean)
    #: Whole seconds used, and the submission as whole seconds since 1970 (the ordering's second and third keys).
    seconds: Mapped[int] = mapped_column(Integer)
    submitted: Mapped[int] = mapped_column(BigInteger)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)


def locked(model, exam_id: int, **defaults):
    """The kept row of `model` for an exam, created if missing and locked for the rest of the transaction (on
    PostgreSQL; SQLite lets one writer at a time anyway), so that two requests never recompute it at once."""
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    db.session.execute(insert(model).values(exam_id=exam_id, **defaults).on_conflict_do_nothing())
    return db.session.scalar(
        select(model).where(model.exam_id == exam_id).with_for_update().execution_options(populate_existing=True)
    )
