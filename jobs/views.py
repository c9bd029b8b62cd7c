"""The jobs pages: recent jobs (a district admin sees everyone's, others their own), a job's live progress, cancelling,
and the downloads a job produced. Every check is here: a job and its files are its owner's or the district's."""

import time

from flask import abort, flash, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from core import audit
from core.audit_labels import TargetView, int_keys, register_targets
from core.extensions import db
from core.forms import ActionForm
from core.models import now_utc
from core.policy import can, login_required
from core.web import download, page_arg
from jobs import bp, engine, files, registry
from jobs.models import Job, JobState, StoredFile
from jobs.runner import error_text


def state_label(state: str) -> str:
    labels = {
        JobState.QUEUED: _("Waiting"),
        JobState.RUNNING: _("Running"),
        JobState.RETRYING: _("Will try again"),
        JobState.DONE: _("Done"),
        JobState.FAILED: _("Failed"),
        JobState.CANCELLED: _("Cancelled"),
    }
    return labels.get(state, state)


def kind_label(kind: str) -> str:
    known = registry.kind(kind)
    return str(known.label) if known else kind


def _visible(job: Job) -> bool:
    return job.created_by_id == current_user.id or can(current_user, "jobs.view_all")


def _job(job_id: int) -> Job:
    job = db.session.get(Job, job_id)
    if job is None or not _visible(job):
        abort(404)
    return job


def status(job: Job) -> dict:
    """What the progress bar shows: the row's state, with the live progress while the job runs."""
    live = engine.progress_of(job.id) if not job.finished else None
    done, total = (live["done"], live["total"]) if live else (job.done, job.total)
    now = time.time()
    if live:
        elapsed = now - live["started"]
    elif job.started_at:
        elapsed = (job.finished_at.timestamp() if job.finished_at else now) - job.started_at.timestamp()
    else:
        elapsed = None
    eta = None
    if live and total and done and done < total and elapsed:
        eta = elapsed / done * (total - done)
    waited = now - job.created_at.timestamp() if job.state == JobState.QUEUED else None
    result = dict(job.result or {})
    result["files"] = [{"name": f.name, "size": f.size, "url": url_for("jobs.file", job_id=job.id, token=f.token)}
                       for f in _files(job)]  # fmt: skip
    kind = registry.kind(job.kind)
    return {
        "id": job.id,
        "state": job.state,
        "state_label": state_label(job.state),
        "done": done,
        "total": total,
        "message": (live or {}).get("message"),
        "elapsed": round(elapsed, 1) if elapsed is not None else None,
        "eta": round(eta, 1) if eta is not None else None,
        "waited": round(waited, 1) if waited is not None else None,
        "attempts": job.attempts,
        "error": error_text(job.error) if job.state in (JobState.FAILED, JobState.RETRYING) else None,
        "result": result,
        "finished": job.finished,
        "cancellable": bool(kind and kind.cancellable and not job.finished),
    }


def _readable(stored: StoredFile, job: Job) -> bool:
    """A job's download: its owner's and the district's; a secret one (one-time passwords): its owner's only; and,
    where the kind says so, only while the reader may still see what it holds (a results file is closed to someone
    who now sits that exam, the owner included)."""
    if stored.purpose == "secret":
        allowed = stored.owner_id is not None and stored.owner_id == current_user.id
    else:
        allowed = stored.purpose == "download"
    kind = registry.kind(job.kind)
    if allowed and kind is not None and kind.readable is not None:
        allowed = bool(kind.readable(current_user, job))
    return allowed


def _files(job: Job) -> list[StoredFile]:
    found = db.session.scalars(
        select(StoredFile).where(StoredFile.job_id == job.id, StoredFile.purpose.in_(("download", "secret")),
                                 StoredFile.expires_at > now_utc()).order_by(StoredFile.id)
    )  # fmt: skip
    return [f for f in found if _readable(f, job)]


@bp.route("/")
@login_required
def jobs():
    query = select(Job).order_by(Job.id.desc())
    everyone = can(current_user, "jobs.view_all")
    if not everyone:
        query = query.where(Job.created_by_id == current_user.id)
    page = db.paginate(query, page=page_arg(), per_page=50, error_out=False)
    return render_template("jobs/list.html", page=page, everyone=everyone, state_label=state_label,
                           kind_label=kind_label, error_text=error_text)  # fmt: skip


@bp.route("/<int:job_id>")
@login_required
def detail(job_id: int):
    job = _job(job_id)
    return render_template("jobs/detail.html", job=job, status=status(job), kind_label=kind_label,
                           action_form=ActionForm())  # fmt: skip


@bp.route("/<int:job_id>/status")
@login_required
def job_status(job_id: int):
    response = jsonify(status(_job(job_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<int:job_id>/cancel", methods=["POST"])
@login_required
def cancel(job_id: int):
    job = _job(job_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    kind = registry.kind(job.kind)
    if job.finished or kind is None or not kind.cancellable:
        flash(_("This job can no longer be stopped."), "error")
        return redirect(url_for("jobs.detail", job_id=job.id))
    from jobs import cancel_job

    cancel_job(job)
    audit.record("job.cancelled", actor=current_user, target=f"job:{job.id}", detail={"kind": job.kind})
    flash(_("Stopping the job: it stops at its next step and keeps nothing of what it did."), "success")
    return redirect(url_for("jobs.detail", job_id=job.id))


@bp.route("/<int:job_id>/files/<token>")
@login_required
def file(job_id: int, token: str):
    job = _job(job_id)
    stored = files.get(token)
    if stored is None or stored.job_id != job.id or not _readable(stored, job):
        abort(404)
    return download(stored.data, stored.mimetype, stored.name)


@register_targets("job")
def _job_targets(keys):
    found = db.session.execute(select(Job.id, Job.kind).where(Job.id.in_(int_keys(keys)))).all()
    return {str(i): TargetView(_("Job %(n)d: %(what)s", n=i, what=kind_label(k)), url_for("jobs.detail", job_id=i))
            for i, k in found}  # fmt: skip
