"""The check-in page at the door (phone first): the camera scanner, the ticket photo, the typed ticket number and the
name search answer JSON cards; the confirmation, its undo, the room's list, the district's absences button, and the
candidate's photo for the proctors of their room."""

from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from accounts import home
from accounts.models import Cadre, CadrePhoto
from core.errors import DomainError
from core.extensions import db
from core.forms import ActionForm
from core.i18n import localtime
from core.models import now_utc
from core.policy import (
    can,
    has_district_scope,
    login_required,
    may_proctor,
    refuse_conflict,
    require,
    require_proctor,
)
from sitting import bp, checkin
from sitting.forms import CheckinConfirmForm, CheckinLookupForm, CheckinUndoForm
from sitting.models import Seat, Session
from sitting.services import proctors_whole_session

STATES = ("checked_in", "waiting", "absent")


def _state_label(state: str) -> str:
    return {"checked_in": _("Checked in"), "waiting": _("Not yet"), "absent": _("Recorded absent")}[state]


def _session(session_id: int) -> Session:
    session = db.session.get(Session, session_id)
    if session is None:
        abort(404)
    refuse_conflict(exam_id=session.exam_id)  # a candidate checks nobody in at the exam they sit
    return session


def _rooms(session: Session) -> list:
    """The rooms of the session the current user may proctor."""
    return [link.room for link in session.rooms if may_proctor(current_user, session.id, link.room_id)]


def _room_arg(session: Session, value) -> object:
    rooms = _rooms(session)
    if not rooms:
        abort(403)
    try:
        wanted = int(value) if value not in (None, "") else rooms[0].id
    except (TypeError, ValueError):
        abort(404)
    room = next((r for r in rooms if r.id == wanted), None)
    if room is None:
        abort(403 if any(link.room_id == wanted for link in session.rooms) else 404)
    return room


def _refusal(exc: DomainError):
    return jsonify(error={"code": exc.code, "message": exc.message}), exc.status


def _counts(session: Session, room_id: int) -> dict:
    states = [row["state"] for row in checkin.roster(session, room_id)]
    return {"total": len(states), **{s: states.count(s) for s in STATES}}


def _in_my_rooms(seat: Seat) -> bool:
    """Does the seat lie where the current user proctors (a room of theirs; unplaced in a session they proctor as a
    whole; anywhere for the district)?"""
    if seat.session_id is None:
        return has_district_scope(current_user)
    if seat.room_id is None:
        return proctors_whole_session(current_user, seat.session_id)
    return may_proctor(current_user, seat.session_id, seat.room_id)


def _elsewhere_card(seat: Seat, problem: str) -> dict:
    """A seat a code or number names outside the user's rooms: where it is not (the problem), nothing of the
    person (name, employee number, unit, photo, state at the door)."""
    return {
        "seat": None, "name": _("Candidate of another room"), "username": "", "unit": "", "session": "", "room": "",
        "seat_no": None, "ticket": seat.ticket_no, "state": "elsewhere", "state_label": "", "checked_in_at": None,
        "photo": None, "problem": problem, "can_confirm": False,
    }  # fmt: skip


def _card(seat: Seat, session: Session, room) -> dict:
    """What the proctor sees of a candidate looked up: who, where, the state, and whether they may confirm."""
    user = seat.user
    cadre = user.cadre
    problem = None
    if seat.session_id != session.id:
        problem = (
            _("This candidate sits in session %(name)s, not this one.", name=seat.session.name)
            if seat.session is not None
            else _("This candidate has no room in a session yet: ask the district to place them.")
        )
    elif seat.room_id is None:
        problem = _("This candidate has no room in a session yet: ask the district to place them.")
    elif seat.room_id != room.id:
        problem = _("This candidate sits in room %(room)s, not here.", room=seat.room.name)
    elif seat.user_id == current_user.id:
        problem = _("You cannot check yourself in: another proctor must do it.")
    if not _in_my_rooms(seat):
        return _elsewhere_card(seat, problem or _("This candidate does not sit in a room you proctor."))
    state = checkin.state_of(seat.checked_in_at, seat.absent_at)
    has_photo = cadre is not None and db.session.get(CadrePhoto, cadre.id) is not None
    own_place = seat.session_id is not None and may_proctor(current_user, seat.session_id, seat.room_id)
    return {
        "seat": seat.id,
        "name": user.name,
        "username": user.username,
        "unit": cadre.unit.name if cadre is not None else "",
        "session": seat.session.name if seat.session is not None else "",
        "room": seat.room.name if seat.room is not None else "",
        "seat_no": seat.seat_no,
        "ticket": seat.ticket_no,
        "state": state,
        "state_label": _state_label(state),
        "checked_in_at": localtime(seat.checked_in_at, "HH:mm") if seat.checked_in_at else None,
        "photo": url_for("sitting.seat_photo", seat_id=seat.id) if has_photo and own_place else None,
        "problem": problem,
        "can_confirm": problem is None and state == "waiting",
    }


