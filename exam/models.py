"""Exams, their sections and paper rules, candidates, the papers drawn for them, attempts and answers."""

from datetime import date, datetime, timedelta
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from core.extensions import db
from core.models import UTCDateTime, enum_check, now_utc
from question_bank.models import Bank, Category, QuestionVersion


class ExamStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    RELEASED = "released"  # results released


class Phase(StrEnum):
    """Where an exam stands at a given moment: its status and its window together."""

    DRAFT = "draft"
    PUBLISHED = "published"  # published, not yet open
    OPEN = "open"
    CLOSED = "closed"
    RELEASED = "released"


PHASE_LABELS = {
    Phase.DRAFT: _l("Draft"),
    Phase.PUBLISHED: _l("Not yet open"),
    Phase.OPEN: _l("Open now"),
    Phase.CLOSED: _l("Closed"),
    Phase.RELEASED: _l("Results released"),
}


class PaperMode(StrEnum):
    FIXED = "fixed"  # the same chosen question versions for everyone
    DRAWN = "drawn"  # each candidate's own paper, drawn from rules


class ReleasePolicy(StrEnum):
    IMMEDIATE = "immediate"
    AFTER_CLOSE = "after_close"
    MANUAL = "manual"


class ReviewPolicy(StrEnum):
    SCORE = "score"
    ANSWERS = "answers"
    EXPLANATIONS = "explanations"


class AttemptStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"  # by the candidate (or by the server at the focus-loss limit)
    EXPIRED = "expired"  # finalized by the server at the deadline


PAPER_MODE_LABELS = {PaperMode.DRAWN: _l("Drawn per candidate from rules"), PaperMode.FIXED: _l("Fixed questions")}
MC_POLICY_LABELS = {
    "all_or_nothing": _l("All or nothing"),
    "partial": _l("Partial credit for a correct subset"),
}
RELEASE_LABELS = {
    ReleasePolicy.IMMEDIATE: _l("At once, on submission"),
    ReleasePolicy.AFTER_CLOSE: _l("When the exam closes"),
    ReleasePolicy.MANUAL: lazy_pgettext("release", "By hand"),
}
REVIEW_LABELS = {
    ReviewPolicy.SCORE: _l("Score only"),
    ReviewPolicy.ANSWERS: _l("Score and correct answers"),
    ReviewPolicy.EXPLANATIONS: _l("Score, correct answers and explanations"),
}
ATTEMPT_STATUS_LABELS = {
    AttemptStatus.IN_PROGRESS: _l("In progress"),
    AttemptStatus.SUBMITTED: _l("Submitted"),
    AttemptStatus.EXPIRED: _l("Ended at the deadline"),
}


