"""The admins' pages of the sitting: rooms (per unit, reused), an exam's sitting page (sessions, their rooms and
loads, settings), sessions and their rooms, seats (automatic assignment, moves by hand) and the proctors'
assignments. The day itself (tickets, check-in, the console, incidents, records) hangs off these pages."""

from datetime import datetime, time, timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from accounts.models import Cadre, Unit, User
from accounts.services import units_in_scope
from core import policy
from core.errors import DomainError
from core.extensions import db
from core.forms import ActionForm, options, show_problems
from core.models import LOCAL_ZONE, now_utc
from core.policy import can, login_required, permission_required, scope_filter
from core.web import page_arg
from exam.models import Exam, ExamStatus
from sitting import assignment, bp, services
from sitting.forms import (
    STRATEGY_LABELS,
    AssignForm,
    MoveSeatForm,
    ProctorForm,
    RoomForm,
    SeatFilterForm,
    SessionForm,
    SessionRoomsForm,
    SittingSettingsForm,
)
from sitting.models import ProctorAssignment, Room, Seat, Session

SEATS_PER_PAGE = 50


def _exam(code: str) -> Exam:
    """A published exam (a draft has no candidates to seat), for those who run the sitting."""
    exam = db.session.scalar(select(Exam).where(Exam.code == code))
    if exam is None or exam.status == ExamStatus.DRAFT:
        abort(404)
    policy.refuse_conflict(exam_id=exam.id)  # a candidate runs nothing of the exam they sit
    return exam


def _session(exam: Exam, session_id: int) -> Session:
    session = db.session.get(Session, session_id)
    if session is None or session.exam_id != exam.id:
        abort(404)
    return session


def _local(day, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=LOCAL_ZONE).astimezone(LOCAL_ZONE)


# ---------------------------------------------------------------- the index


@bp.route("/")
@login_required
def index():
    """Exams with sessions, published exams to start one for, and the rooms."""
    if not (can(current_user, "sitting.manage") or can(current_user, "room.manage")):
        abort(403)
    exams, others = [], []
    if can(current_user, "sitting.manage"):
        counts = dict(
            db.session.execute(select(Session.exam_id, func.count(Session.id)).group_by(Session.exam_id)).all()
        )
        published = db.session.scalars(
            select(Exam).where(Exam.status != ExamStatus.DRAFT).order_by(Exam.opens_at.desc(), Exam.code)
        ).all()
        exams = [(e, counts[e.id]) for e in published if e.id in counts]
        others = [e for e in published if e.id not in counts and e.closes_at > now_utc()]
    return render_template("sitting/index.html", exams=exams, others=others, now=now_utc())


# ---------------------------------------------------------------- rooms


@bp.route("/rooms")
@permission_required("room.manage")
def rooms():
    stmt = (
        select(Room)
        .join(Unit, Unit.id == Room.unit_id)
        .where(scope_filter(current_user, Unit.path))
        .order_by(Unit.path, Room.name)
    )
    if request.args.get("inactive") != "1":
        stmt = stmt.where(Room.is_active.is_(True))
    page = db.paginate(stmt, page=page_arg(), per_page=current_app.config.get("CADRES_PER_PAGE", 50), error_out=False)
    return render_template("sitting/rooms.html", page=page, inactive=request.args.get("inactive") == "1")


def _room_form(room: Room | None) -> RoomForm:
    form = RoomForm(obj=room)
    form.unit_id.choices = options((u.id, "\u3000" * u.depth + u.name) for u in units_in_scope(current_user))
    if not services.may_set_networks(current_user):  # the networks gate where candidates start: the district's call
        form.networks.render_kw = {"disabled": True}
        form.networks.description = _("Only the district's exam administrators can change the room's networks.")
        if request.method == "POST":
            form.networks.data = room.networks if room is not None else ""
    return form


