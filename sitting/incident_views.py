"""The incidents' pages: a room's proctor records one (and sees the room's), the district reads an exam's and
decides; an incident's page. And the sitting record's downloads (sitting.records): per room for the district and
the room's proctors, per session for the district."""

from datetime import UTC

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from accounts.models import User
from core import policy
from core.errors import DomainError
from core.extensions import db
from core.forms import show_problems
from core.models import LOCAL_ZONE, now_utc
from core.policy import login_required, permission_required
from core.web import PDF, download
from exam.models import Exam
from sitting import bp, incidents, records
from sitting.forms import DecisionForm, IncidentForm
from sitting.models import DECISION_LABELS, INCIDENT_LABELS, Incident, Room, Seat, Session


@bp.app_context_processor
def _partials() -> dict:
    """What the partials other pages include need (_exam_incidents.html, _session_record.html)."""
    return {
        "sitting_incident_counts": incidents.counts,
        "sitting_may_proctor": lambda session_id, room_id=None: policy.may_proctor(current_user, session_id, room_id),
    }


def _place(session_id: int, room_id: int) -> tuple[Session, Room]:
    """The session and one of its rooms (404 otherwise); 403 unless the user proctors that room."""
    session = db.session.get(Session, session_id)
    if session is None or room_id not in {link.room_id for link in session.rooms}:
        abort(404)
    policy.require_proctor(session.id, room_id)
    policy.refuse_conflict(exam_id=session.exam_id)  # a candidate records nothing at the exam they sit
    return session, db.session.get(Room, room_id)


@bp.route("/sessions/<int:session_id>/rooms/<int:room_id>/incidents/new", methods=["GET", "POST"])
@login_required
def incident_new(session_id: int, room_id: int):
    session, room = _place(session_id, room_id)
    seated = db.session.execute(
        select(User.id, User.name, Seat.seat_no, Seat.ticket_no)
        .join(Seat, Seat.user_id == User.id)
        .where(Seat.session_id == session.id, Seat.room_id == room.id)
        .order_by(Seat.seat_no, User.name)
    ).all()
    form = IncidentForm()
    form.candidate.choices = [(uid, f"{seat_no or '—'} · {name} · {ticket}") for uid, name, seat_no, ticket in seated]
    if not form.is_submitted():
        form.at.data = now_utc().astimezone(LOCAL_ZONE).replace(second=0, microsecond=0)
    if form.validate_on_submit():
        try:
            incident = incidents.record_incident(
                session.exam,
                db.session.get(User, form.candidate.data),
                form.kind.data,
                form.at.data.astimezone(UTC),
                form.description.data,
                form.evidence.data,
                session=session,
                room=room,
                actor=current_user,
                now=now_utc(),
            )
        except DomainError as exc:
            db.session.rollback()
            show_problems(form, exc)
        else:
            flash(_("The incident was recorded; the district will decide on it."), "success")
            return redirect(url_for("sitting.incident", incident_id=incident.id))
    return render_template(
        "sitting/incident_new.html",
        form=form,
        session=session,
        room=room,
        exam=session.exam,
        recorded=incidents.of_room(session, room),
        labels=INCIDENT_LABELS,
    )


@bp.route("/exams/<code>/incidents")
@permission_required("incident.decide")
def exam_incidents(code: str):
    exam = db.session.scalar(select(Exam).where(Exam.code == code))
    if exam is None:
        abort(404)
    policy.refuse_conflict(exam_id=exam.id)
    rows = incidents.of_exam(exam)
    forms = {i.id: DecisionForm(prefix=f"i{i.id}", decision=i.decision or "no_effect") for i in rows}
    return render_template(
        "sitting/incidents.html",
        exam=exam,
        incidents=rows,
        forms=forms,
        counts=incidents.counts(exam),
        labels=INCIDENT_LABELS,
        decisions=DECISION_LABELS,
    )


@bp.route("/incidents/<int:incident_id>")
@login_required
def incident(incident_id: int):
    found = db.session.get(Incident, incident_id)
    if found is None:
        abort(404)
    if not incidents.may_see(current_user, found):
        abort(403)
    policy.refuse_conflict(exam_id=found.exam_id)
    decides = policy.can(current_user, "incident.decide")
    return render_template(
        "sitting/incident.html",
        incident=found,
        exam=found.exam,
        decides=decides,
        form=DecisionForm(prefix=f"i{found.id}", decision=found.decision or "no_effect") if decides else None,
        affected=incidents.affected_attempts(found) if decides else [],
        labels=INCIDENT_LABELS,
        decisions=DECISION_LABELS,
    )


@bp.route("/incidents/<int:incident_id>/decide", methods=["POST"])
@permission_required("incident.decide")
def incident_decide(incident_id: int):
    found = db.session.get(Incident, incident_id)
    if found is None:
        abort(404)
    policy.refuse_conflict(exam_id=found.exam_id)
    form = DecisionForm(prefix=f"i{found.id}")  # the list's forms and the incident page's alike
    if not form.validate_on_submit():
        flash(_("Choose a decision and give a reason."), "error")
        return redirect(url_for("sitting.incident", incident_id=found.id))
    try:
        incidents.decide(found, form.decision.data, form.reason.data, actor=current_user, now=now_utc())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(_("Decision recorded: %(decision)s.", decision=DECISION_LABELS[found.decision]), "success")
    return redirect(url_for("sitting.exam_incidents", code=found.exam.code) + f"#incident-{found.id}")


# ---------------------------------------------------------------- the sitting record (sitting.records)


@bp.route("/sessions/<int:session_id>/rooms/<int:room_id>/record.pdf")
@login_required
def room_record(session_id: int, room_id: int):
    session, room = _place(session_id, room_id)
    decides = policy.can(current_user, "incident.decide")  # decisions and their reasons: for the deciders only
    data = records.room_record_pdf(session, room, now_utc(), show_decisions=decides)
    return download(data, PDF, f"sitting-record-{session.exam.code}-{session.id}-{room.id}.pdf")


@bp.route("/sessions/<int:session_id>/record.pdf")
@permission_required("sitting.manage")
def session_record(session_id: int):
    session = db.session.get(Session, session_id)
    if session is None:
        abort(404)
    policy.refuse_conflict(exam_id=session.exam_id)
    decides = policy.can(current_user, "incident.decide")
    data = records.session_record_pdf(session, now_utc(), show_decisions=decides)
    return download(data, PDF, f"sitting-summary-{session.exam.code}-{session.id}.pdf")
