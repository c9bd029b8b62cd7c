"""The sitting: rooms (kept per unit and reused), an exam's sessions (场次) and the rooms each uses, every
candidate's place (session, room, seat, ticket, check-in or absence), the proctors' assignments, and incidents
(违纪) with the district's decisions. The exam engine knows none of this: it asks `exam.attempts`' start checks,
one of which this package registers (sitting.checkin)."""

from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import Unit, User
from core.extensions import db
from core.models import UTCDateTime, enum_check, now_utc
from exam.models import Exam


class Room(db.Model):
    """An exam room (考场) of a unit: kept and reused from exam to exam."""

    __tablename__ = "rooms"
    __table_args__ = (
        UniqueConstraint("unit_id", "name", name="uq_rooms_unit_name"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("computers >= 0", name="computers_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200), default="")
    #: Seats: how many candidates the room takes in one session.
    capacity: Mapped[int] = mapped_column(Integer)
    #: Working computers (a room may have fewer than seats: candidates on their phones, or spare seats).
    computers: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[str] = mapped_column(Text, default="")
    #: The room's network as CIDR ranges, one per line or separated by commas (empty: any address); used when an
    #: exam restricts starts to the room's network.
    networks: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    unit: Mapped[Unit] = relationship(lazy="joined")

    @property
    def unit_path(self) -> str:
        return self.unit.path


class SittingSettings(db.Model):
    """How an exam is sat, beyond its own settings: whether an attempt needs a check-in, whether it must come from
    the room's network, and when tickets were released to the candidates. One row per exam that has sessions."""

    __tablename__ = "sitting_settings"

    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), primary_key=True)
    #: An attempt starts only after the candidate was checked in, and only in their session's window.
    requires_checkin: Mapped[bool] = mapped_column(Boolean, default=False)
    #: An attempt starts only from an address in the candidate's room's networks (Room.networks).
    restrict_network: Mapped[bool] = mapped_column(Boolean, default=False)
    #: When the candidates could first download their tickets (None: not released).
    tickets_released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Minutes of silence (no save, no page contact) after which the console raises an alert.
    silent_alert_minutes: Mapped[int] = mapped_column(Integer, default=3)

    exam: Mapped[Exam] = relationship()


class Session(db.Model):
    """A session (场次) of an exam: when it is sat, and its check-in window."""

    __tablename__ = "sitting_sessions"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="window_order"),
        CheckConstraint("checkin_closes_at > checkin_opens_at", name="checkin_order"),
        UniqueConstraint("exam_id", "name", name="uq_sitting_sessions_exam_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    checkin_opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    checkin_closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: When the absences of the session were recorded (at the end of the check-in window; once).
    absences_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    exam: Mapped[Exam] = relationship()
    rooms: Mapped[list["SessionRoom"]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="SessionRoom.position"
    )


class SessionRoom(db.Model):
    """A room used by a session."""

    __tablename__ = "sitting_session_rooms"
    __table_args__ = (UniqueConstraint("session_id", "room_id", name="uq_sitting_session_rooms_session_room"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sitting_sessions.id", ondelete="CASCADE"), index=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="RESTRICT"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    session: Mapped[Session] = relationship(back_populates="rooms")
    room: Mapped[Room] = relationship(lazy="joined")


class Seat(db.Model):
    """A candidate's place in an exam: session, room and seat (None until assigned), the ticket number, and the
    check-in or the absence. One per candidate and exam; a seat number is taken once per room and session."""

    __tablename__ = "sitting_seats"
    __table_args__ = (
        UniqueConstraint("exam_id", "user_id", name="uq_sitting_seats_exam_user"),
        UniqueConstraint("exam_id", "ticket_no", name="uq_sitting_seats_exam_ticket"),
        UniqueConstraint("session_id", "room_id", "seat_no", name="uq_sitting_seats_room_seat"),
        CheckConstraint("seat_no IS NULL OR seat_no > 0", name="seat_positive"),
        CheckConstraint("room_id IS NULL OR session_id IS NOT NULL", name="room_needs_session"),
        CheckConstraint("seat_no IS NULL OR room_id IS NOT NULL", name="seat_needs_room"),
        Index("ix_sitting_seats_session_room", "session_id", "room_id", "seat_no"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sitting_sessions.id", ondelete="SET NULL"))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="RESTRICT"))
    seat_no: Mapped[int | None] = mapped_column(Integer)
    #: The admission ticket's number (准考证号): given once, never reused within the exam.
    ticket_no: Mapped[str] = mapped_column(String(32))
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_in_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: Recorded absent (缺考) at the end of the session's check-in window.
    absent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    exam: Mapped[Exam] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    session: Mapped[Session | None] = relationship()
    room: Mapped[Room | None] = relationship()


class ProctorAssignment(db.Model):
    """A proctor (监考员) watches a session's room, or (room None) the whole session."""

    __tablename__ = "sitting_proctors"
    __table_args__ = (UniqueConstraint("session_id", "room_id", "user_id", name="uq_sitting_proctors_place_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sitting_sessions.id", ondelete="CASCADE"), index=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)

    session: Mapped[Session] = relationship()
    room: Mapped[Room | None] = relationship()
    user: Mapped[User] = relationship()


class IncidentKind(StrEnum):
    MATERIALS = "materials"  # 携带资料
    IMPERSONATION = "impersonation"  # 替考
    TALKING = "talking"  # 交头接耳
    SWITCHING = "switching"  # 多次切屏
    EQUIPMENT = "equipment"  # 设备故障
    OTHER = "other"


INCIDENT_LABELS = {
    IncidentKind.MATERIALS: _l("Unauthorised materials"),
    IncidentKind.IMPERSONATION: _l("Sitting for someone else"),
    IncidentKind.TALKING: _l("Talking to other candidates"),
    IncidentKind.SWITCHING: _l("Repeatedly leaving the exam page"),
    IncidentKind.EQUIPMENT: _l("Equipment failure"),
    IncidentKind.OTHER: _l("Other"),
}


class Decision(StrEnum):
    NO_EFFECT = "no_effect"
    WARNING = "warning"
    PART_VOIDED = "part_voided"  # this exam's (this part's) score voided
    EXAM_VOIDED = "exam_voided"  # the whole qualification's exams voided


DECISION_LABELS = {
    Decision.NO_EFFECT: _l("No effect"),
    Decision.WARNING: _l("Warning"),
    Decision.PART_VOIDED: _l("This part's score voided"),
    Decision.EXAM_VOIDED: _l("Whole exam voided"),
}


class Incident(db.Model):
    """An incident (违纪 or a technical failure) a proctor recorded, and the district's decision on it."""

    __tablename__ = "sitting_incidents"
    __table_args__ = (
        enum_check("kind", IncidentKind, "kind_valid"),
        enum_check("decision", Decision, "decision_valid"),
        Index("ix_sitting_incidents_session_room", "session_id", "room_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sitting_sessions.id", ondelete="SET NULL"))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="SET NULL"))
    #: The candidate concerned.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    #: When it happened (as the proctor says; may be before it was recorded).
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    description: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decision: Mapped[str | None] = mapped_column(String(32))
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    exam: Mapped[Exam] = relationship()
    session: Mapped[Session | None] = relationship()
    room: Mapped[Room | None] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
