"""The record of every long job (`jobs`) and the files that jobs and import previews keep (`stored_files`).

The row is the job's durable state and its outbox: it is written in the transaction that asks for the work, and the
engine is told after that transaction commits (`jobs.engine`); a job the engine never heard of (the process died
between the commit and the dispatch) is dispatched again by the periodic sweep. Live progress and the heartbeat are
kept in the engine's own store (`jobs.engine.progress_of`), never in this table: a job that holds a long write
transaction on SQLite must not wait on its own progress bar.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.crypto import EncryptedBlob
from core.extensions import db
from core.models import UTCDateTime, now_utc


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    #: Failed at least once and waiting for its next try (back-off).
    RETRYING = "retrying"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED})


class Job(db.Model):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_created", "state", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The registered kind, e.g. "reports.item-analysis" (jobs.registry).
    kind: Mapped[str] = mapped_column(String(64))
    #: JSON parameters the handler reads: ids and codes, never whole objects.
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED)
    #: Who asked for it (null for the periodic sweep and the command line without --as).
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Tries so far (a worker lost mid-job counts as a try).
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    #: The token of the run that holds the job: only that run may record its completion.
    runner: Mapped[str | None] = mapped_column(String(40))
    #: The last progress written when the job finished (live progress lives in the engine's store).
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int | None] = mapped_column()
    #: What the job produced, for the page: {"message": …, "url": …, "files": [stored file tokens]}.
    result: Mapped[dict | None] = mapped_column(JSON)
    #: Why it failed, in words for the person who started it.
    error: Mapped[str | None] = mapped_column(Text)

    #: By the table's name: jobs sit below the domain packages and import none of them.
    created_by = relationship("User", lazy="joined")

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


class StoredFile(db.Model):
    """A file every node reaches: a job's download or an upload waiting for its import's confirmation.

    Kept in the database (not in instance/) so that any node serves it; removed when it expires (a day for previews,
    a week for downloads: `jobs.files.remove_expired`, run by the sweep)."""

    __tablename__ = "stored_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The unguessable name in URLs and forms.
    token: Mapped[str] = mapped_column(String(43), unique=True)
    #: "download" (a job's result), "secret" (a result for its owner's eyes only: one-time passwords) or "upload"
    #: (an import preview's file).
    purpose: Mapped[str] = mapped_column(String(16))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    #: Whose file it is: only this user (or, for a job's plain download, a district admin) may read it.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    mimetype: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column()
    #: Encrypted at rest (uploads and downloads carry personal data and one-time passwords); loaded when read.
    data: Mapped[bytes] = mapped_column(EncryptedBlob, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    #: Set when an import consumed the upload: a second confirmation (a double click) finds it taken.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