@bp.route("/rooms/new", methods=["GET", "POST"])
@permission_required("room.manage")
def room_new():
    form = _room_form(None)
    if form.validate_on_submit():
        unit = db.session.get(Unit, form.unit_id.data)
        if unit is None or not can(current_user, "room.manage", unit):
            form.unit_id.errors = [_("Choose a unit you administer.")]
        else:
            try:
                room = services.create_room(
                    unit,
                    form.name.data,
                    form.capacity.data,
                    actor=current_user,
                    now=now_utc(),
                    address=form.address.data or "",
                    computers=form.computers.data,
                    notes=form.notes.data or "",
                    networks=form.networks.data or "",  # "" for a unit admin (_room_form)
                )
                if not form.is_active.data:
                    room.is_active = False
            except DomainError as exc:
                show_problems(form, exc)
            else:
                db.session.commit()
                flash(_("Room “%(name)s” has been added.", name=room.name), "success")
                return redirect(url_for("sitting.rooms"))
    return render_template("sitting/room_form.html", form=form, room=None)


@bp.route("/rooms/<int:room_id>/edit", methods=["GET", "POST"])
@permission_required("room.manage")
def room_edit(room_id: int):
    room = db.session.get(Room, room_id) or abort(404)
    policy.require("room.manage", room)
    form = _room_form(room)
    form.unit_id.render_kw = {"disabled": True}
    may_set_networks = services.may_set_networks(current_user)
    if request.method == "POST":
        form.unit_id.data = room.unit_id
    if form.validate_on_submit():
        try:
            services.update_room(
                room,
                actor=current_user,
                now=now_utc(),
                name=form.name.data,
                capacity=form.capacity.data,
                computers=form.computers.data,
                address=form.address.data or "",
                notes=form.notes.data or "",
                networks=(form.networks.data or "") if may_set_networks else None,
                is_active=form.is_active.data,
            )
        except DomainError as exc:
            show_problems(form, exc)
        else:
            db.session.commit()
            flash(_("Room “%(name)s” has been saved.", name=room.name), "success")
            return redirect(url_for("sitting.rooms"))
    return render_template("sitting/room_form.html", form=form, room=room)


# ---------------------------------------------------------------- an exam's sitting page


@bp.route("/exams/<code>/")
@permission_required("sitting.manage")
def exam(code: str):
    exam = _exam(code)
    settings = services.settings_of(exam)
    loads = assignment.loads(exam)
    sessions = [
        (session, [(link.room, loads.get((session.id, link.room_id), 0)) for link in session.rooms])
        for session in assignment.sessions_of(exam)
    ]
    proctors = {}
    for a in db.session.scalars(
        select(ProctorAssignment)
        .join(Session, Session.id == ProctorAssignment.session_id)
        .where(Session.exam_id == exam.id)
        .options(joinedload(ProctorAssignment.user))
    ):
        proctors.setdefault(a.session_id, []).append(a)
    candidates = db.session.scalar(select(func.count(Seat.id)).where(Seat.exam_id == exam.id)) or 0
    db.session.commit()  # the settings row, made the first time
    return render_template(
        "sitting/exam.html",
        exam=exam,
        sessions=sessions,
        proctors=proctors,
        settings=settings,
        settings_form=SittingSettingsForm(obj=settings),
        assign_form=AssignForm(),
        unplaced=assignment.unplaced_count(exam),
        candidates=candidates,
        capacity=sum(room.capacity for _s, rooms in sessions for room, _n in rooms),
        now=now_utc(),
    )


@bp.route("/exams/<code>/settings", methods=["POST"])
@permission_required("sitting.manage")
def exam_settings(code: str):
    exam = _exam(code)
    form = SittingSettingsForm()
    if form.validate_on_submit():
        try:
            services.update_settings(
                exam,
                actor=current_user,
                now=now_utc(),
                requires_checkin=form.requires_checkin.data,
                restrict_network=form.restrict_network.data,
                silent_alert_minutes=form.silent_alert_minutes.data,
            )
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("The sitting's settings have been saved."), "success")
    else:
        for errors in form.errors.values():
            flash(" ".join(str(e) for e in errors), "error")
    return redirect(url_for("sitting.exam", code=exam.code))


