"""The proctor console's read model (监考台): every candidate of a room (or a session, or an exam) with their state,
their progress and the alerts a proctor should look at, in six statements whatever the number of candidates
(seats with their users, the attempts, the answers counted per attempt, the events counted per attempt, the
extensions, the papers' sizes), never one per candidate. It shows no answer and no key: only counts and times.

How "online or silent" is known. A candidate's page touches the server in three ways: it saves answers (each save
stamps `answers.saved_at`), it reports events (focus losses, pastes: `attempt_events.at`), and it re-reads the
attempt every EXAM_SYNC_SECONDS (a GET, which writes nothing). The console counts the first two, which are already
stored and so cost nothing: "last contact" is the latest of the attempt's start, its last save and its last event.
A heartbeat (a column stamped by the periodic GET) would also see a candidate who reads a long question without
typing, but it costs one write per candidate per interval (10,000 candidates every 15 s: ~670 writes a second, more
than the saves themselves) and a write on a path that is a read today. With the silence threshold in minutes
(SittingSettings.silent_alert_minutes, 3 by default) a candidate who neither answers nor touches anything for that
long is worth a look from the proctor anyway, so the free signal is the one used; a silent alert means "look at this
candidate", not "offline for sure".

How the page stays live. The console page polls its JSON twin every few seconds (CONSOLE_POLL_SECONDS) rather than
holding a server-sent event stream: the app runs under gunicorn with sync (or gthread) workers, where an open SSE
stream holds a worker (or a thread) for as long as the page is open, so 40 consoles would hold 40 workers that the
candidates' saves need; a poll is one short request that costs a few milliseconds (bench/bench_console.py)."""

from dataclasses import dataclass, field, fields
from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy import case, func, select

from accounts.models import User
from core.extensions import db
from core.policy import has_district_scope, may_proctor
from exam.models import Answer, Attempt, AttemptEvent, AttemptStatus, EventKind, Exam, PaperItem
from sitting.models import ProctorAssignment, Seat, SittingSettings

#: How often the console page asks for its JSON twin, in seconds.
CONSOLE_POLL_SECONDS = 5
#: Pastes in one attempt from which the console raises an alert.
PASTE_ALERT = 3
#: A candidate whose last contact is younger than this (seconds) is shown online.
ONLINE_SECONDS = 60


class State:
    ABSENT = "absent"
    NOT_CHECKED_IN = "not_checked_in"
    CHECKED_IN = "checked_in"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    EXPIRED = "expired"  # finalized by the server at the deadline


STATES = (State.NOT_CHECKED_IN, State.CHECKED_IN, State.IN_PROGRESS, State.SUBMITTED, State.EXPIRED, State.ABSENT)
STATE_LABELS = {  # in the order of STATES
    State.NOT_CHECKED_IN: _l("Not checked in"),
    State.CHECKED_IN: _l("Checked in"),
    State.IN_PROGRESS: _l("In progress"),
    State.SUBMITTED: _l("Submitted"),
    State.EXPIRED: _l("Finalized at the deadline"),
    State.ABSENT: lazy_pgettext("exam", "Absent"),  # 缺考, as the ranking's absent list
}
ALERT_LABELS = {
    "silent": _l("Silent too long"),
    "focus": _l("Focus-loss limit near"),
    "pastes": _l("Many pastes"),
    # Proctoring in the browser (proctoring/), where the exam watches it:
    "fullscreen": _l("Left full screen"),
    "inactive": _l("Inactive"),
    "camera": _l("Camera off"),
}


@dataclass
class Candidate:
    """One candidate's line on the console."""

    user_id: int
    name: str
    username: str
    session_id: int | None
    room_id: int | None
    seat_no: int | None
    ticket_no: str
    checked_in_at: datetime | None
    absent_at: datetime | None
    state: str = State.NOT_CHECKED_IN
    attempt_id: int | None = None
    started_at: datetime | None = None
    deadline_at: datetime | None = None
    ended_at: datetime | None = None
    paused: bool = False
    answered: int = 0
    total: int = 0
    last_save: datetime | None = None
    last_contact: datetime | None = None
    silent_seconds: int | None = None
    online: bool = False
    focus_losses: int = 0
    pastes: int = 0
    fullscreen_exits: int = 0
    inactive: int = 0
    camera_off: int = 0
    snapshots: int = 0  # camera snapshots kept (the link to them is the proctor's)
    extra_minutes: int = 0  # the candidate's own extra time (set before the start)
    extended_minutes: int = 0  # given by proctors since
    seconds_left: int | None = None
    alerts: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        """The line as JSON: times in ISO 8601; the labels of states and alerts are sent once, with the page."""
        data = {name: getattr(self, name) for name in _FIELDS}
        for name in _TIMES:
            if data[name] is not None:
                data[name] = data[name].isoformat()
        data["alerts"] = list(self.alerts)
        return data


