"""The accounts' long work on the job engine: large cadre imports (from the page and the command line) and unit
imports (the command line).

Each handler reads the upload its starter stored (`jobs.files`, purpose "upload", owned by the starter), checks the
file again against the database as it is now, and writes every row or none: the whole import is the job's one
transaction, committed by the runner with the job's completion, so a worker lost half-way leaves nothing and the
job runs again from the start.
"""

import io
from contextlib import nullcontext

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from accounts import importing, unit_importing
from core.errors import DomainError
from core.imports import issues_text
from core.models import local_today, now_utc
from core.policy import can
from core.web import path_for
from jobs import JobError, files, register

CADRE_IMPORT = "accounts.import-cadres"
UNIT_IMPORT = "accounts.import-units"

#: The one-time passwords of a cadre import wait this many days for their download, then go with the job's files.
PASSWORDS_KEPT_DAYS = 1


def stored_upload(ctx):
    """The upload this job imports: its starter's own (a token alone never reaches another person's file)."""
    stored = files.get(ctx.params.get("upload", ""), owner_id=ctx.job.created_by_id, purpose="upload")
    if stored is None:
        raise JobError(_("The uploaded file is no longer there (it expired). Please upload it again."))
    return stored


def counter(ctx, total: int):
    """A `progress(n)` callback for the import services, reporting to the job's progress bar."""
    ctx.progress(0, total)
    done = 0

    def step(n: int = 1) -> None:
        nonlocal done
        done += n
        ctx.progress(done, total)

    return step


def speaking(user):
    """Speak the starter's saved language in the job's messages (else the request's, or the default one)."""
    locale = getattr(user, "locale", None)
    return force_locale(locale) if locale else nullcontext()


@register(CADRE_IMPORT, _l("Cadre import"), cancellable=True)
def _import_cadres(ctx):
    actor = ctx.job.created_by
    if actor is None or not can(actor, "cadre.import"):
        raise JobError(_("You may no longer import cadres."))
    with speaking(actor):
        stored = stored_upload(ctx)
        result = importing.parse_cadre_workbook(io.BytesIO(stored.data), actor, local_today())
        if not result.ok:  # something changed since the preview (e.g. a number was taken meanwhile)
            raise JobError(issues_text(result.issues))
        try:
            credentials = importing.commit_cadre_import(
                actor, result, now_utc(), progress=counter(ctx, len(result.rows))
            )
        except DomainError as exc:
            raise JobError(str(exc.message)) from exc
        files.discard(stored)
        ctx.save_file(
            "initial-passwords.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            importing.build_credentials_workbook(credentials),
            days=PASSWORDS_KEPT_DAYS,
            secret=True,
        )
        message = _(
            "%(n)d cadres imported. Download their one-time passwords now: the file is kept for a day and shown "
            "only to you; each cadre must choose their own password at the first login.",
            n=len(credentials),
        )
        return {"message": message, "url": path_for("accounts.cadres"), "count": len(credentials)}


@register(UNIT_IMPORT, _l("Unit import"), cancellable=True)
def _import_units(ctx):
    actor = ctx.job.created_by
    if actor is None or not can(actor, "unit.manage"):
        raise JobError(_("You may no longer manage units."))
    with speaking(actor):
        stored = stored_upload(ctx)
        result = unit_importing.parse_unit_workbook(stored.data)
        if not result.ok:
            raise JobError(issues_text(result.issues))
        try:
            units = unit_importing.commit_unit_import(actor, result, now_utc(), progress=counter(ctx, len(result.rows)))
        except DomainError as exc:
            raise JobError(str(exc.message)) from exc
        files.discard(stored)
        message = _("%(n)d unit(s) imported.", n=len(units))
        return {"message": message, "url": path_for("accounts.units"), "count": len(units)}
