"""The score lifecycle's tables: which exams are official, their state and its history, the public notices
(公示) and the working-day calendar (holidays and adjusted working days)."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from core.extensions import db
from core.models import UTCDateTime, enum_check
from exam.models import Exam


class State(StrEnum):
    MARKING = "marking"  # 阅卷中
    MARKED = "marked"  # 阅卷完成: closed and every attempt fully graded (computed, never stored)
    CHECKED = "checked"  # 复核
    APPROVED = "approved"  # 审批
    NOTICE = "notice"  # 公示
    FINAL = "final"  # 归档


class Scope(StrEnum):
    CANDIDATES = "candidates"
    UNITS = "units"
    DISTRICT = "district"


class DayKind(StrEnum):
    HOLIDAY = "holiday"  # a public holiday on a weekday: not a working day
    WORKDAY = "workday"  # an adjusted working day (调休) on a weekend: a working day


class OfficialExam(db.Model):
    """An exam under the lifecycle (registered by a district admin before it closes). Its `stage` is the last
    state a person moved it to; `marking` reads as `marked` once the exam has closed and every attempt is fully
    graded (results.lifecycle.state)."""

    __tablename__ = "results_official_exams"
    __table_args__ = (
        enum_check("stage", [s.value for s in State if s != State.MARKED], "stage_valid"),
        enum_check("scope", [s.value for s in Scope], "scope_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), unique=True)
    stage: Mapped[str] = mapped_column(String(16), default=State.MARKING)
    #: Who sees the notice: the candidates, everyone in their units, or the whole district.
    scope: Mapped[str] = mapped_column(String(16), default=Scope.CANDIDATES)
    #: The notice period, in working days.
    notice_days: Mapped[int] = mapped_column(Integer, default=5)
    #: How to appeal, printed on the notice.
    appeal_how: Mapped[str] = mapped_column(Text, default="")
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The check report as it stood when the results were checked (code -> title, ok, count), and the note.
    check_report: Mapped[dict | None] = mapped_column(JSON)
    check_note: Mapped[str] = mapped_column(Text, default="")
    checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approve_note: Mapped[str] = mapped_column(Text, default="")
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    final_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    exam: Mapped[Exam] = relationship()
    checked_by: Mapped[User | None] = relationship(foreign_keys=[checked_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])


class StateChange(db.Model):
    """One move of an exam's results, kept for the history (from, to, who, when, the note or reason)."""

    __tablename__ = "results_state_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")

    actor: Mapped[User | None] = relationship()


class Notice(db.Model):
    """A published notice list (公示). A revision is a new row with a new serial; the old one is kept and marked
    superseded. `rows` is the list as published (name, unit, parts, total, passed), so a later change of a name or
    a unit never rewrites a notice that was shown."""

    __tablename__ = "results_notices"
    __table_args__ = (UniqueConstraint("exam_id", "version", name="uq_results_notices_exam_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    #: Printed on the notice and its PDF, and the key of its public verification page.
    serial: Mapped[str] = mapped_column(String(40), unique=True)
    version: Mapped[int] = mapped_column(Integer)
    scope: Mapped[str] = mapped_column(String(16))
    days: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The end of the notice period (the end of its last working day, local time) and the appeal deadline.
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revision_reason: Mapped[str | None] = mapped_column(Text)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Section titles in order, then one row per candidate: {user_id, name, unit, unit_path, parts, total, passed}.
    parts: Mapped[list] = mapped_column(JSON, default=list)
    rows: Mapped[list] = mapped_column(JSON, default=list)
    appeal_how: Mapped[str] = mapped_column(Text, default="")

    exam: Mapped[Exam] = relationship()

    @property
    def superseded(self) -> bool:
        return self.superseded_at is not None

    @property
    def appeal_deadline(self) -> datetime:
        return self.ends_at

    # What core.policy.may_see_notice needs of a notice (it knows no domain).
    @property
    def audience_user_ids(self) -> frozenset[int]:
        return frozenset(r["user_id"] for r in self.rows)

    @property
    def audience_unit_paths(self) -> frozenset[str]:
        return frozenset(r["unit_path"] for r in self.rows if r.get("unit_path"))


class CalendarDay(db.Model):
    """A day that breaks the weekend rule: a public holiday on a weekday, or an adjusted working day on a weekend."""

    __tablename__ = "results_calendar_days"
    __table_args__ = (enum_check("kind", [k.value for k in DayKind], "kind_valid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100), default="")
