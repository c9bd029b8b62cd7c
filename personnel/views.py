"""The .lrmx import's pages: upload (checked by a job, with progress), the preview, the confirmation."""

import json

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from accounts.models import Rank, Unit
from accounts.services import units_in_scope
from archive.models import label as archive_label
from core.extensions import db
from core.forms import ActionForm
from core.models import now_utc
from core.policy import permission_required
from core.security import allow_larger_body
from jobs import files, submit
from jobs.models import Job, JobState, StoredFile
from personnel import batches, bp
from personnel.forms import LrmxUploadForm
from personnel.importing import FIELDS, shown_value
from personnel.jobs import LRMX_CHECK, LRMX_IMPORT, PREVIEW_NAME

ZIP = "application/zip"
FIELD_LABELS = {"name": _l("Name"), "gender": _l("Gender"), "birth_date": _l("Birth date"),
                "political_status": _l("Political status"), "education": _l("Education"), "rank": _l("Rank"),
                "position": _l("Position"), "id_number": _l("ID number"), "photo": _l("Photo")}  # fmt: skip
#: Rows of the preview's table on the page (the counts and every problem are always shown).
PREVIEW_ROWS = 1000


def _form() -> LrmxUploadForm:
    form = LrmxUploadForm()
    form.unit.choices = [("", _("None: every form is of a cadre already in QualExam"))] + [
        (str(u.id), f"{u.code} {u.name}") for u in units_in_scope(current_user)
    ]
    return form


@bp.route("/admin/cadres/import-lrmx", methods=["GET", "POST"])
@permission_required("cadre.import")
def lrmx_upload():
    form = _form()
    if form.validate_on_submit():
        unit_id = form.unit.data or ""
        if unit_id and unit_id not in {value for value, _label in form.unit.choices}:
            abort(400)
        rank = form.rank.data or ""
        if rank and rank not in {r.value for r in Rank}:
            abort(400)
        items = [(f.filename or "file", f.read()) for f in request.files.getlist(form.files.name) if f]
        upload = files.store(batches.pack(items), "lrmx-batch.zip", ZIP, purpose="upload", owner_id=current_user.id)
        job = submit(LRMX_CHECK, {"upload": upload.token, "unit": int(unit_id) if unit_id else None, "rank": rank},
                     user=current_user)  # fmt: skip
        db.session.commit()
        return redirect(url_for("jobs.detail", job_id=job.id))
    return render_template("personnel/lrmx_upload.html", form=form,
                           limit=current_app.config["LRMX_UPLOAD_MB"])  # fmt: skip


allow_larger_body("personnel.lrmx_upload", "LRMX_UPLOAD_MB", "cadre.import")


def _check_job(job_id: int) -> Job:
    """The check job of this preview: the current user's own (the forms and the preview are theirs alone)."""
    job = db.session.get(Job, job_id)
    if job is None or job.kind != LRMX_CHECK or job.created_by_id != current_user.id:
        abort(404)
    return job


def _preview(job: Job) -> dict | None:
    stored = db.session.scalar(select(StoredFile).where(StoredFile.job_id == job.id, StoredFile.name == PREVIEW_NAME,
                                                        StoredFile.expires_at > now_utc()))  # fmt: skip
    return json.loads(stored.data) if stored is not None else None


#: Changes that say who the person is: a row making them is listed first (the page lists PREVIEW_ROWS rows).
IDENTITY = ("name", "gender", "birth_date", "id_number")


def _first_shown(row: dict) -> tuple:
    """New people, then profiles whose identity changes (a form matched to the wrong person shows there), then the
    other changes, then the unchanged."""
    identity = any(k in row["changes"] for k in IDENTITY)
    return ({"new": 0, "updated": 1, "unchanged": 3}[row["status"]] + (0 if identity else 1), row["file"])


@bp.route("/admin/cadres/import-lrmx/<int:job_id>")
@permission_required("cadre.import")
def lrmx_preview(job_id: int):
    job = _check_job(job_id)
    if job.state != JobState.DONE:
        return redirect(url_for("jobs.detail", job_id=job.id))
    preview = _preview(job)
    if preview is None:
        flash(_("This check has expired. Please upload the forms again."), "error")
        return redirect(url_for("personnel.lrmx_upload"))
    waiting = files.get(job.params.get("upload", ""), owner_id=current_user.id, purpose="upload")
    rows = sorted(preview["rows"], key=_first_shown)
    unit = db.session.get(Unit, job.params["unit"]) if job.params.get("unit") else None
    return render_template("personnel/lrmx_preview.html", job=job, preview=preview, rows=rows[:PREVIEW_ROWS],
                           hidden=max(len(rows) - PREVIEW_ROWS, 0), fields=FIELDS, shown=shown_value, unit=unit,
                           field_labels=FIELD_LABELS, grade_label=archive_label,
                           rank=job.params.get("rank"), waiting=waiting is not None and waiting.claimed_at is None,
                           commit_form=ActionForm())  # fmt: skip


@bp.route("/admin/cadres/import-lrmx/<int:job_id>/commit", methods=["POST"])
@permission_required("cadre.import")
def lrmx_commit(job_id: int):
    job = _check_job(job_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    preview = _preview(job) if job.state == JobState.DONE else None
    # Only the uploader's own batch, and of two clicks on the confirmation only one gets it.
    stored = files.claim(job.params.get("upload", ""), current_user.id) if preview and not preview["issues"] else None
    if stored is None:
        flash(_("No checked batch is waiting. Please upload the forms again."), "error")
        return redirect(url_for("personnel.lrmx_upload"))
    params = {"upload": stored.token, "unit": job.params.get("unit"), "rank": job.params.get("rank"),
              "fingerprint": preview["fingerprint"], "check": job.id}  # fmt: skip
    imported = submit(LRMX_IMPORT, params, user=current_user)
    db.session.commit()
    return redirect(url_for("jobs.detail", job_id=imported.id))
