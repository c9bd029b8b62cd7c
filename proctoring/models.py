"""An exam's proctoring in the browser (its settings) and the camera snapshots kept with attempts."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.models import UTCDateTime, enum_check
from exam.models import Attempt, Exam

#: Why a snapshot was taken: at the start, on the interval, at a focus loss, at a full-screen exit.
SNAPSHOT_REASONS = ("start", "interval", "focus", "fullscreen")


class ProctoringSettings(db.Model):
    """What the exam page watches besides focus losses and pastes (which every exam records). One row per exam
    that turned anything on; an exam without a row watches nothing more (`proctoring.services.settings_of`)."""

    __tablename__ = "proctoring_settings"

    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), primary_key=True)
    #: The candidate's name, employee number and the time drawn faintly across the paper.
    watermark: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The paper is taken in full screen; a leave longer than the grace is counted, and the limit submits.
    fullscreen: Mapped[bool] = mapped_column(Boolean, default=False)
    fullscreen_grace_seconds: Mapped[int] = mapped_column(Integer, default=3)
    fullscreen_exit_limit: Mapped[int | None] = mapped_column(Integer)
    #: No input for this long shows a warning with a countdown (inactivity_warning_seconds); its end is recorded,
    #: and submits the paper when inactivity_submit.
    inactivity_minutes: Mapped[int | None] = mapped_column(Integer)
    inactivity_warning_seconds: Mapped[int] = mapped_column(Integer, default=60)
    inactivity_submit: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Camera snapshots with the candidate's consent: at the start, every snapshot_minutes and at each focus loss.
    snapshots: Mapped[bool] = mapped_column(Boolean, default=False)
    snapshot_minutes: Mapped[int] = mapped_column(Integer, default=5)
    #: Without consent and a camera the start is refused (otherwise the attempt starts, and that is recorded).
    camera_required: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Snapshots are deleted this many days after the exam closes (a periodic job).
    snapshot_retention_days: Mapped[int] = mapped_column(Integer, default=90)
    #: An attempt starts only from these address ranges (CIDR, separated by commas, spaces or lines); "": any.
    networks: Mapped[str] = mapped_column(Text, default="")

    exam: Mapped[Exam] = relationship()


class Snapshot(db.Model):
    """A camera snapshot of an attempt: a small JPEG on disk (`path`, under the SNAPSHOT_DIR folder), its size and
    digest here. Deleted with its file when the exam's retention ends."""

    __tablename__ = "attempt_snapshots"
    __table_args__ = (enum_check("reason", SNAPSHOT_REASONS, "reason_valid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"), index=True)
    #: When the server received it.
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(255))

    attempt: Mapped[Attempt] = relationship()
