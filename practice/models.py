"""Practice sessions, their answers and each cadre's wrong-answer book (错题本): tables of their own, so that no
ranking, statistic, item analysis or archive record of the formal exams ever counts a practice answer."""

from datetime import date, datetime
from enum import StrEnum

from flask_babel import lazy_pgettext
from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from core.extensions import db
from core.models import UTCDateTime, enum_check, now_utc
from exam.models import Exam
from question_bank.models import Bank, Category, Question, QuestionVersion


class Mode(StrEnum):
    CATEGORY = "category"  # a bank's category subtree (or the whole bank)
    TAG = "tag"  # one knowledge point, across banks
    WRONG_BOOK = "wrong_book"  # the cadre's own wrong answers not yet mastered
    DAILY = "daily"  # 每日一练: the day's small set
    MOCK = "mock"  # a timed mock of a formal exam ahead, drawn by its rules from the practice pool


#: Modes answered one question at a time with feedback at once (a mock is answered whole, then reviewed).
ONE_BY_ONE = frozenset({Mode.CATEGORY, Mode.TAG, Mode.WRONG_BOOK, Mode.DAILY})


MODE_LABELS = {
    Mode.CATEGORY: lazy_pgettext("practice mode", "By chapter"),
    Mode.TAG: lazy_pgettext("practice mode", "By knowledge point"),
    Mode.WRONG_BOOK: lazy_pgettext("practice mode", "Wrong-answer book"),
    Mode.DAILY: lazy_pgettext("practice mode", "Daily practice"),
    Mode.MOCK: lazy_pgettext("practice mode", "Mock exam"),
}


class Outcome(StrEnum):
    RIGHT = "right"
    PARTLY = "partly"  # some blanks or options right
    WRONG = "wrong"
    SELF_CHECK = "self_check"  # an essay: the cadre compares with the reference answer


class PracticeSession(db.Model):
    """One run through a set of questions, fixed at its start, resumed where the cadre stopped."""

    __tablename__ = "practice_sessions"
    __table_args__ = (
        enum_check("mode", Mode, "mode_valid"),
        Index("ix_practice_sessions_user_open", "user_id", "finished_at"),
        Index("ix_practice_sessions_user_day", "user_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(16))
    bank_id: Mapped[int | None] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"))
    tag: Mapped[str | None] = mapped_column(String(50))
    shuffled: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The questions, in the order served; fixed at the start (a question closed to practice since is skipped).
    question_ids: Mapped[list] = mapped_column(JSON, default=list)
    #: How many of them have been answered (or skipped): the next one served is question_ids[position].
    position: Mapped[int] = mapped_column(Integer, default=0)
    right_count: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: 每日一练: the (local) day whose set this is.
    day: Mapped[date | None] = mapped_column(Date)
    #: A mock exam: the formal exam it mocks, its deadline, each question's points (as question_ids), its section
    #: titles and types by position, and the score once submitted (objective questions; essays are self-checked).
    exam_id: Mapped[int | None] = mapped_column(ForeignKey("exams.id", ondelete="SET NULL"))
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    layout: Mapped[list | None] = mapped_column(JSON)
    score: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float | None] = mapped_column(Float)

    user: Mapped[User] = relationship()
    bank: Mapped[Bank | None] = relationship()
    category: Mapped[Category | None] = relationship()
    exam: Mapped[Exam | None] = relationship()

    @property
    def total(self) -> int:
        return len(self.question_ids)

    @property
    def done(self) -> bool:
        return self.finished_at is not None


class PracticeAnswer(db.Model):
    """A practice answer and how it went; never an exam's answer (those are exam.models.Answer)."""

    __tablename__ = "practice_answers"
    __table_args__ = (
        UniqueConstraint("session_id", "position", name="uq_practice_answers_session_position"),
        enum_check("outcome", Outcome, "outcome_valid"),
        Index("ix_practice_answers_user_question", "user_id", "question_id", "answered_at"),
        Index("ix_practice_answers_user_answered", "user_id", "answered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("practice_sessions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    question_version_id: Mapped[int] = mapped_column(ForeignKey("question_versions.id", ondelete="CASCADE"))
    #: Where in its session (0-based, as question_ids).
    position: Mapped[int] = mapped_column(Integer)
    #: The answer in the version's own option order (practice shows options unshuffled).
    answer: Mapped[object] = mapped_column(JSON, nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    #: The share of the points it would earn (0..1); null for an essay.
    share: Mapped[float | None] = mapped_column(Float)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    session: Mapped[PracticeSession] = relationship()
    question: Mapped[Question] = relationship()
    version: Mapped[QuestionVersion] = relationship()


class WrongBookEntry(db.Model):
    """A question the cadre got wrong (in practice, or in a formal exam whose review shows keys), until mastered
    (answered right `PRACTICE_MASTERED_AFTER` times in a row) or removed."""

    __tablename__ = "practice_wrong_book"
    __table_args__ = (
        UniqueConstraint("user_id", "question_id", name="uq_practice_wrong_book_user_question"),
        enum_check("source", ("practice", "exam"), "source_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    #: Where it was first got wrong.
    source: Mapped[str] = mapped_column(String(16), default="practice")
    wrong_count: Mapped[int] = mapped_column(Integer, default=1)
    #: Right answers in a row since the last wrong one.
    right_streak: Mapped[int] = mapped_column(Integer, default=0)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    last_wrong_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    mastered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: 收藏: kept in view even once mastered.
    starred: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Taken out by the cadre; a later wrong answer puts it back.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    question: Mapped[Question] = relationship(lazy="joined")


class ExamMistakesTaken(db.Model):
    """A formal attempt whose wrong answers have gone into its candidate's wrong-answer book (once per attempt, when
    its review first shows the keys)."""

    __tablename__ = "practice_exam_mistakes"
    __table_args__ = (UniqueConstraint("attempt_id", name="uq_practice_exam_mistakes_attempt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    count: Mapped[int] = mapped_column(Integer, default=0)


class HourClaim(db.Model):
    """Hours of practice a cadre put into their archive as in-service self-study (在职自学): the archive entry they
    made (reviewed like any self-study), and how many hours it holds."""

    __tablename__ = "practice_hour_claims"
    __table_args__ = (Index("ix_practice_hour_claims_user_year", "user_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    entry_id: Mapped[int] = mapped_column(ForeignKey("archive_entries.id", ondelete="CASCADE"), unique=True)
    hours: Mapped[float] = mapped_column(Numeric(7, 1, asdecimal=False))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