@bp.route("/exams/<code>/assign", methods=["POST"])
@permission_required("sitting.manage")
def assign(code: str):
    exam = _exam(code)
    form = AssignForm()
    if not form.validate_on_submit():
        flash(_("Choose how to assign the seats."), "error")
        return redirect(url_for("sitting.exam", code=exam.code))
    try:
        result = assignment.assign_automatically(
            exam, form.strategy.data, actor=current_user, now=now_utc(), only_unplaced=not form.everyone.data
        )
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(
            _(
                "%(placed)d candidates placed (order: %(strategy)s); %(free)d seats left free.",
                placed=result.placed,
                strategy=STRATEGY_LABELS[result.strategy],
                free=result.free,
            ),
            "success",
        )
        if result.unplaced:
            flash(
                _(
                    "%(n)d candidates did not fit and have no seat: add a room or a session.",
                    n=result.unplaced,
                ),
                "error",
            )
    return redirect(url_for("sitting.exam", code=exam.code))


# ---------------------------------------------------------------- sessions


def _session_times(form: SessionForm) -> dict:
    day = form.day.data
    starts = _local(day, form.starts.data)
    ends = _local(day, form.ends.data)
    opens = _local(day, form.checkin_opens.data) if form.checkin_opens.data else starts - services.CHECKIN_OPENS_BEFORE
    closes = (
        _local(day, form.checkin_closes.data) if form.checkin_closes.data else starts + services.CHECKIN_CLOSES_AFTER
    )
    return {"starts_at": starts, "ends_at": ends, "checkin_opens_at": opens, "checkin_closes_at": closes}


def _session_problems(form: SessionForm, exc: DomainError) -> None:
    renamed = {"starts_at": "starts", "ends_at": "ends", "checkin_closes_at": "checkin_closes"}
    exc.problems = [(renamed.get(name, name), message) for name, message in exc.problems]
    show_problems(form, exc)


@bp.route("/exams/<code>/sessions/new", methods=["GET", "POST"])
@permission_required("sitting.manage")
def session_new(code: str):
    exam = _exam(code)
    form = SessionForm()
    if request.method == "GET":
        opens = exam.opens_at.astimezone(LOCAL_ZONE)
        form.name.data = _("Session %(n)d", n=len(assignment.sessions_of(exam)) + 1)
        form.day.data = opens.date()
        form.starts.data = opens.time().replace(second=0, microsecond=0)
        ends = min(opens + timedelta(minutes=exam.duration_minutes + 30), exam.closes_at.astimezone(LOCAL_ZONE))
        form.ends.data = ends.time().replace(second=0, microsecond=0)
    if form.validate_on_submit():
        try:
            session = services.create_session(
                exam, form.name.data, actor=current_user, now=now_utc(), **_session_times(form)
            )
        except DomainError as exc:
            _session_problems(form, exc)
        else:
            db.session.commit()
            flash(_("Session “%(name)s” has been added: now choose its rooms.", name=session.name), "success")
            return redirect(url_for("sitting.session_rooms", code=exam.code, session_id=session.id))
    return render_template("sitting/session_form.html", form=form, exam=exam, session=None)


