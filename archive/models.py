"""Records of a cadre's learning archive. So far: exam results, written by the exam engine and by nobody else."""

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from core.extensions import db
from core.models import UTCDateTime


class ExamResultRecord(db.Model):
    """One ended attempt at an exam, as the archive keeps it.

    The exam's title, subject and marks are copied at the time, so the record stays true if the exam is later
    renamed. The engine rewrites a record when the attempt is graded again (essays marked, a key corrected);
    there is no page or service that edits one by hand.
    """

    __tablename__ = "archive_exam_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"), unique=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    exam_code: Mapped[str] = mapped_column(String(32))
    exam_title: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(50))
    attempt_number: Mapped[int] = mapped_column(Integer)
    #: The (Beijing) day the attempt started, and its year: the archive is kept year by year.
    sat_on: Mapped[date] = mapped_column(Date)
    year: Mapped[int] = mapped_column(Integer, index=True)
    time_used_seconds: Mapped[int] = mapped_column(Integer)
    total_points: Mapped[float] = mapped_column(Numeric(7, 2, asdecimal=False))
    pass_mark: Mapped[float] = mapped_column(Numeric(7, 2, asdecimal=False))
    #: Null while written answers wait for a grader; final once every item has points.
    score: Mapped[float | None] = mapped_column(Numeric(7, 2, asdecimal=False))
    passed: Mapped[bool | None] = mapped_column(Boolean)
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
