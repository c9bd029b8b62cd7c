"""Pages of the tickets and a room's papers: releasing and withdrawing the tickets, a candidate's own ticket, the
admins' batch of tickets (a job), and each room's door list and seat plan (PDF and .xlsx)."""

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from core.errors import DomainError
from core.extensions import db
from core.forms import ActionForm
from core.models import now_utc
from core.policy import can, login_required, permission_required, refuse_conflict, require_proctor
from core.web import PDF, XLSX, download
from exam.models import Exam
from sitting import bp, documents, tickets
from sitting import jobs as ticket_jobs
from sitting.models import Room, Session

FORMATS = {"pdf": PDF, "xlsx": XLSX}


@bp.app_context_processor
def _ticket_helpers():
    return {"ticket_release_of": tickets.released_at, "ticket_counts": tickets.counts}


def _exam(code: str) -> Exam:
    return db.session.scalar(select(Exam).where(Exam.code == code)) or abort(404)


def _managed_exam(code: str) -> Exam:
    """The exam, for those who run its sitting: never a candidate of it (their own ticket: my_ticket)."""
    exam = _exam(code)
    refuse_conflict(exam_id=exam.id)
    return exam


def _session(exam: Exam, session_id: int) -> Session:
    session = db.session.get(Session, session_id)
    if session is None or session.exam_id != exam.id:
        abort(404)
    return session


def _room(session: Session, room_id: int) -> Room:
    if room_id not in {link.room_id for link in session.rooms}:
        abort(404)
    return db.session.get(Room, room_id)


def _back(exam: Exam):
    """Back to the page the button was on (a local path only), or the exam's page."""
    target = request.form.get("next") or ""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = url_for("exam.exam", code=exam.code)
    return redirect(target)


def _act(exam: Exam, action, success: str):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        action()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(success, "success")
    return _back(exam)


@bp.route("/exams/<code>/tickets/release", methods=["POST"])
@permission_required("sitting.manage")
def release_tickets(code):
    exam = _managed_exam(code)
    return _act(exam, lambda: tickets.release_tickets(exam, current_user, now_utc()),
                _("The tickets are released: the candidates can download them from their home page."))  # fmt: skip


@bp.route("/exams/<code>/tickets/withdraw", methods=["POST"])
@permission_required("sitting.manage")
def withdraw_tickets(code):
    exam = _managed_exam(code)
    return _act(exam, lambda: tickets.withdraw_tickets(exam, current_user, now_utc()),
                _("The tickets are withdrawn: the candidates can no longer download them."))  # fmt: skip


@bp.route("/exams/<code>/my-ticket.pdf")
@login_required
def my_ticket(code):
    """The signed-in candidate's own ticket: only once released, and only with a seat (404 otherwise)."""
    exam = _exam(code)
    seat = tickets.own_ticket_seat(exam, current_user) or abort(404)
    return download(tickets.ticket_pdf(seat), PDF, f"ticket-{exam.code}-{seat.ticket_no}.pdf")


@bp.route("/exams/<code>/sessions/<int:session_id>/tickets", methods=["POST"])
@bp.route("/exams/<code>/sessions/<int:session_id>/rooms/<int:room_id>/tickets", methods=["POST"])
@permission_required("sitting.manage")
def batch_tickets(code, session_id, room_id=None):
    """All tickets of a session (or of one of its rooms) as one PDF, drawn by a job; off to its progress page."""
    exam = _managed_exam(code)
    session = _session(exam, session_id)
    room = _room(session, room_id) if room_id is not None else None
    if not ActionForm().validate_on_submit():
        abort(400)
    job = ticket_jobs.start(exam, session, room, current_user)
    return redirect(url_for("jobs.detail", job_id=job.id))


def _room_papers(code, session_id, room_id, fmt):
    if fmt not in FORMATS:
        abort(404)
    exam = _managed_exam(code)
    session = _session(exam, session_id)
    room = _room(session, room_id)
    if not can(current_user, "sitting.manage"):
        require_proctor(session.id, room.id)
    return session, room, documents.room_rows(session, room)


@bp.route("/exams/<code>/sessions/<int:session_id>/rooms/<int:room_id>/door-list.<fmt>")
@login_required
def door_list(code, session_id, room_id, fmt):
    session, room, rows = _room_papers(code, session_id, room_id, fmt)
    make = documents.door_list_pdf if fmt == "pdf" else documents.door_list_xlsx
    return download(make(session, room, rows), FORMATS[fmt], f"door-list-{code}-{session.name}-{room.name}.{fmt}")


@bp.route("/exams/<code>/sessions/<int:session_id>/rooms/<int:room_id>/seat-plan.<fmt>")
@login_required
def seat_plan(code, session_id, room_id, fmt):
    session, room, rows = _room_papers(code, session_id, room_id, fmt)
    make = documents.seat_plan_pdf if fmt == "pdf" else documents.seat_plan_xlsx
    return download(make(session, room, rows), FORMATS[fmt], f"seat-plan-{code}-{session.name}-{room.name}.{fmt}")
