"""The proctor console's pages (监考台): a room's console and its JSON twin, a session's console summing its rooms, the
district's view of an exam, a proctor's landing page, and the console's actions on one attempt (each a POST with a
reason, answered in JSON for static/js/console.js). The read model and why it polls: sitting/console.py."""

from flask import abort, current_app, jsonify, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from core.errors import DomainError
from core.extensions import db
from core.models import now_utc
from core.policy import may_proctor, permission_required, refuse_conflict, require_proctor
from exam import adjustments
from exam.models import Attempt, Exam
from sitting import bp, console
from sitting.forms import ConsoleActionForm
from sitting.models import ProctorAssignment, Room, Seat, Session
from sitting.services import proctored_sessions, room_load


def _session(session_id: int) -> Session:
    session = db.session.get(Session, session_id) or abort(404)
    refuse_conflict(exam_id=session.exam_id)  # a candidate proctors nothing of the exam they sit
    return session


def _room_of(session: Session, room_id: int) -> Room:
    link = next((link for link in session.rooms if link.room_id == room_id), None)
    if link is None:
        abort(404)
    return link.room


def _room_payload(session: Session, room: Room, now) -> dict:
    found = console.candidates(session.exam, now, session_id=session.id, room_ids=[room.id])
    return {
        "server_time": now.isoformat(),
        "summary": console.summary(found),
        "candidates": [c.as_json() for c in found],
        "poll_seconds": current_app.config.get("CONSOLE_POLL_SECONDS", console.CONSOLE_POLL_SECONDS),
        "silent_seconds": console.silent_limit(session.exam),
    }


@bp.route("/sessions/<int:session_id>/rooms/<int:room_id>/console")
@permission_required("sitting.proctor")
def room_console(session_id: int, room_id: int):
    session = _session(session_id)
    room = _room_of(session, room_id)
    require_proctor(session.id, room.id)
    now = now_utc()
    return render_template(
        "sitting/console_room.html", exam=session.exam, session=session, room=room,
        data=_room_payload(session, room, now), form=ConsoleActionForm(),
        feed=url_for("sitting.room_console_json", session_id=session.id, room_id=room.id),
        action_url=url_for("sitting.console_action", attempt_id=0, action="ACTION"),
        state_names={k: str(v) for k, v in console.STATE_LABELS.items()}, paste_alert=console.PASTE_ALERT,
        alert_names={k: str(v) for k, v in console.ALERT_LABELS.items()}, state_order=list(console.STATES),
        reopen_open=now <= session.ends_at,
    )  # fmt: skip


@bp.route("/sessions/<int:session_id>/rooms/<int:room_id>/console.json")
@permission_required("sitting.proctor")
def room_console_json(session_id: int, room_id: int):
    session = _session(session_id)
    room = _room_of(session, room_id)
    require_proctor(session.id, room.id)
    response = jsonify(_room_payload(session, room, now_utc()))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/sessions/<int:session_id>/console")
@permission_required("sitting.proctor")
def session_console(session_id: int):
    """The session's rooms summed: only the rooms the user may proctor (a room's proctor sees their room's line)."""
    session = _session(session_id)
    require_proctor(session.id)
    rooms = [link.room for link in session.rooms if may_proctor(current_user, session.id, link.room_id)]
    found = console.candidates(session.exam, now_utc(), session_id=session.id, room_ids=[r.id for r in rooms])
    per_room = console.by_room(found)
    empty = console.summary([])
    return render_template(
        "sitting/console_session.html", exam=session.exam, session=session, total=console.summary(found),
        rows=[(room, per_room.get((session.id, room.id), empty)) for room in rooms],
        states=console.STATE_LABELS, alerts=console.ALERT_LABELS,
    )  # fmt: skip


@bp.route("/exams/<code>/console")
@permission_required("sitting.manage")
def exam_console(code: str):
    """The district's view of an exam's day: every session and room summed."""
    exam = db.session.scalar(select(Exam).where(Exam.code == code)) or abort(404)
    refuse_conflict(exam_id=exam.id)
    sessions = db.session.scalars(select(Session).where(Session.exam_id == exam.id).order_by(Session.starts_at)).all()
    found = console.candidates(exam, now_utc())
    per_room = console.by_room(found)
    empty = console.summary([])
    rows = [
        (session, [(link.room, per_room.get((session.id, link.room_id), empty)) for link in session.rooms])
        for session in sessions
    ]
    unplaced = console.summary([c for c in found if c.room_id is None])
    return render_template(
        "sitting/console_exam.html", exam=exam, rows=rows, total=console.summary(found), unplaced=unplaced,
        states=console.STATE_LABELS, alerts=console.ALERT_LABELS,
    )  # fmt: skip