@bp.route("/sessions/<int:session_id>/checkin")
@login_required
def checkin_page(session_id: int):
    session = _session(session_id)
    require_proctor(session.id)
    room = _room_arg(session, request.args.get("room"))
    rows = checkin.roster(session, room.id)
    now = now_utc()
    return render_template(
        "sitting/checkin.html", session=session, room=room, rooms=_rooms(session), rows=rows, now=now,
        counts=_counts(session, room.id), lookup_form=CheckinLookupForm(), undo_form=CheckinUndoForm(),
        action_form=ActionForm(), state_labels={s: _state_label(s) for s in STATES},
        may_record=can(current_user, "sitting.manage") and session.absences_recorded_at is None
        and now >= session.checkin_closes_at,
    )  # fmt: skip


@bp.route("/sessions/<int:session_id>/checkin/lookup", methods=["POST"])
@login_required
def checkin_lookup(session_id: int):
    session = _session(session_id)
    require_proctor(session.id)
    form = CheckinLookupForm()
    if not form.validate_on_submit():
        abort(400)
    room = _room_arg(session, form.room.data)
    mine = None if proctors_whole_session(current_user, session.id) else [r.id for r in _rooms(session)]
    try:
        seats = checkin.find_seats(
            session, code=form.code.data, ticket=form.ticket.data, name=form.name.data, room_ids=mine
        )
    except DomainError as exc:
        return _refusal(exc)
    return jsonify(candidates=[_card(seat, session, room) for seat in seats])


@bp.route("/sessions/<int:session_id>/checkin/confirm", methods=["POST"])
@login_required
def checkin_confirm(session_id: int):
    session = _session(session_id)
    require_proctor(session.id)
    form = CheckinConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    seat = db.session.get(Seat, form.seat.data)
    if seat is None or seat.exam_id != session.exam_id:
        abort(404)
    if seat.session_id != session.id or not may_proctor(current_user, session.id, seat.room_id):
        room = seat.room.name if seat.room is not None and seat.session_id == session.id else "—"
        return _refusal(
            DomainError(_("This candidate sits in room %(room)s, not here.", room=room), code="wrong_room", status=403)
        )
    try:
        checkin.check_in(seat, current_user, now_utc())
    except DomainError as exc:
        db.session.rollback()
        return _refusal(exc)
    db.session.commit()
    room = seat.room
    return jsonify(candidate=_card(seat, session, room), counts=_counts(session, room.id))


@bp.route("/sessions/<int:session_id>/checkin/undo", methods=["POST"])
@login_required
def checkin_undo(session_id: int):
    session = _session(session_id)
    require_proctor(session.id)
    form = CheckinUndoForm()
    if not form.validate_on_submit():
        flash(_("Give a reason."), "error")
        return redirect(url_for("sitting.checkin_page", session_id=session.id, room=form.room.data or None))
    seat = db.session.get(Seat, int(form.seat.data)) if form.seat.data.isdigit() else None
    if seat is None or seat.session_id != session.id:
        abort(404)
    require_proctor(session.id, seat.room_id)
    try:
        checkin.undo_check_in(seat, current_user, form.reason.data, now_utc())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("The check-in of %(name)s was taken back.", name=seat.user.name), "success")
    return redirect(url_for("sitting.checkin_page", session_id=session.id, room=seat.room_id))


@bp.route("/sessions/<int:session_id>/absences", methods=["POST"])
@login_required
def record_absences(session_id: int):
    session = _session(session_id)
    require("sitting.manage")
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        n = checkin.record_absences(session, now_utc(), actor=current_user)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("%(n)d absences recorded.", n=n), "success")
    return redirect(url_for("sitting.checkin_page", session_id=session.id, room=request.form.get("room") or None))


@bp.route("/seats/<int:seat_id>/photo")
@login_required
def seat_photo(seat_id: int):
    """The candidate's profile photo, for the proctors of their session's room (and the district) only."""
    seat = db.session.get(Seat, seat_id)
    if seat is None or seat.session_id is None or seat.room_id is None:
        abort(404)
    require_proctor(seat.session_id, seat.room_id)
    refuse_conflict(exam_id=seat.exam_id)
    photo = db.session.scalar(
        select(CadrePhoto).join(Cadre, Cadre.id == CadrePhoto.cadre_id).where(Cadre.user_id == seat.user_id)
    )
    if photo is None:
        abort(404)
    return Response(photo.data, mimetype=photo.mimetype, headers={"Cache-Control": "private, no-store"})


def _home_values(user, now) -> dict:
    """The home page's card of the check-ins to run (accounts.home's provider)."""
    return {"checkin_sessions": checkin.sessions_to_check_in(user, now)}


home.register(_home_values)
