"""The exports that grow with the district (a ranking, the qualification progress): rows read in batches and written
as they come (openpyxl's write-only mode); past REPORTS_EXPORT_INLINE_ROWS rows they are made by the job
"reports.export", which the person waits for on the job page and downloads from there.

The job re-applies the scope of the person who started it (the job's owner, read again when it runs): the rows a
unit admin's job writes are those their own ranking page shows, whatever roles they also hold.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from accounts.forms import AGE_BAND_LABELS
from accounts.models import Rank, Unit, User
from core import policy
from core.extensions import db
from core.models import local_today, now_utc
from core.policy import can, in_scope
from core.web import XLSX, db_int
from exam.models import Exam
from jobs import Job, JobError, JobState, register, submit
from reports import documents, history, ranking
from reports.ranking import Filters

#: Rows fetched from the database at a time: a ranking of 100,000 never sits in memory as one result.
BATCH = 1000
KIND = "reports.export"


class NotFound(LookupError):
    """The export's subject is not there, or not for this person: a 404 in a page, a reason in a job."""


@dataclass
class Prepared:
    """An export ready to write: how many rows, the rows (read when iterated), and how to write them."""

    total: int
    rows: Iterable
    filename: str
    write: Callable[[Iterable], bytes]


def filters_from(args: Mapping, viewer) -> Filters:
    """The ranking filters of a query string (or of a job's parameters); a unit outside the viewer's scope is
    NotFound, never a silent widening."""
    unit = None
    try:
        unit_id = db_int(args.get("unit")) if args.get("unit") not in (None, "") else None
    except ValueError:
        unit_id = None  # as the pages have always read it: a unit that is not a number filters nothing
    if unit_id:
        unit = db.session.get(Unit, unit_id)
        if unit is None or not in_scope(viewer, unit.path):
            raise NotFound()
    rank, age, outcome = (str(args.get(k) or "") for k in ("rank", "age", "outcome"))
    return Filters(
        unit=unit,
        unit_only=bool(args.get("only")) and unit is not None,
        rank=rank if rank in set(Rank) else "",
        age_band=age if age in AGE_BAND_LABELS else "",
        outcome=outcome if outcome in ranking.OUTCOMES else "",
    )


def _streamed(stmt) -> Iterable:
    """The rows of `stmt`, fetched BATCH at a time (a server-side cursor on PostgreSQL), only once iterated."""
    yield from db.session.execute(stmt.execution_options(yield_per=BATCH))


def _ranking(viewer, params: Mapping, now) -> Prepared:
    exam = db.session.scalar(select(Exam).where(Exam.code == str(params.get("exam") or "")))
    if exam is None or exam.first_started_at is None:
        raise NotFound()
    if policy.conflict(viewer, results_of=exam.id, now=now):
        raise NotFound()
    filters = filters_from(params.get("filters") or {}, viewer)
    query = ranking.ranking_query(exam, viewer, filters, now)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return Prepared(total, _streamed(query), f"ranking-{exam.code}.xlsx",
                    lambda rows: documents.ranking_xlsx(exam, rows))  # fmt: skip


def _qualifications(viewer, params: Mapping, now) -> Prepared:
    cycle = str(params.get("cycle") or "")
    if cycle not in history.cycles():
        raise NotFound()
    rows = history.progress(cycle, viewer, local_today(now))["rows"]
    return Prepared(len(rows), rows, f"qualifications-{cycle}.xlsx",
                    lambda rows: documents.qualifications_xlsx(cycle, rows))  # fmt: skip


#: name: (how to prepare it, the permission it needs)
EXPORTS = {"ranking": (_ranking, "reports.view"), "qualifications": (_qualifications, "reports.view")}


def prepare(name: str, viewer, params: Mapping, now) -> Prepared:
    """The export `name` as `viewer` may see it (NotFound when its subject is not there or not theirs)."""
    prepare_export, _permission = EXPORTS[name]
    return prepare_export(viewer, params, now)


def inline_rows() -> int:
    return int(current_app.config.get("REPORTS_EXPORT_INLINE_ROWS", 5000))


def start(name: str, params: dict, user) -> Job:
    """The job making this export for `user`; one that already waits or runs for the same export is reused (a
    second click does not make the file twice)."""
    wanted = {"export": name, **params}
    waiting = db.session.scalars(
        select(Job).where(Job.kind == KIND, Job.created_by_id == user.id,
                          Job.state.in_([JobState.QUEUED, JobState.RUNNING, JobState.RETRYING]))
    )  # fmt: skip
    for job in waiting:
        if job.params == wanted:
            return job
    return submit(KIND, wanted, user=user)


@register(KIND, _l("Export"))
def _export_job(ctx) -> dict:
    name = ctx.params.get("export")
    viewer = db.session.get(User, ctx.job.created_by_id) if ctx.job.created_by_id else None
    if name not in EXPORTS:
        raise JobError(f"unknown export {name!r}")
    if viewer is None or not viewer.active or not can(viewer, EXPORTS[name][1]):
        raise JobError(_("The person who asked for this export may no longer make it."))
    language = viewer.locale if viewer.locale in current_app.config["LANGUAGES"] else None
    with force_locale(language or current_app.config["BABEL_DEFAULT_LOCALE"]):
        try:
            prepared = prepare(name, viewer, ctx.params, now_utc())
        except NotFound:
            raise JobError(_("What this export was asked for is no longer there, or no longer yours to see.")) from None
        data = prepared.write(ctx.steps(prepared.rows, total=prepared.total, every=BATCH))
        ctx.save_file(prepared.filename, XLSX, data)
        message = _("%(n)d rows exported.", n=prepared.total)
    return {"message": message}
