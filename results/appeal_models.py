"""Appeals (申诉) during a public notice, and formal corrections (更正) after the results are final.

An appeal is a candidate's, on one or more written items of their counted attempt; each item goes to a reviewer
who did not mark that answer, and is decided on its own (upheld with a new mark, or rejected with a reason). An
item is appealed once: a second appeal on the same answer is refused (a unique answer per appeal item).

A correction is the only change to a final result: requested by one district admin with a reason, decided by
another; the old and new values are kept."""

from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from core.extensions import db
from core.models import UTCDateTime, enum_check
from exam.models import Answer, Attempt, Exam


class Decision(StrEnum):
    UPHELD = "upheld"
    REJECTED = "rejected"


DECISION_LABELS = {Decision.UPHELD: _l("Upheld: the mark was changed"), Decision.REJECTED: _l("Rejected")}


class Appeal(db.Model):
    """A candidate's appeal against their result, filed while the exam's notice runs."""

    __tablename__ = "results_appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: The serial of the notice it was filed against.
    notice_serial: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Set once every item is decided.
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    exam: Mapped[Exam] = relationship()
    attempt: Mapped[Attempt] = relationship()
    user: Mapped[User] = relationship()
    items: Mapped[list["AppealItem"]] = relationship(
        back_populates="appeal", order_by="AppealItem.position", cascade="all, delete-orphan"
    )

    @property
    def open(self) -> bool:
        return self.decided_at is None


class AppealItem(db.Model):
    """One appealed item (a written answer) and its decision."""

    __tablename__ = "results_appeal_items"
    __table_args__ = (
        enum_check("decision", Decision, "decision_valid"),
        CheckConstraint("(decision IS NULL) = (decided_at IS NULL)", name="decided_together"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(ForeignKey("results_appeals.id", ondelete="CASCADE"), index=True)
    #: Unique: an answer is appealed once.
    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), unique=True)
    position: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The final mark when the appeal was filed, and the mark the decision gave (upheld only).
    old_points: Mapped[float | None] = mapped_column(Numeric(6, 2, asdecimal=False))
    new_points: Mapped[float | None] = mapped_column(Numeric(6, 2, asdecimal=False))
    decision: Mapped[str | None] = mapped_column(String(16))
    decision_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    appeal: Mapped[Appeal] = relationship(back_populates="items")
    answer: Mapped[Answer] = relationship()
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class CorrectionState(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"


class Correction(db.Model):
    """A formal correction of a final result: one item's mark, with the reason, the requester, the approver and the
    old and new values."""

    __tablename__ = "results_corrections"
    __table_args__ = (enum_check("state", CorrectionState, "state_valid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"))
    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"))
    old_points: Mapped[float | None] = mapped_column(Numeric(6, 2, asdecimal=False))
    new_points: Mapped[float] = mapped_column(Numeric(6, 2, asdecimal=False))
    old_score: Mapped[float | None] = mapped_column(Numeric(8, 2, asdecimal=False))
    new_score: Mapped[float | None] = mapped_column(Numeric(8, 2, asdecimal=False))
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=CorrectionState.REQUESTED)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: The serial of the revised notice the approval published.
    notice_serial: Mapped[str | None] = mapped_column(String(40))

    exam: Mapped[Exam] = relationship()
    attempt: Mapped[Attempt] = relationship()
    answer: Mapped[Answer] = relationship()
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
