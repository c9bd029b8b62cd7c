"""The .lrmx import on the job engine: the check (a preview, with progress) and the import (every person or none,
in the job's one transaction, and only what the preview showed)."""

import json

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from accounts import importing as xlsx
from accounts.jobs import PASSWORDS_KEPT_DAYS, counter, speaking, stored_upload
from accounts.models import Unit
from core.errors import DomainError
from core.extensions import db
from core.imports import issues_text
from core.models import local_today, now_utc
from core.policy import can
from core.web import path_for
from jobs import JobError, files, register
from personnel import batches
from personnel.importing import Options, commit_plan, fingerprint, plan_batch

LRMX_CHECK = "personnel.check-lrmx"
LRMX_IMPORT = "personnel.import-lrmx"
PREVIEW_NAME = "lrmx-preview.json"


def options_of(params: dict) -> Options:
    unit = db.session.get(Unit, params["unit"]) if params.get("unit") else None
    return Options(unit=unit, rank=params.get("rank") or None)


def _allowed(actor) -> None:
    if actor is None or not can(actor, "cadre.import"):
        raise JobError(_("You may no longer import cadres."))


@register(LRMX_CHECK, _l("Check of .lrmx forms"), cancellable=True)
def _check(ctx):
    actor = ctx.job.created_by
    _allowed(actor)
    with speaking(actor):
        stored = stored_upload(ctx)
        items = batches.unpack(stored.data)
        total = {"n": 0}
        ctx.progress(0, None, _("Reading the forms"))

        def step(_n, of):
            total["n"] += 1
            ctx.progress(total["n"], of)

        plan = plan_batch(actor, items, options_of(ctx.params), local_today(), progress=step)
        preview = plan.preview()
        if not plan.ok:  # nothing will come of it: the forms hold personal data, keep them no longer
            files.discard(stored)
        ctx.save_file(
            PREVIEW_NAME, "application/json", json.dumps(preview, ensure_ascii=False).encode(), days=1, secret=True
        )  # its owner's only, as the forms were
        counts = preview["counts"]
        if plan.issues:
            message = _("%(n)d problem(s) found: nothing can be imported until the forms are corrected.",
                        n=len(plan.issues))  # fmt: skip
        else:
            message = _("Checked: %(new)d new, %(updated)d to update, %(unchanged)d unchanged.", **counts)
        return {"message": message, "url": path_for("personnel.lrmx_preview", job_id=ctx.job.id)}


@register(LRMX_IMPORT, _l("Import of .lrmx forms"), cancellable=True)
def _import(ctx):
    actor = ctx.job.created_by
    _allowed(actor)
    with speaking(actor):
        stored = stored_upload(ctx)
        plan = plan_batch(actor, batches.unpack(stored.data), options_of(ctx.params), local_today())
        if not plan.ok:
            raise JobError(issues_text(plan.issues))
        if fingerprint(plan.preview()["rows"]) != ctx.params.get("fingerprint"):
            raise JobError(_("QualExam's data changed since the check: nothing was imported. Check the forms again."))
        try:
            credentials = commit_plan(actor, plan, now_utc(), progress=counter(ctx, len(plan.people)))
        except DomainError as exc:
            raise JobError(str(exc.message)) from exc
        files.discard(stored)
        if credentials:
            ctx.save_file("initial-passwords.xlsx",
                          "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                          xlsx.build_credentials_workbook(credentials), days=PASSWORDS_KEPT_DAYS,
                          secret=True)  # fmt: skip
        counts = plan.counts()
        message = _("Imported: %(new)d new, %(updated)d updated, %(unchanged)d unchanged.", **counts)
        if credentials:
            message += " " + _(
                "Download the new cadres' one-time passwords now: the file is kept for a day and shown only to you."
            )
        return {"message": message, "url": path_for("accounts.cadres"), "count": len(plan.people)}
