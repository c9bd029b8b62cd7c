"""The learning archive (干部学习档案) of every cadre, year by year.

- `ArchiveEntry`: one record of degree education, a training class attended, collective study or self-study.
  Its current values are on the row; every change is an `ArchiveRevision` (who, when, why, the values after it),
  and a removal is a soft delete with a reason. Nothing is edited in place without a revision.
- `TrainingClass` and `TrainingEnrolment`: classes as first-class objects; recording attendance once writes the
  `training` entry of every participant (an entry with a class is changed only through its class).
- `ReadingBook`, `ReadingNote`: the year's required reading and the notes on it, one row per submission.
- `StudyPlan`, `AnnualAssessment`: one row per version, the newest counts.
- `ArchiveYear`: the year's required hours; a closed year is read-only.
- `ExamResultRecord`: written by the exam engine and by nobody else. `Qualification`: granted for passing both
  qualification exams of a cycle, with a verification code.
"""

from datetime import date, datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import Unit, User
from core.extensions import db
from core.models import UTCDateTime, enum_check

_HOURS = Numeric(7, 1, asdecimal=False)


class EntryKind(StrEnum):
    DEGREE = "degree"  # 学历教育
    TRAINING = "training"  # 脱产培训 / 进修轮训 (a class)
    COLLECTIVE = "collective"  # 集体学习
    SELF_STUDY = "self_study"  # 在职自学


class HourKind(StrEnum):
    """What hours count as, for plans, minimums and totals."""

    OFF_JOB = "off_job"  # 脱产培训
    ROTATIONAL = "rotational"  # 进修轮训
    COLLECTIVE = "collective"
    SELF_STUDY = "self_study"


class ClassType(StrEnum):
    PARTY_SCHOOL = "party_school"
    UNIVERSITY = "university"
    OVERSEAS = "overseas"
    ONLINE = "online"
    OTHER = "other"


class EntryStatus(StrEnum):
    ACCEPTED = "accepted"
    PENDING = "pending"  # added by the cadre, waiting for a reviewer
    REJECTED = "rejected"


class ReviewStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"  # 合格
    REJECTED = "rejected"  # 不合格


class Attendance(StrEnum):
    ENROLLED = "enrolled"  # not recorded yet
    ATTENDED = "attended"
    PARTIAL = "partial"
    ABSENT = "absent"