@bp.route("/exams/<code>/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@permission_required("sitting.manage")
def session_edit(code: str, session_id: int):
    exam = _exam(code)
    session = _session(exam, session_id)
    form = SessionForm(obj=session)
    if request.method == "GET":
        starts = session.starts_at.astimezone(LOCAL_ZONE)
        form.day.data = starts.date()
        form.starts.data = starts.time()
        form.ends.data = session.ends_at.astimezone(LOCAL_ZONE).time()
        form.checkin_opens.data = session.checkin_opens_at.astimezone(LOCAL_ZONE).time()
        form.checkin_closes.data = session.checkin_closes_at.astimezone(LOCAL_ZONE).time()
    if form.validate_on_submit():
        try:
            services.update_session(
                session, actor=current_user, now=now_utc(), name=form.name.data, **_session_times(form)
            )
        except DomainError as exc:
            _session_problems(form, exc)
        else:
            db.session.commit()
            flash(_("Session “%(name)s” has been saved.", name=session.name), "success")
            return redirect(url_for("sitting.exam", code=exam.code))
    return render_template("sitting/session_form.html", form=form, exam=exam, session=session)


@bp.route("/exams/<code>/sessions/<int:session_id>/rooms", methods=["GET", "POST"])
@permission_required("sitting.manage")
def session_rooms(code: str, session_id: int):
    exam = _exam(code)
    session = _session(exam, session_id)
    chosen = [link.room for link in session.rooms]
    active = db.session.scalars(
        select(Room).join(Unit, Unit.id == Room.unit_id).where(Room.is_active.is_(True)).order_by(Unit.path, Room.name)
    ).all()
    available = chosen + [r for r in active if r not in chosen]
    form = SessionRoomsForm()
    form.room_ids.choices = options((r.id, r.name) for r in available)
    if request.method == "GET":
        form.room_ids.data = [r.id for r in chosen]
    elif form.validate_on_submit():
        by_id = {r.id: r for r in available}  # rooms in use, and those the session already has
        wanted = [by_id[i] for i in (form.room_ids.data or []) if i in by_id]
        try:
            if len(wanted) != len(form.room_ids.data or []):
                raise DomainError(_("Only rooms in use can be chosen."), code="room_not_in_use")
            services.set_session_rooms(session, wanted, actor=current_user, now=now_utc())
        except DomainError as exc:
            db.session.rollback()
            form.room_ids.errors = [exc.message]
        else:
            db.session.commit()
            flash(_("The rooms of “%(name)s” have been saved.", name=session.name), "success")
            return redirect(url_for("sitting.exam", code=exam.code))
    loads = assignment.loads(exam)
    return render_template(
        "sitting/session_rooms.html",
        form=form,
        exam=exam,
        session=session,
        available=available,
        loads={r.id: loads.get((session.id, r.id), 0) for r in available},
    )


# ---------------------------------------------------------------- seats


def _room_choices(exam: Exam) -> list[tuple[Session, list[Room]]]:
    return [(s, [link.room for link in s.rooms]) for s in assignment.sessions_of(exam)]


@bp.route("/exams/<code>/seats")
@permission_required("sitting.manage")
def seats(code: str):
    exam = _exam(code)
    places = _room_choices(exam)
    form = SeatFilterForm(request.args)
    form.session.choices = options([("", _("Every session"))] + [(str(s.id), s.name) for s, _r in places])
    rooms = {r.id: r for _s, rs in places for r in rs}
    form.room.choices = options([("", _("Every room"))] + [(str(r.id), r.name) for r in rooms.values()])
    stmt = (
        select(Seat)
        .join(User, User.id == Seat.user_id)
        .outerjoin(Cadre, Cadre.user_id == User.id)
        .outerjoin(Unit, Unit.id == Cadre.unit_id)
        .where(Seat.exam_id == exam.id)
        .options(joinedload(Seat.user), joinedload(Seat.session), joinedload(Seat.room))
    )
    if form.show.data == "unplaced":
        stmt = stmt.where(Seat.room_id.is_(None))
    elif form.show.data == "placed":
        stmt = stmt.where(Seat.room_id.is_not(None))
    if form.session.data and form.session.data.isdigit():
        stmt = stmt.where(Seat.session_id == int(form.session.data))
    if form.room.data and form.room.data.isdigit():
        stmt = stmt.where(Seat.room_id == int(form.room.data))
    q = (form.q.data or "").strip()
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(User.name.like(like), User.username.like(like), Seat.ticket_no.like(like)))
    stmt = stmt.order_by(Seat.session_id.is_(None), Seat.session_id, Seat.room_id, Seat.seat_no, Seat.ticket_no)
    page = db.paginate(stmt, page=page_arg(), per_page=SEATS_PER_PAGE, error_out=False)
    units = dict(
        db.session.execute(
            select(Cadre.user_id, Unit.name)
            .join(Unit, Unit.id == Cadre.unit_id)
            .where(Cadre.user_id.in_([s.user_id for s in page.items]))
        ).all()
    )
    args = {name: form[name].data for name in ("show", "session", "room", "q") if form[name].data}
    return render_template(
        "sitting/seats.html",
        exam=exam,
        form=form,
        page=page,
        units=units,
        args=args,
        unplaced=assignment.unplaced_count(exam),
    )


