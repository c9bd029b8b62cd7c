"""Banks, their category trees, tags, questions and the immutable versions of questions."""

from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_pgettext
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import Unit, User
from core.extensions import db
from core.models import UTCDateTime, enum_check, now_utc
from question_bank.types import QUESTION_TYPES


class QuestionStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    ACTIVE = "active"
    RETIRED = "retired"


class QuestionUsage(StrEnum):
    """What a question may be used for. Practice never serves a question a formal exam ahead can draw, whatever
    this says (practice.pool); a practice-only question is never drawn onto a formal paper (exam.papers)."""

    ANY = "any"
    PRACTICE = "practice"  # written for practice: served there even in a bank not opened for practice
    EXAM = "exam"  # formal exams only: never served in practice


USAGE_LABELS = {
    QuestionUsage.ANY: lazy_pgettext("question usage", "Exams and practice"),
    QuestionUsage.PRACTICE: lazy_pgettext("question usage", "Practice only"),
    QuestionUsage.EXAM: lazy_pgettext("question usage", "Exams only"),
}


STATUS_LABELS = {
    QuestionStatus.DRAFT: lazy_pgettext("question status", "Draft"),
    QuestionStatus.IN_REVIEW: lazy_pgettext("question status", "In review"),
    QuestionStatus.ACTIVE: lazy_pgettext("question status", "Active"),
    QuestionStatus.RETIRED: lazy_pgettext("question status", "Retired"),
}


class Bank(db.Model):
    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    #: Free text so subjects can be added without a release; 政治理论 and 岗位知识 come first.
    subject: Mapped[str] = mapped_column(String(50), index=True)
    owner_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: Opened for practice (以考促学): its questions may be practised, except those a formal exam ahead can draw.
    practice_open: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    owner_unit: Mapped[Unit] = relationship(lazy="joined")

    @property
    def unit_path(self) -> str:
        return self.owner_unit.path


class Category(db.Model):
    """A node of a bank's category tree (chapter → section → knowledge point, any depth)."""

    __tablename__ = "categories"
    __table_args__ = (UniqueConstraint("bank_id", "parent_id", "name", name="uq_categories_bank_parent_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    #: Materialised path of ids, "/3/17/"; the subtree of a category is every path starting with its own.
    path: Mapped[str] = mapped_column(String(255), index=True, default="")
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    #: Opened for practice with its whole subtree (when its bank as a whole is not).
    practice_open: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    parent: Mapped["Category | None"] = relationship(remote_side=[id])

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2


question_tags = Table(
    "question_tags",
    db.metadata,
    Column("question_id", ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Tag(db.Model):
    """A knowledge point (知识点), shared across banks."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)


class Question(db.Model):
    """A question's identity and metadata; what it says lives in its versions."""

    __tablename__ = "questions"
    __table_args__ = (
        enum_check("type", QUESTION_TYPES, "type_valid"),
        enum_check("status", QuestionStatus, "status_valid"),
        enum_check("usage", QuestionUsage, "usage_valid"),
        CheckConstraint("difficulty BETWEEN 1 AND 5", name="difficulty_range"),
        Index("ix_questions_bank_status_type", "bank_id", "status", "type"),
        Index("ix_questions_bank_fingerprint", "bank_id", "fingerprint"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="RESTRICT"), index=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="SET NULL"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=QuestionStatus.DRAFT)
    difficulty: Mapped[int] = mapped_column(Integer, default=3)
    usage: Mapped[str] = mapped_column(String(16), default=QuestionUsage.ANY, server_default="any")
    #: The version exams take from now on; older versions stay for the papers that used them.
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("question_versions.id", use_alter=True, ondelete="SET NULL")
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    review_comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Plain text of the current stem and options, case- and width-folded (services.search_key), for substring
    #: search (Chinese included).
    search_text: Mapped[str] = mapped_column(Text, default="")
    #: The normalised stem (no spaces, punctuation or width differences), for finding likely duplicates.
    fingerprint: Mapped[str] = mapped_column(String(255), default="")
    #: How many papers have used the question, and when last (written by the exam engine).
    exposure_count: Mapped[int] = mapped_column(Integer, default=0)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    bank: Mapped[Bank] = relationship(lazy="joined")
    category: Mapped[Category | None] = relationship(lazy="joined")
    current_version: Mapped["QuestionVersion | None"] = relationship(
        foreign_keys=[current_version_id], post_update=True, lazy="joined"
    )
    versions: Mapped[list["QuestionVersion"]] = relationship(
        foreign_keys="QuestionVersion.question_id", back_populates="question", order_by="QuestionVersion.number"
    )
    tags: Mapped[list[Tag]] = relationship(secondary=question_tags, lazy="selectin", order_by=Tag.name)
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])

    @property
    def unit_path(self) -> str:
        return self.bank.unit_path

    @property
    def qtype(self):
        return QUESTION_TYPES[self.type]


class QuestionVersion(db.Model):
    """One immutable wording of a question. Papers refer to a version, so later edits never change them."""

    __tablename__ = "question_versions"
    __table_args__ = (UniqueConstraint("question_id", "number", name="uq_question_versions_question_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    stem: Mapped[str] = mapped_column(Text)
    #: Option HTML for choice questions, in order (A, B, …); empty for other types.
    options: Mapped[list] = mapped_column(JSON, default=list)
    #: The key, in the shape its question type defines (see question_bank.types).
    answer: Mapped[object] = mapped_column(JSON)
    points: Mapped[float] = mapped_column(Numeric(6, 2, asdecimal=False), default=1.0)
    explanation: Mapped[str] = mapped_column(Text, default="")
    reference: Mapped[str] = mapped_column(String(255), default="")
    #: Type-specific options, e.g. how fill-in answers are matched.
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    question: Mapped[Question] = relationship(foreign_keys=[question_id], back_populates="versions")
    created_by: Mapped[User | None] = relationship()