class Completion(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"  # 结业
    NOT_COMPLETED = "not_completed"


class DegreeStatus(StrEnum):
    STUDYING = "studying"
    GRADUATED = "graduated"
    WITHDRAWN = "withdrawn"


class AssessmentGrade(StrEnum):
    EXCELLENT = "excellent"
    COMPETENT = "competent"
    BASIC = "basic"
    INCOMPETENT = "incompetent"


class QualificationPart(StrEnum):
    POLITICAL_THEORY = "political_theory"
    JOB_KNOWLEDGE = "job_knowledge"


LABELS = {
    EntryKind.DEGREE: _l("Degree education"),
    EntryKind.TRAINING: _l("Training class"),
    EntryKind.COLLECTIVE: _l("Collective study"),
    EntryKind.SELF_STUDY: _l("Self-study"),
    HourKind.OFF_JOB: _l("Off-job training"),
    HourKind.ROTATIONAL: _l("Rotational and advanced training"),
    HourKind.SELF_STUDY: _l("In-service self-study"),
    ClassType.PARTY_SCHOOL: _l("Party school"),
    ClassType.UNIVERSITY: _l("University"),
    ClassType.OVERSEAS: _l("Abroad"),
    ClassType.ONLINE: _l("Online"),
    ClassType.OTHER: _l("Other"),
    EntryStatus.ACCEPTED: _l("Accepted"),
    EntryStatus.PENDING: _l("Waiting for review"),
    EntryStatus.REJECTED: _l("Not accepted"),
    Attendance.ENROLLED: _l("Enrolled"),
    Attendance.ATTENDED: _l("Attended"),
    Attendance.PARTIAL: _l("Attended in part"),
    Attendance.ABSENT: _l("Absent"),
    Completion.COMPLETED: _l("Completed"),
    Completion.NOT_COMPLETED: _l("Not completed"),
    DegreeStatus.STUDYING: _l("Studying"),
    DegreeStatus.GRADUATED: _l("Graduated"),
    DegreeStatus.WITHDRAWN: _l("Withdrawn"),
    AssessmentGrade.EXCELLENT: _l("Excellent"),
    AssessmentGrade.COMPETENT: _l("Competent"),
    AssessmentGrade.BASIC: _l("Basically competent"),
    AssessmentGrade.INCOMPETENT: _l("Not competent"),
    QualificationPart.POLITICAL_THEORY: _l("Political theory"),
    QualificationPart.JOB_KNOWLEDGE: _l("Job knowledge"),
}
# Values are plain strings, so equal values share a label: collective study and self-study are entry kinds and hour
# kinds alike. "pending" means "waiting for review" here; a class result not yet recorded has its own label.
LABELS[HourKind.COLLECTIVE] = LABELS[EntryKind.COLLECTIVE]
COMPLETION_LABELS = {Completion.PENDING: _l("Not recorded"), Completion.COMPLETED: LABELS[Completion.COMPLETED],
                     Completion.NOT_COMPLETED: LABELS[Completion.NOT_COMPLETED]}  # fmt: skip


def label(value) -> str:
    return str(LABELS.get(value, value or ""))


def review_label(value) -> str:
    return str({ReviewStatus.PENDING: _l("Waiting for review"), ReviewStatus.ACCEPTED: _l("Pass"),
                ReviewStatus.REJECTED: _l("Fail")}.get(value, value or ""))  # fmt: skip


class ArchiveYear(db.Model):
    """A year of the archive: the hours every cadre should reach, and whether the year is closed (read-only)."""

    __tablename__ = "archive_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    required_hours: Mapped[float] = mapped_column(_HOURS, default=0)
    #: 以考促学: hours of online practice a cadre may count as in-service self-study this year (0: none).
    practice_hours_cap: Mapped[float] = mapped_column(_HOURS, default=0, server_default="0")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class TrainingClass(db.Model):
    """A training class (培训班, one 期): held once, by an organising unit, for the cadres enrolled in it."""

    __tablename__ = "training_classes"
    __table_args__ = (
        enum_check("class_type", ClassType, "class_type_valid"),
        enum_check("hour_kind", (HourKind.OFF_JOB, HourKind.ROTATIONAL), "hour_kind_valid"),
        Index("ix_training_classes_year_unit", "year", "unit_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    organiser: Mapped[str] = mapped_column(String(200))
    place: Mapped[str] = mapped_column(String(200))
    class_type: Mapped[str] = mapped_column(String(16))
    #: Off-job training (脱产培训) or rotational/advanced training (进修轮训): how its hours count.
    hour_kind: Mapped[str] = mapped_column(String(16), default=HourKind.OFF_JOB)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    year: Mapped[int] = mapped_column(Integer)
    hours: Mapped[float] = mapped_column(_HOURS)
    #: Spending on the class, in yuan.
    spending: Mapped[float] = mapped_column(Numeric(12, 2, asdecimal=False), default=0)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Set when attendance was first recorded; from then on the class writes its participants' archives.
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    unit: Mapped[Unit] = relationship(lazy="joined")
    enrolments: Mapped[list["TrainingEnrolment"]] = relationship(back_populates="training_class",
                                                                 cascade="all, delete-orphan")  # fmt: skip

    @property
    def unit_path(self) -> str:
        return self.unit.path


class TrainingEnrolment(db.Model):
    __tablename__ = "training_enrolments"
    __table_args__ = (
        UniqueConstraint("class_id", "user_id", name="uq_training_enrolments_class_user"),
        enum_check("attendance", Attendance, "attendance_valid"),
        enum_check("completion", Completion, "completion_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("training_classes.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    attendance: Mapped[str] = mapped_column(String(16), default=Attendance.ENROLLED)
    #: Hours attended; null: the class's hours (attended) or none (absent).
    hours: Mapped[float | None] = mapped_column(_HOURS)
    completion: Mapped[str] = mapped_column(String(16), default=Completion.PENDING)
    comment: Mapped[str] = mapped_column(String(500), default="")
    #: How the person came in: "hand", "rules" or "xlsx".
    source: Mapped[str] = mapped_column(String(16), default="hand")
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    enrolled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    training_class: Mapped[TrainingClass] = relationship(back_populates="enrolments")
    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")


class ArchiveEntry(db.Model):
    """One record of a cadre's archive, as it stands now (see `revisions` for how it came to be)."""

    __tablename__ = "archive_entries"
    __table_args__ = (
        enum_check("kind", EntryKind, "kind_valid"),
        enum_check("status", EntryStatus, "status_valid"),
        Index("ix_archive_entries_user_year", "user_id", "year"),
        Index("ix_archive_entries_year_kind", "year", "hour_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    #: How the hours count (null for degree education, which has none).
    hour_kind: Mapped[str | None] = mapped_column(String(16))
    year: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    hours: Mapped[float] = mapped_column(_HOURS, default=0)
    #: The kind's own fields (institution, major, level…; organiser, place, class type…; evidence).
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=EntryStatus.ACCEPTED)
    #: Entries written by a training class's attendance are changed through the class only.
    enrolment_id: Mapped[int | None] = mapped_column(
        ForeignKey("training_enrolments.id", ondelete="RESTRICT"), unique=True
    )
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    revisions: Mapped[list["ArchiveRevision"]] = relationship(back_populates="entry", order_by="ArchiveRevision.number")

    @property
    def counts(self) -> bool:
        """Do the entry's hours count (accepted and not removed)?"""
        return self.deleted_at is None and self.status == EntryStatus.ACCEPTED


class ArchiveRevision(db.Model):
    """One change of an entry: what it became, who made the change, when and why. Never changed afterwards."""

    __tablename__ = "archive_revisions"
    __table_args__ = (UniqueConstraint("entry_id", "number", name="uq_archive_revisions_entry_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("archive_entries.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    #: "created", "corrected", "removed", "accepted", "rejected", "class" (changed by its class's attendance).
    action: Mapped[str] = mapped_column(String(16))
    values: Mapped[dict] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(500), default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    entry: Mapped[ArchiveEntry] = relationship(back_populates="revisions")
    actor: Mapped[User | None] = relationship(lazy="joined")


class ReadingBook(db.Model):
    """A book on the year's required reading list (年内必读书目)."""

    __tablename__ = "reading_books"
    __table_args__ = (Index("ix_reading_books_year", "year", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(200))
    author: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(String(500), default="")
    #: Fewest characters a reading note on this book must have.
    min_chars: Mapped[int] = mapped_column(Integer, default=300)
    #: The knowledge point (tag) that marks the questions on this book: the written exam draws from them.
    tag: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReadingExam(db.Model):
    """The written exam on a year's required reading (S4 of the district's report): an ordinary exam whose rules
    draw only the questions tagged with the list's books; its results are the list's written exam."""

    __tablename__ = "reading_exams"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), unique=True)
    attached_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    attached_at: Mapped[datetime] = mapped_column(UTCDateTime)

    exam = relationship("Exam", lazy="joined")


class ReadingNote(db.Model):
    """One submission of a reading note (读书笔记); a resubmission after a fail is a new row (version + 1)."""

    __tablename__ = "reading_notes"
    __table_args__ = (
        UniqueConstraint("book_id", "user_id", "version", name="uq_reading_notes_book_user_version"),
        enum_check("status", ReviewStatus, "status_valid"),
        Index("ix_reading_notes_user", "user_id", "book_id"),
        Index("ix_reading_notes_status", "status", "submitted_at"),
        # The notes waiting for review, by book and cadre: a handful among every note ever passed (migration 0015).
        Index(
            "ix_reading_notes_pending",
            "book_id",
            "user_id",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("reading_books.id", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    body: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=ReviewStatus.PENDING)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_comment: Mapped[str] = mapped_column(String(1000), default="")

    book: Mapped[ReadingBook] = relationship(lazy="joined")
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])


class StudyPlan(db.Model):
    """A version of a cadre's study plan for a year: goals and planned hours per kind. Proposed by the cadre (or
    written by the unit), agreed by the unit; a new version replaces the old, which stays."""

    __tablename__ = "study_plans"
    __table_args__ = (UniqueConstraint("user_id", "year", "version", name="uq_study_plans_user_year_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    goals: Mapped[str] = mapped_column(Text, default="")
    #: {hour kind: planned hours}
    planned_hours: Mapped[dict] = mapped_column(JSON, default=dict)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(500), default="")
    agreed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    agreed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    agreed_by: Mapped[User | None] = relationship(foreign_keys=[agreed_by_id])

    @property
    def total_hours(self) -> float:
        return float(sum(self.planned_hours.values()))


class AnnualAssessment(db.Model):
    """A version of a cadre's annual learning assessment (年度学习考核): the summary gathered from the archive
    when it was written, the unit's written appraisal and grade, and the cadre's acknowledgement."""

    __tablename__ = "annual_assessments"
    __table_args__ = (
        UniqueConstraint("user_id", "year", "version", name="uq_annual_assessments_user_year_version"),
        enum_check("grade", AssessmentGrade, "grade_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    summary: Mapped[dict] = mapped_column(JSON)
    appraisal: Mapped[str] = mapped_column(Text)
    grade: Mapped[str] = mapped_column(String(16))
    appraiser_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    appraised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(500), default="")
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    feedback: Mapped[str] = mapped_column(String(2000), default="")

    appraiser: Mapped[User | None] = relationship(foreign_keys=[appraiser_id])


class CadreYear(db.Model):
    """A cadre's figures for one year, kept up to date by every service that changes them (archive.figures), so
    that unit overviews of tens of thousands of cadres read one row per cadre instead of aggregating records."""

    __tablename__ = "archive_cadre_years"
    #: Unit figures join every cadre's row of a year: the covering index answers them without the table (0015).
    __table_args__ = (
        Index("ix_archive_cadre_years_figures", "year", "user_id", "hours", "notes_passed", "grade", "acknowledged"),
    )

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    #: Accepted hours of every kind (entries not removed).
    hours: Mapped[float] = mapped_column(_HOURS, default=0)
    #: Books of the year's list (not withdrawn) whose note passed.
    notes_passed: Mapped[int] = mapped_column(Integer, default=0)
    #: The newest assessment's grade (null: not assessed) and whether the cadre acknowledged it.
    grade: Mapped[str | None] = mapped_column(String(16))
    acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)


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
    #: The score was voided by a decision on an incident (the sitting): recorded as not passed, counted for no
    #: qualification; a later decision may restore it.
    voided: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class Qualification(db.Model):
    """A qualification (任职资格) granted for passing the political-theory and the job-knowledge qualification exams
    of one cycle. Its certificate carries `code`, which anyone can check at /verify/<code>. A regrade that turns a
    pass into a fail revokes it (kept, with the reason)."""

    __tablename__ = "qualifications"
    __table_args__ = (Index("ix_qualifications_user_cycle", "user_id", "cycle"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    cycle: Mapped[str] = mapped_column(String(32))
    #: A random code of 16 characters from an alphabet without look-alikes (printed on the certificate).
    code: Mapped[str] = mapped_column(String(32), unique=True)
    granted_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    political_result_id: Mapped[int | None] = mapped_column(ForeignKey("archive_exam_results.id", ondelete="SET NULL"))
    job_result_id: Mapped[int | None] = mapped_column(ForeignKey("archive_exam_results.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoke_reason: Mapped[str] = mapped_column(String(500), default="")

    user: Mapped[User] = relationship()
    political_result: Mapped[ExamResultRecord | None] = relationship(foreign_keys=[political_result_id])
    job_result: Mapped[ExamResultRecord | None] = relationship(foreign_keys=[job_result_id])