@bp.route("/exams/<code>/seats/<int:seat_id>/move", methods=["GET", "POST"])
@permission_required("sitting.manage")
def seat_move(code: str, seat_id: int):
    exam = _exam(code)
    seat = db.session.get(Seat, seat_id)
    if seat is None or seat.exam_id != exam.id:
        abort(404)
    places = _room_choices(exam)
    form = MoveSeatForm()
    form.session_id.choices = options([(0, _("No session (unplaced)"))] + [(s.id, s.name) for s, _r in places])
    rooms = {r.id: r for _s, rs in places for r in rs}
    form.room_id.choices = options([(0, _("No room"))] + [(r.id, f"{r.name} · {r.unit.name}") for r in rooms.values()])
    if request.method == "GET":
        form.session_id.data = seat.session_id or 0
        form.room_id.data = seat.room_id or 0
        form.seat_no.data = seat.seat_no
    status = 200
    if form.validate_on_submit():
        session = _session(exam, form.session_id.data) if form.session_id.data else None
        room = db.session.get(Room, form.room_id.data) if form.room_id.data else None
        if form.room_id.data and room is None:
            abort(404)
        seat_no = form.seat_no.data
        if room is not None and session is not None and seat_no is None:
            seat_no = assignment.first_free_seat(session, room)
        try:
            if room is not None and session is None:
                raise DomainError(
                    _("Choose the session too."), code="room_needs_session", problems=(("session_id", _("Required.")),)
                )
            services.move_seat(seat, session, room, seat_no, actor=current_user, reason=form.reason.data, now=now_utc())
        except DomainError as exc:
            db.session.rollback()
            field = {"seat_taken": "seat_no", "bad_seat_no": "seat_no", "room_full": "room_id"}.get(
                exc.code, "room_id" if exc.code == "room_not_in_session" else None
            )
            if exc.problems:
                show_problems(form, exc)
            elif field:
                getattr(form, field).errors = [exc.message]
            else:
                flash(exc.message, "error")
            status = exc.status
        else:
            db.session.commit()
            flash(_("%(name)s has been moved.", name=seat.user.name), "success")
            return redirect(url_for("sitting.seats", code=exam.code, q=seat.ticket_no))
    return render_template("sitting/seat_move.html", exam=exam, seat=seat, form=form), status


# ---------------------------------------------------------------- proctors


@bp.route("/exams/<code>/sessions/<int:session_id>/proctors", methods=["GET", "POST"])
@permission_required("sitting.manage")
def proctors(code: str, session_id: int):
    exam = _exam(code)
    session = _session(exam, session_id)
    form = ProctorForm()
    form.room_id.choices = options(
        [(0, _("The whole session"))] + [(link.room.id, link.room.name) for link in session.rooms]
    )
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(func.lower(User.username) == form.username.data.strip().lower()))
        room = None
        if form.room_id.data:
            room = db.session.get(Room, form.room_id.data)
        if user is None or not user.active:
            form.username.errors = [_("No active account has this username.")]
        elif form.room_id.data and room is None:
            form.room_id.errors = [_("That room is not used by the session.")]
        else:
            try:
                services.assign_proctor(session, room, user, actor=current_user, now=now_utc())
            except DomainError as exc:
                field = form.room_id if exc.code == "room_not_in_session" else form.username
                field.errors = [exc.message]
            else:
                db.session.commit()
                flash(_("%(name)s now proctors here.", name=user.name), "success")
                return redirect(url_for("sitting.proctors", code=exam.code, session_id=session.id))
    assignments = db.session.scalars(
        select(ProctorAssignment)
        .where(ProctorAssignment.session_id == session.id)
        .options(joinedload(ProctorAssignment.user), joinedload(ProctorAssignment.room))
        .order_by(ProctorAssignment.room_id.is_(None).desc(), ProctorAssignment.room_id, ProctorAssignment.id)
    ).all()
    return render_template(
        "sitting/proctors.html",
        exam=exam,
        session=session,
        form=form,
        assignments=assignments,
        action_form=ActionForm(),
    )


@bp.route("/exams/<code>/proctors/<int:assignment_id>/remove", methods=["POST"])
@permission_required("sitting.manage")
def proctor_remove(code: str, assignment_id: int):
    exam = _exam(code)
    found = db.session.get(ProctorAssignment, assignment_id)
    if found is None or found.session.exam_id != exam.id:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    session_id, name = found.session_id, found.user.name
    services.remove_proctor(found, actor=current_user, now=now_utc())
    db.session.commit()
    flash(_("%(name)s no longer proctors there.", name=name), "success")
    return redirect(url_for("sitting.proctors", code=exam.code, session_id=session_id))