_FIELDS = [f.name for f in fields(Candidate) if f.name != "last_contact"]
_TIMES = [name for name in _FIELDS if name.endswith("_at") or name == "last_save"]


def may_act_on(user, seat: Seat) -> bool:
    """May `user` act on the attempt of the candidate in `seat` from the console: a proctor of the seat's room (or of
    its whole session), or the district. A candidate of the session not yet placed in a room is the district's or a
    whole-session proctor's, not any room's proctor's."""
    if seat.session_id is None or not may_proctor(user, seat.session_id, seat.room_id):
        return False
    if seat.room_id is not None or has_district_scope(user):
        return True
    return (
        db.session.scalar(
            select(ProctorAssignment.id).where(
                ProctorAssignment.session_id == seat.session_id,
                ProctorAssignment.user_id == user.id,
                ProctorAssignment.room_id.is_(None),
            )
        )
        is not None
    )


def silent_limit(exam: Exam) -> int:
    """Seconds of silence after which the console raises an alert: the exam's sitting settings (3 minutes unless
    set), or CONSOLE_SILENT_SECONDS when the configuration sets it (a drill, the browser tests)."""
    configured = current_app.config.get("CONSOLE_SILENT_SECONDS")
    if configured:
        return int(configured)
    settings = db.session.get(SittingSettings, exam.id)
    return (settings.silent_alert_minutes if settings else 3) * 60


def _seat_filter(exam_id: int, session_id: int | None, room_ids):
    where = [Seat.exam_id == exam_id]
    if session_id is not None:
        where.append(Seat.session_id == session_id)
    if room_ids is not None:
        where.append(Seat.room_id.in_(list(room_ids)))
    return where