@bp.route("/proctor/")
@permission_required("sitting.proctor")
def proctor_home():
    """A proctor's sessions and, for each, the rooms they watch (a whole-session assignment: all its rooms)."""
    sessions = proctored_sessions(current_user)
    mine = db.session.execute(
        select(ProctorAssignment.session_id, ProctorAssignment.room_id).where(
            ProctorAssignment.user_id == current_user.id
        )
    ).all()
    places = [
        (session, [link.room for link in session.rooms if any(
            s == session.id and (r is None or r == link.room_id) for s, r in mine)])
        for session in sessions
    ]  # fmt: skip
    return render_template("sitting/proctor_home.html", places=places, now=now_utc())


# ---------------------------------------------------------------- actions on one attempt


def _extend(attempt, form, now):
    return adjustments.extend(attempt, form.minutes.data, current_user, form.reason.data, now)


def _reopen(attempt, form, now):
    seat = db.session.scalar(select(Seat).where(Seat.exam_id == attempt.exam_id, Seat.user_id == attempt.user_id))
    if seat is None or seat.session is None or now > seat.session.ends_at:
        raise DomainError(
            _("An attempt can be reopened only until the end of its session."), code="session_over", status=409
        )
    return adjustments.reopen(attempt, form.minutes.data, current_user, form.reason.data, now)


ACTIONS = {
    "extend": _extend,
    "pause": lambda attempt, form, now: adjustments.pause(attempt, current_user, form.reason.data, now),
    "resume": lambda attempt, form, now: adjustments.resume(attempt, current_user, form.reason.data, now),
    "submit": lambda attempt, form, now: adjustments.force_submit(attempt, current_user, form.reason.data, now),
    "release": lambda attempt, form, now: adjustments.release(attempt, current_user, form.reason.data, now),
    "reopen": _reopen,
}


@bp.route("/attempts/<int:attempt_id>/<action>", methods=["POST"])
@permission_required("sitting.proctor")
def console_action(attempt_id: int, action: str):
    """One of the console's actions on an attempt, by a proctor of the candidate's room (or the district). JSON
    answers: the attempt's new state, or the error's code and message."""
    if action not in ACTIONS:
        abort(404)
    attempt = db.session.get(Attempt, attempt_id) or abort(404)
    refuse_conflict(exam_id=attempt.exam_id)
    seat = db.session.scalar(select(Seat).where(Seat.exam_id == attempt.exam_id, Seat.user_id == attempt.user_id))
    if seat is None or seat.session_id is None:
        abort(404)  # not sat in a session: none of the console's business
    if not console.may_act_on(current_user, seat):
        abort(403)
    if attempt.user_id == current_user.id:
        abort(403)  # an admin who also sits the exam does not proctor their own attempt
    form = ConsoleActionForm()
    if not form.validate_on_submit():
        return jsonify(error={"code": "bad_request", "message": _("The form was not valid; reload the page.")}), 400
    if not (form.reason.data or "").strip():  # every action says why (the sitting record shows it)
        return jsonify(error={"code": "reason_required", "message": _("Give a reason.")}), 400
    now = now_utc()
    try:
        attempt = ACTIONS[action](attempt, form, now)
    except DomainError as exc:
        db.session.rollback()
        return jsonify(error={"code": exc.code, "message": str(exc.message)}), exc.status
    return jsonify(
        attempt=attempt.id, status=attempt.status, paused=attempt.paused_at is not None,
        deadline_at=attempt.deadline_at.isoformat(), message=_("Done."),
    )  # fmt: skip


# ---------------------------------------------------------------- the partial for the exam's page


def session_rooms(session: Session) -> list[tuple[Room, int]]:
    """(room, candidates seated) of a session, for templates/sitting/_session_console.html."""
    return [(link.room, room_load(session, link.room)) for link in session.rooms]
