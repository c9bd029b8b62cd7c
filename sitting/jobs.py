"""The batch of admission tickets (all of a session, or of one room of it) as one PDF, on the job engine."""

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from accounts.models import User
from core.extensions import db
from core.policy import can
from core.web import PDF
from exam.models import Exam
from jobs import Job, JobError, JobState, register, submit
from sitting import tickets
from sitting.models import Room, Session

KIND = "sitting.tickets"


def may_read_tickets(user, job) -> bool:
    """Tickets carry personal data and valid codes: only those who run the sitting read the batch (asked at every
    download, of the owner too)."""
    return bool(user.active and can(user, "sitting.manage"))


def start(exam: Exam, session: Session, room: Room | None, user) -> Job:
    """The job drawing these tickets for `user`; one that already waits or runs for the same tickets is reused (a
    second click does not draw them twice)."""
    wanted = {"exam": exam.code, "session": session.id, "room": room.id if room is not None else None}
    waiting = db.session.scalars(
        select(Job).where(Job.kind == KIND, Job.created_by_id == user.id,
                          Job.state.in_([JobState.QUEUED, JobState.RUNNING, JobState.RETRYING]))
    )  # fmt: skip
    for job in waiting:
        if job.params == wanted:
            return job
    return submit(KIND, wanted, user=user)


@register(KIND, _l("Admission tickets"), readable=may_read_tickets)
def _tickets_job(ctx) -> dict:
    viewer = db.session.get(User, ctx.job.created_by_id) if ctx.job.created_by_id else None
    if viewer is None or not viewer.active or not can(viewer, "sitting.manage"):
        raise JobError(_("The person who asked for these tickets may no longer print them."))
    exam = db.session.scalar(select(Exam).where(Exam.code == str(ctx.params.get("exam") or "")))
    session = db.session.get(Session, int(ctx.params.get("session") or 0))
    room_id = ctx.params.get("room")
    room = db.session.get(Room, int(room_id)) if room_id else None
    if exam is None or session is None or session.exam_id != exam.id or (room_id and room is None):
        raise JobError(_("The session or room of these tickets is no longer there."))
    ids = tickets.seat_ids(exam, session, room)
    if not ids:
        raise JobError(_("Nobody is seated there: there is no ticket to print."))
    with _language_of(viewer):
        data = tickets.tickets_pdf(ctx.steps(tickets.tickets(ids), total=len(ids)))
        message = _("%(n)d admission tickets in one PDF.", n=len(ids))
    suffix = f"-{room.name}" if room is not None else ""
    ctx.save_file(f"tickets-{exam.code}-{session.name}{suffix}.pdf", PDF, data)
    return {"message": message}


def _language_of(viewer):
    """The tickets in the starter's language, as their pages are."""
    language = viewer.locale if viewer.locale in current_app.config["LANGUAGES"] else None
    return force_locale(language or current_app.config["BABEL_DEFAULT_LOCALE"])