class Exam(db.Model):
    __tablename__ = "exams"
    __table_args__ = (
        enum_check("status", ExamStatus, "status_valid"),
        enum_check("paper_mode", PaperMode, "paper_mode_valid"),
        enum_check("release_policy", ReleasePolicy, "release_policy_valid"),
        enum_check("review_policy", ReviewPolicy, "review_policy_valid"),
        enum_check("mc_policy", ("all_or_nothing", "partial"), "mc_policy_valid"),
        CheckConstraint("closes_at > opens_at", name="window_order"),
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
        CheckConstraint("attempts_allowed >= 1", name="attempts_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(50))
    instructions: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=ExamStatus.DRAFT)
    paper_mode: Mapped[str] = mapped_column(String(16), default=PaperMode.DRAWN)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts_allowed: Mapped[int] = mapped_column(Integer, default=1)
    pass_mark: Mapped[float] = mapped_column(Numeric(7, 2, asdecimal=False))
    shuffle_questions: Mapped[bool] = mapped_column(Boolean, default=True)
    shuffle_options: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Hash of the optional access code announced in the exam room (never stored in clear).
    access_code_hash: Mapped[str | None] = mapped_column(String(255))
    mc_policy: Mapped[str] = mapped_column(String(16), default="all_or_nothing")
    release_policy: Mapped[str] = mapped_column(String(16), default=ReleasePolicy.AFTER_CLOSE)
    review_policy: Mapped[str] = mapped_column(String(16), default=ReviewPolicy.SCORE)
    #: Show the candidates the ranking list (rank, name, unit, score) once their results are released to them;
    #: otherwise each candidate sees only their own rank and percentile.
    publish_ranking: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    #: Auto-submit after this many focus losses; null: off.
    focus_loss_limit: Mapped[int | None] = mapped_column(Integer)
    #: A qualification exam (任职资格考试): which part it is ("political_theory" or "job_knowledge") and of which
    #: cycle; passing both parts of one cycle grants the qualification. Null: an ordinary exam.
    qualification_part: Mapped[str | None] = mapped_column(String(32))
    qualification_cycle: Mapped[str | None] = mapped_column(String(32))
    #: Who may sit the exam: {"unit_ids": [...], "ranks": [...], "max_age": 35, "age_on": "2026-12-05",
    #: "political_statuses": [...]}; an empty or missing list means any.
    eligibility: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Set at the first start: from then on nothing a candidate may have seen can change.
    first_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sections: Mapped[list["ExamSection"]] = relationship(
        back_populates="exam", order_by="ExamSection.position", cascade="all, delete-orphan"
    )

    def phase(self, now: datetime) -> Phase:
        if self.status == ExamStatus.DRAFT:
            return Phase.DRAFT
        if self.status == ExamStatus.RELEASED:
            return Phase.RELEASED
        if now < self.opens_at:
            return Phase.PUBLISHED
        return Phase.OPEN if now < self.closes_at else Phase.CLOSED

    @property
    def total_points(self) -> float:
        return sum(s.total_points for s in self.sections)

    @property
    def age_on(self) -> date | None:
        value = (self.eligibility or {}).get("age_on")
        return date.fromisoformat(value) if value else None


class ExamSection(db.Model):
    """一、单选题 …: one question type, the same points for each of its questions."""

    __tablename__ = "exam_sections"
    __table_args__ = (UniqueConstraint("exam_id", "position", name="uq_exam_sections_exam_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(100))
    qtype: Mapped[str] = mapped_column(String(16))
    points_per_question: Mapped[float] = mapped_column(Numeric(6, 2, asdecimal=False))

    exam: Mapped[Exam] = relationship(back_populates="sections")
    # Loaded with the sections, in one query for all of them: an exam's total (every result) needs them all.
    rules: Mapped[list["SectionRule"]] = relationship(
        back_populates="section", order_by="SectionRule.id", cascade="all, delete-orphan", lazy="selectin"
    )
    fixed_items: Mapped[list["FixedItem"]] = relationship(
        back_populates="section", order_by="FixedItem.position", cascade="all, delete-orphan"
    )

    @property
    def question_count(self) -> int:
        if self.exam.paper_mode == PaperMode.FIXED:
            return len(self.fixed_items)
        return sum(r.count for r in self.rules)

    @property
    def total_points(self) -> float:
        return self.question_count * float(self.points_per_question)


class SectionRule(db.Model):
    """Draw `count` active questions of the section's type from a bank (optionally one category subtree, one tag,
    a difficulty range)."""

    __tablename__ = "section_rules"
    __table_args__ = (
        CheckConstraint("count > 0", name="count_positive"),
        CheckConstraint("difficulty_min BETWEEN 1 AND 5 AND difficulty_max BETWEEN difficulty_min AND 5",
                        name="difficulty_range"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("exam_sections.id", ondelete="CASCADE"), index=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="RESTRICT"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"))
    tag: Mapped[str | None] = mapped_column(String(50))
    difficulty_min: Mapped[int] = mapped_column(Integer, default=1)
    difficulty_max: Mapped[int] = mapped_column(Integer, default=5)
    count: Mapped[int] = mapped_column(Integer)

    section: Mapped[ExamSection] = relationship(back_populates="rules")
    bank: Mapped[Bank] = relationship()
    category: Mapped[Category | None] = relationship()


class FixedItem(db.Model):
    __tablename__ = "fixed_items"
    __table_args__ = (UniqueConstraint("section_id", "position", name="uq_fixed_items_section_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("exam_sections.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    question_version_id: Mapped[int] = mapped_column(ForeignKey("question_versions.id", ondelete="RESTRICT"))

    section: Mapped[ExamSection] = relationship(back_populates="fixed_items")
    version: Mapped[QuestionVersion] = relationship()


class ExamCandidate(db.Model):
    """A person added to or removed from an exam by hand, and per-candidate extra time (accommodation)."""

    __tablename__ = "exam_candidates"
    __table_args__ = (UniqueConstraint("exam_id", "user_id", name="uq_exam_candidates_exam_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: True: added by hand; False: removed by hand; None: as the rules say (the row only carries extra time).
    included: Mapped[bool | None] = mapped_column(Boolean)
    extra_minutes: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(String(200), default="")
    #: A candidate in conflict of interest (rights over the exam's pool) kept on purpose: the written reason, set
    #: before publishing (exam.conflicts); null: no such decision.
    conflict_reason: Mapped[str | None] = mapped_column(String(500))

    user: Mapped[User] = relationship()


class Paper(db.Model):
    """The paper of one attempt of one candidate: the first drawn ahead of the start by `exams prepare`, any later
    one (when the exam allows several attempts) at its start, so a retake is a fresh paper."""

    __tablename__ = "papers"
    __table_args__ = (
        UniqueConstraint("exam_id", "user_id", "attempt_number", name="uq_papers_exam_user_attempt_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: The attempt this paper is for (1 for the first).
    attempt_number: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    #: The random seed the paper was drawn and shuffled with: the same seed gives the same paper.
    seed: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    items: Mapped[list["PaperItem"]] = relationship(
        back_populates="paper", order_by="PaperItem.position", cascade="all, delete-orphan"
    )


class PaperItem(db.Model):
    __tablename__ = "paper_items"
    __table_args__ = (UniqueConstraint("paper_id", "position", name="uq_paper_items_paper_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    #: 1-based place of the question in the paper, as the candidate sees it.
    position: Mapped[int] = mapped_column(Integer)
    section_id: Mapped[int] = mapped_column(ForeignKey("exam_sections.id", ondelete="CASCADE"))
    #: Indexed: "is this version used by an attempt?" (exam.integrity, migration 0013) is one lookup.
    question_version_id: Mapped[int] = mapped_column(
        ForeignKey("question_versions.id", ondelete="RESTRICT"), index=True
    )
    #: The order the options are shown in: option_order[i] is the original index shown at place i.
    option_order: Mapped[list] = mapped_column(JSON, default=list)
    points: Mapped[float] = mapped_column(Numeric(6, 2, asdecimal=False))

    paper: Mapped[Paper] = relationship(back_populates="items")
    section: Mapped[ExamSection] = relationship()
    version: Mapped[QuestionVersion] = relationship(lazy="joined")


class Attempt(db.Model):
    __tablename__ = "attempts"
    __table_args__ = (
        enum_check("status", AttemptStatus, "status_valid"),
        UniqueConstraint("exam_id", "user_id", "number", name="uq_attempts_exam_user_number"),
        # One attempt in progress per candidate and exam, whatever races there are: the database decides.
        Index(
            "uq_attempts_one_open",
            "exam_id",
            "user_id",
            unique=True,
            sqlite_where=text("status = 'in_progress'"),
            postgresql_where=text("status = 'in_progress'"),
        ),
        # The finalizer's sweep (every few seconds): the open attempts by deadline, however many have ended.
        Index(
            "ix_attempts_open_deadline",
            "deadline_at",
            sqlite_where=text("status = 'in_progress'"),
            postgresql_where=text("status = 'in_progress'"),
        ),
        # The home page (reports.dashboard, migration 0015): an open exam's candidates sitting and submitted are
        # counted from the index alone; the ended attempts still waiting for a grader are a handful of entries.
        Index("ix_attempts_exam_status_user", "exam_id", "status", "user_id"),
        Index(
            "ix_attempts_awaiting_grading",
            "exam_id",
            "user_id",
            "id",
            sqlite_where=text("fully_graded = 0 AND status != 'in_progress'"),
            postgresql_where=text("fully_graded = false AND status <> 'in_progress'"),
        ),
        # Ended attempts waiting for their grading (exam.grading_due, migration 0025): a handful at any time.
        Index(
            "ix_attempts_grading_due",
            "exam_id",
            "ended_at",
            sqlite_where=text("graded_at IS NULL AND status <> 'in_progress'"),
            postgresql_where=text("graded_at IS NULL AND status <> 'in_progress'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: 1 for the first attempt; the exam's attempts_allowed caps it (checked, and unique per candidate).
    number: Mapped[int] = mapped_column(Integer)
    #: Indexed: "is this paper used by an attempt?" (exam.integrity, migration 0013) is one lookup.
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="RESTRICT"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=AttemptStatus.IN_PROGRESS)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: When the time is up: min(start + duration + extra time, the window's close), fixed at the start (only a
    #: later close can move it, for an attempt the old close had cut short).
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The candidate's extra time when the attempt started (it counts for this attempt even if changed later).
    extra_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    score: Mapped[float | None] = mapped_column(Numeric(7, 2, asdecimal=False))
    #: True once every item has a score (essays by hand); the score and pass/fail are final then.
    fully_graded: Mapped[bool] = mapped_column(Boolean, default=False)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    #: Focus losses (切屏) reported by the exam page; the exam's focus-loss limit submits the attempt at the limit.
    focus_losses: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The exam page that holds the attempt (a random id given when the page is opened); a page opened later, on
    #: another device or after another login, takes over, and saves from the old one are refused.
    client_id: Mapped[str | None] = mapped_column(String(32))
    #: When its items were last graded (exam.scoring.grade). Empty on an ended attempt while it waits for grading
    #: (a candidate's submit leaves it to a job: exam.grading_due), and on one that has not ended.
    graded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When a key correction last changed this attempt's score (the candidate is told).
    regraded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Set while a proctor holds the candidate's clock (exam.adjustments.pause): saves are refused and the attempt
    #: is never finalized meanwhile; resuming moves the deadline on by the pause.
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: How many times the attempt was reopened after a mistaken end (exam.adjustments.reopen): the database lets a
    #: finalized attempt change its timing and status only together with a higher count (migration 0018).
    reopened: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Voided by a decision on an incident (exam.adjustments.void): the score is kept as graded, but it counts
    #: for nothing (no pass, no rank, no qualification).
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    void_reason: Mapped[str | None] = mapped_column(String(500))

    exam: Mapped[Exam] = relationship()
    paper: Mapped[Paper] = relationship()
    user: Mapped[User] = relationship()

    def time_left(self, now: datetime) -> timedelta:
        """The time left at `now`; frozen while a proctor holds the clock."""
        return max(self.deadline_at - (self.paused_at or now), timedelta(0))

    @property
    def awaits_grading(self) -> bool:
        """Ended, and its grading left to a job that has not run yet (a candidate's submit: exam.jobs.GRADE)."""
        return self.status != AttemptStatus.IN_PROGRESS and self.graded_at is None

    def overdue(self, now: datetime, grace: timedelta) -> bool:
        """In progress past its deadline and the grace for saves. A held clock is overdue only once the exam has
        closed (a proctor's pause never outlasts the exam)."""
        if self.status != AttemptStatus.IN_PROGRESS:
            return False
        if self.paused_at is not None:
            return now > self.exam.closes_at + grace
        return now > self.deadline_at + grace


class EventKind(StrEnum):
    FOCUS_LOSS = "focus_loss"  # the page lost focus: a tab or window switch (切屏)
    PASTE = "paste"
    AUTO_SUBMIT = "auto_submit"  # submitted by the server at a limit (detail "reason": focus, fullscreen, inactive)
    TAKEOVER = "takeover"  # the attempt was opened on another page (another device or login), which took it over
    # A proctor's actions (exam.adjustments), each with the actor, the reason and what changed in `detail`:
    EXTENDED = "extended"  # time added (a technical failure)
    PAUSED = "paused"  # the clock held
    RESUMED = "resumed"  # the clock running again, the deadline moved on by the pause
    FORCED = "forced"  # submitted by a proctor
    RELEASED = "released"  # the page's hold released, so that another computer may take the attempt over
    REOPENED = "reopened"  # an attempt ended by mistake opened again
    VOIDED = "voided"  # the score voided by a decision on an incident
    RESTORED = "restored"  # a voiding undone by a later decision
    # Proctoring in the browser (proctoring/, where the exam turned it on):
    FULLSCREEN_EXIT = "fullscreen_exit"  # out of full screen longer than the exam's grace (counted)
    FULLSCREEN_BACK = "fullscreen_back"  # back in full screen, with the seconds spent out of it
    INACTIVE = "inactive"  # no input for the exam's time and the whole warning's countdown
    CAMERA_OFF = "camera_off"  # no camera: refused at the start, unavailable, or stopped during the exam
    SNAPSHOT = "snapshot"  # a camera snapshot kept (its id in `detail`)


EVENT_LABELS = {
    EventKind.FOCUS_LOSS: _l("Left the exam page"),
    EventKind.PASTE: _l("Pasted text"),
    EventKind.AUTO_SUBMIT: _l("Submitted automatically"),
    EventKind.TAKEOVER: _l("Opened on another page, which took over"),
    EventKind.EXTENDED: _l("Time extended"),
    EventKind.PAUSED: _l("Clock paused"),
    EventKind.RESUMED: _l("Clock resumed"),
    EventKind.FORCED: _l("Submitted by a proctor"),
    EventKind.RELEASED: _l("Released to another computer"),
    EventKind.REOPENED: _l("Reopened"),
    EventKind.VOIDED: _l("Score voided"),
    EventKind.RESTORED: _l("Voided score restored"),
    EventKind.FULLSCREEN_EXIT: _l("Left full screen"),
    EventKind.FULLSCREEN_BACK: _l("Back in full screen"),
    EventKind.INACTIVE: _l("No input (inactive)"),
    EventKind.CAMERA_OFF: _l("Camera off"),
    EventKind.SNAPSHOT: _l("Camera snapshot"),
}


class AttemptEvent(db.Model):
    """An integrity signal of an attempt, as reported by the exam page or decided by the server, for the admins."""

    __tablename__ = "attempt_events"
    __table_args__ = (enum_check("kind", EventKind, "kind_valid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    #: When the server received it (the browser's clock is not trusted).
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Free detail from the page (e.g. the question shown), at most a few short fields.
    detail: Mapped[dict | None] = mapped_column(JSON)


class Answer(db.Model):
    """The latest saved answer to one item of an attempt (a higher client sequence number wins)."""

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("attempt_id", "position", name="uq_answers_attempt_position"),
        # The answers without points: a running attempt's, and the written ones waiting for a grader, which the home
        # page counts per exam (reports.dashboard, migration 0015) without reading the scored millions.
        Index(
            "ix_answers_ungraded",
            "attempt_id",
            sqlite_where=text("points IS NULL"),
            postgresql_where=text("points IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    #: The answer in the shape of its question type, options by their index in the question version (the client's
    #: shown indexes are mapped through the paper item's option order on saving); SQL NULL when unanswered.
    value: Mapped[object | None] = mapped_column(JSON(none_as_null=True))
    seq: Mapped[int] = mapped_column(Integer)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Points earned; null until graded (essays wait for a grader).
    points: Mapped[float | None] = mapped_column(Numeric(6, 2, asdecimal=False))
    #: Who gave the points by hand, when, and their comment (written answers only).
    grader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    graded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")


class KeyCorrection(db.Model):
    """A question's key as corrected for one exam after it was sat: grading and review use it instead of the
    version's own key (question versions never change). The audit log keeps every correction and its effect."""

    __tablename__ = "exam_key_corrections"
    __table_args__ = (UniqueConstraint("exam_id", "question_version_id", name="uq_exam_key_corrections_exam_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    question_version_id: Mapped[int] = mapped_column(ForeignKey("question_versions.id", ondelete="RESTRICT"))
    #: The key in the shape of the question type's key (as QuestionVersion.answer).
    answer: Mapped[object] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(500), default="")
    corrected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    corrected_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RosterFreeze(db.Model):
    """An exam's roster frozen at the close (exam.roster): when, and how many people it holds."""

    __tablename__ = "exam_roster_freezes"

    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), primary_key=True)
    frozen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    size: Mapped[int] = mapped_column(Integer)


class RosterEntry(db.Model):
    """One person of an exam's frozen roster, with their unit at the freeze (exam.roster)."""

    __tablename__ = "exam_roster"
    __table_args__ = (
        UniqueConstraint("exam_id", "user_id", name="uq_exam_roster_exam_user"),
        # The reports' participation per unit: counted from the index alone.
        Index("ix_exam_roster_exam_unit_user", "exam_id", "unit_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: The person's unit at the freeze (null: no cadre profile, or the unit was since deleted), with its path and
    #: name as they were then.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    unit_path: Mapped[str | None] = mapped_column(String(255))
    unit_name: Mapped[str | None] = mapped_column(String(100))


# ---------------------------------------------------------------- marking at scale (issue 22, part 1)


class MarkingMode(StrEnum):
    SINGLE = "single"  # one grader's mark is final
    DOUBLE = "double"  # two graders mark blind; the mean when they agree within the tolerance, else arbitration


class MarkingRole(StrEnum):
    MARKER = "marker"
    ARBITRATOR = "arbitrator"


class MarkKind(StrEnum):
    FIRST = "first"  # the first marker's (final at once in single marking)
    SECOND = "second"  # the second marker's (double marking)
    #: The final mark of a double-marked answer whose two marks agree within the tolerance: their mean, rounded
    #: half up to the nearest 0.5 and capped at the item's maximum (written by the second marker's decision).
    AGREED = "agreed"
    ARBITRATION = "arbitration"  # the arbitrator's, final
    SAMPLE = "sample"  # the chief grader's blind re-mark of a drawn sample: never changes the final mark
    APPEAL = "appeal"  # a decision on an appeal, final
    CORRECTION = "correction"  # a formal correction of a final result (approved by a second person), final


MARKING_MODE_LABELS = {MarkingMode.SINGLE: _l("Single marking"), MarkingMode.DOUBLE: _l("Double marking")}
MARKING_ROLE_LABELS = {MarkingRole.MARKER: _l("Marker"), MarkingRole.ARBITRATOR: _l("Arbitrator")}
MARK_KIND_LABELS = {
    MarkKind.FIRST: _l("First mark"),
    MarkKind.SECOND: _l("Second mark"),
    MarkKind.AGREED: _l("Agreed mark"),
    MarkKind.ARBITRATION: _l("Arbitration"),
    MarkKind.SAMPLE: _l("Sample re-mark"),
    MarkKind.APPEAL: _l("Appeal decision"),
    MarkKind.CORRECTION: _l("Formal correction"),
}


class MarkingPlan(db.Model):
    """An exam marked by assignment (流水阅卷): its written items go only to the graders assigned to them. Without a
    plan an exam is graded as before (any grader, one grade)."""

    __tablename__ = "marking_plans"
    __table_args__ = (
        enum_check("default_mode", MarkingMode, "default_mode_valid"),
        CheckConstraint("default_tolerance >= 0", name="default_tolerance_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), unique=True)
    #: The mode and tolerance (points) of every item without a setting of its own.
    default_mode: Mapped[str] = mapped_column(String(8), default=MarkingMode.SINGLE)
    default_tolerance: Mapped[float] = mapped_column(Numeric(6, 2, asdecimal=False), default=0)
    #: The chief grader (阅卷组长): draws and re-marks the samples (抽查), reads the consistency figures.
    chief_grader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class MarkingItem(db.Model):
    """A written question (version) of an exam marked its own way: mode and tolerance."""

    __tablename__ = "marking_items"
    __table_args__ = (
        UniqueConstraint("exam_id", "question_version_id", name="uq_marking_items_exam_version"),
        enum_check("mode", MarkingMode, "mode_valid"),
        CheckConstraint("tolerance >= 0", name="tolerance_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    question_version_id: Mapped[int] = mapped_column(ForeignKey("question_versions.id", ondelete="RESTRICT"))
    mode: Mapped[str] = mapped_column(String(8))
    #: Two marks differing by at most this many points agree; beyond, the answer goes to arbitration.
    tolerance: Mapped[float] = mapped_column(Numeric(6, 2, asdecimal=False))


class MarkingAssignment(db.Model):
    """A grader assigned to a written question of an exam, as one of its markers or arbitrators."""

    __tablename__ = "marking_assignments"
    __table_args__ = (
        UniqueConstraint("exam_id", "question_version_id", "user_id", "role", name="uq_marking_assignments"),
        enum_check("role", MarkingRole, "role_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    question_version_id: Mapped[int] = mapped_column(ForeignKey("question_versions.id", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))

    user: Mapped[User] = relationship()


class Mark(db.Model):
    """One grader's decision on one written answer, never changed (the database refuses updates and deletes): a new
    row for each decision. Answer.points holds the final mark (null until there is one)."""

    __tablename__ = "marks"
    __table_args__ = (
        enum_check("kind", MarkKind, "kind_valid"),
        CheckConstraint("points >= 0", name="points_positive"),
        # One first, second, agreed, arbitration and sample mark per answer, whatever races there are (appeals and
        # corrections may be several).
        Index(
            "uq_marks_answer_kind",
            "answer_id",
            "kind",
            unique=True,
            sqlite_where=text("kind NOT IN ('appeal', 'correction')"),
            postgresql_where=text("kind NOT IN ('appeal', 'correction')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), index=True)
    grader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[float] = mapped_column(Numeric(6, 2, asdecimal=False))
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MarkingSample(db.Model):
    """An answer drawn for the chief grader's sample re-mark (抽查), as one of `grader_id`'s marked answers."""

    __tablename__ = "marking_samples"
    __table_args__ = (UniqueConstraint("exam_id", "answer_id", "grader_id", name="uq_marking_samples"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"))
    #: The grader whose mark the sample checks.
    grader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    drawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime)