def candidates(exam: Exam, now: datetime, *, session_id: int | None = None, room_ids=None) -> list[Candidate]:
    """The candidates seated in `room_ids` of the session (None: all of the session's, or all of the exam's), in
    seat order, each with their state and alerts at `now`. Six statements, whatever their number."""
    silent_after = silent_limit(exam)
    rows = db.session.execute(
        select(
            Seat.user_id,
            User.name,
            User.username,
            Seat.session_id,
            Seat.room_id,
            Seat.seat_no,
            Seat.ticket_no,
            Seat.checked_in_at,
            Seat.absent_at,
        )  # fmt: skip
        .join(User, User.id == Seat.user_id)
        .where(*_seat_filter(exam.id, session_id, room_ids))
        .order_by(Seat.session_id, Seat.room_id, Seat.seat_no, Seat.ticket_no)
    ).all()
    found = [Candidate(*row) for row in rows]
    if not found:
        return found
    by_user = {c.user_id: c for c in found}
    # The attempts: the latest of each candidate (one in progress at most, by the database's own rule).
    seated = select(Seat.user_id).where(*_seat_filter(exam.id, session_id, room_ids))
    latest: dict[int, tuple] = {}
    for row in db.session.execute(
        select(
            Attempt.id,
            Attempt.user_id,
            Attempt.number,
            Attempt.status,
            Attempt.started_at,
            Attempt.deadline_at,
            Attempt.ended_at,
            Attempt.paused_at,
            Attempt.focus_losses,
            Attempt.paper_id,
            Attempt.extra_minutes,
        ).where(Attempt.exam_id == exam.id, Attempt.user_id.in_(seated))  # fmt: skip
    ):
        if row.user_id not in latest or row.number > latest[row.user_id].number:
            latest[row.user_id] = row
    ids = [row.id for row in latest.values()]
    answered = {}
    if ids:
        answered = {
            r.attempt_id: r
            for r in db.session.execute(
                select(Answer.attempt_id, func.count(Answer.value).label("n"), func.max(Answer.saved_at).label("last"))
                .where(Answer.attempt_id.in_(ids))
                .group_by(Answer.attempt_id)
            )
        }
    events = {}
    if ids:
        events = {
            r.attempt_id: r
            for r in db.session.execute(
                select(
                    AttemptEvent.attempt_id,
                    func.sum(case((AttemptEvent.kind == EventKind.PASTE, 1), else_=0)).label("pastes"),
                    func.sum(case((AttemptEvent.kind == EventKind.FULLSCREEN_EXIT, 1), else_=0)).label("fullscreen"),
                    func.sum(case((AttemptEvent.kind == EventKind.INACTIVE, 1), else_=0)).label("inactive"),
                    func.sum(case((AttemptEvent.kind == EventKind.CAMERA_OFF, 1), else_=0)).label("camera_off"),
                    func.sum(case((AttemptEvent.kind == EventKind.SNAPSHOT, 1), else_=0)).label("snapshots"),
                    func.max(AttemptEvent.at).label("last"),
                )
                .where(AttemptEvent.attempt_id.in_(ids))
                .group_by(AttemptEvent.attempt_id)
            )
        }
    extended: dict[int, int] = {}
    if ids:  # a proctor's extensions are few: their minutes are read from the events' detail
        for attempt_id, detail in db.session.execute(
            select(AttemptEvent.attempt_id, AttemptEvent.detail).where(
                AttemptEvent.attempt_id.in_(ids), AttemptEvent.kind == EventKind.EXTENDED
            )
        ):
            extended[attempt_id] = extended.get(attempt_id, 0) + int((detail or {}).get("minutes") or 0)
    papers = {row.paper_id for row in latest.values()}
    sizes = dict(
        db.session.execute(
            select(PaperItem.paper_id, func.count()).where(PaperItem.paper_id.in_(papers)).group_by(PaperItem.paper_id)
        ).all()
    ) if papers else {}  # fmt: skip
    limit = exam.focus_loss_limit
    for user_id, row in latest.items():
        c = by_user[user_id]
        c.attempt_id, c.started_at, c.deadline_at, c.ended_at = row.id, row.started_at, row.deadline_at, row.ended_at
        c.paused, c.focus_losses, c.total = row.paused_at is not None, row.focus_losses, sizes.get(row.paper_id, 0)
        saved, ev = answered.get(row.id), events.get(row.id)
        c.answered = saved.n if saved else 0
        c.last_save = saved.last if saved else None
        c.pastes = int(ev.pastes or 0) if ev else 0
        if ev:
            c.fullscreen_exits, c.inactive = int(ev.fullscreen or 0), int(ev.inactive or 0)
            c.camera_off, c.snapshots = int(ev.camera_off or 0), int(ev.snapshots or 0)
        c.extra_minutes, c.extended_minutes = row.extra_minutes or 0, extended.get(row.id, 0)
        c.last_contact = max(t for t in (row.started_at, c.last_save, ev.last if ev else None) if t is not None)
        if row.status == AttemptStatus.IN_PROGRESS:
            c.state = State.IN_PROGRESS
            c.silent_seconds = max(0, int((now - c.last_contact).total_seconds()))
            c.online = c.silent_seconds < min(ONLINE_SECONDS, silent_after)
            c.seconds_left = int(max((row.deadline_at - (row.paused_at or now)).total_seconds(), 0))
            if c.silent_seconds >= silent_after and not c.paused:
                c.alerts.append("silent")
            if limit and c.focus_losses >= limit - 1:
                c.alerts.append("focus")
            if c.pastes >= PASTE_ALERT:
                c.alerts.append("pastes")
            for name, count in (("fullscreen", c.fullscreen_exits), ("inactive", c.inactive),
                                ("camera", c.camera_off)):  # fmt: skip
                if count:
                    c.alerts.append(name)
        else:
            c.state = State.EXPIRED if row.status == AttemptStatus.EXPIRED else State.SUBMITTED
    for c in found:
        if c.attempt_id is None:
            c.state = State.ABSENT if c.absent_at else State.CHECKED_IN if c.checked_in_at else State.NOT_CHECKED_IN
    return found


def summary(found: list[Candidate]) -> dict:
    """Counts per state and alert (for the session's and the district's views)."""
    counts = {state: 0 for state in STATES}
    alerts = {name: 0 for name in ALERT_LABELS}
    for c in found:
        counts[c.state] += 1
        for name in c.alerts:
            alerts[name] += 1
    return {"total": len(found), "states": counts, "alerts": alerts, "paused": sum(c.paused for c in found)}


def by_room(found: list[Candidate]) -> dict[tuple, dict]:
    """Summaries per (session, room) of a list of candidates."""
    groups: dict[tuple, list[Candidate]] = {}
    for c in found:
        groups.setdefault((c.session_id, c.room_id), []).append(c)
    return {key: summary(group) for key, group in groups.items()}
