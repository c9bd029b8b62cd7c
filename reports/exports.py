"""The exports that grow with the district (a ranking, the qualification progress): rows read in batches and written
as they come (openpyxl's write-only mode); past REPORTS_EXPORT_INLINE_ROWS rows they are made by the job
"reports.export", which the person waits for on the job page and downloads from there. And the job "reports.slips":
the score slips of an exam's passed candidates as one PDF, a page each.

Each job re-applies the scope of the person who started it (the job's owner, read again when it runs): the rows a
unit admin's job writes are those their own ranking page shows, whatever roles they also hold.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from accounts.forms import AGE_BAND_LABELS
from accounts.models import Cadre, Rank, Unit, User
from core import policy
from core.extensions import db
from core.models import local_today, now_utc
from core.policy import can, in_scope
from core.web import PDF, XLSX, db_int
from exam.models import Attempt, Exam
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
    """The rows of `stmt`, fetched BATCH at a time (a server-side cursor on PostgreSQL), only once iterated; the
    cursor is closed however the reading ends (a writer that fails half-way included)."""
    result = db.session.execute(stmt.execution_options(yield_per=BATCH))
    try:
        yield from result
    finally:
        result.close()


def _ranking(viewer, params: Mapping, now) -> Prepared:
    exam = db.session.scalar(select(Exam).where(Exam.code == str(params.get("exam") or "")))
    if exam is None or exam.first_started_at is None:
        raise NotFound()
    if policy.conflict(viewer, results_of=exam.id, now=now):
        raise NotFound()
    filters = filters_from(params.get("filters") or {}, viewer)
    query = ranking.ranking_query(exam, viewer, filters, now, fresh=True)  # a document: the results as they are now
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


def _language_of(viewer):
    """Speak the starter's language (headers, messages) in the job, as their pages do."""
    language = viewer.locale if viewer.locale in current_app.config["LANGUAGES"] else None
    return force_locale(language or current_app.config["BABEL_DEFAULT_LOCALE"])


def may_read_results(user, job) -> bool:
    """Who may download a results file (an export, the slips) now: someone who may read reports and is not, or no
    longer, in conflict with the exam it is about (asked at every download: jobs.views)."""
    if not user.active or not can(user, "reports.view"):
        return False
    code = job.params.get("exam")
    if not code:
        return True  # a file about no exam (the qualifications' progress)
    exam = db.session.scalar(select(Exam).where(Exam.code == str(code)))
    return exam is not None and not policy.conflict(user, results_of=exam.id, now=now_utc())


@register(KIND, _l("Export"), readable=may_read_results)
def _export_job(ctx) -> dict:
    name = ctx.params.get("export")
    viewer = db.session.get(User, ctx.job.created_by_id) if ctx.job.created_by_id else None
    if name not in EXPORTS:
        raise JobError(f"unknown export {name!r}")
    if viewer is None or not viewer.active or not can(viewer, EXPORTS[name][1]):
        raise JobError(_("The person who asked for this export may no longer make it."))
    with _language_of(viewer):
        try:
            prepared = prepare(name, viewer, ctx.params, now_utc())
        except NotFound:
            raise JobError(_("What this export was asked for is no longer there, or no longer yours to see.")) from None
        data = prepared.write(ctx.steps(prepared.rows, total=prepared.total, every=BATCH))
        ctx.save_file(prepared.filename, XLSX, data)
        message = _("%(n)d rows exported.", n=prepared.total)
    return {"message": message}


# ---------------------------------------------------------------- score slips in one PDF

SLIPS = "reports.slips"
#: Attempts loaded at a time for the slips (each slip reads its sections on its own).
SLIP_BATCH = 200


def _slips(exam: Exam, viewer, now) -> tuple[int, Iterable]:
    """The slips of the exam's passed candidates the viewer may see, in rank order: how many, and the slips
    (attempt, place, sections) as slips_pdf draws them, loaded SLIP_BATCH attempts at a time."""
    query = ranking.ranking_query(exam, viewer, Filters(outcome="passed"), now, fresh=True)
    ranked = ranking.kept_ranks(exam, now).ranked
    places = [(r.attempt_id, r.exam_rank, r.tied) for r in db.session.execute(query)]

    def slips():
        for start in range(0, len(places), SLIP_BATCH):
            chunk = places[start : start + SLIP_BATCH]
            attempts = {a.id: a for a in db.session.scalars(
                select(Attempt).where(Attempt.id.in_([p[0] for p in chunk]))
                .options(selectinload(Attempt.user).selectinload(User.cadre).selectinload(Cadre.unit))
            )}  # fmt: skip
            for attempt_id, rank, tied in chunk:
                behind = ranked - (rank - 1) - tied  # as ranking.standing counts it, from the kept ranking
                place = {"rank": rank, "ranked": ranked, "tied": tied,
                         "behind_percent": round(100.0 * behind / ranked, 1)}  # fmt: skip
                attempt = attempts[attempt_id]
                yield attempt, place, history.attempt_sections(attempt)

    return len(places), slips()


@register(SLIPS, _l("Score slips"), readable=may_read_results)
def _slips_job(ctx) -> dict:
    viewer = db.session.get(User, ctx.job.created_by_id) if ctx.job.created_by_id else None
    if viewer is None or not viewer.active or not can(viewer, "reports.view"):
        raise JobError(_("The person who asked for these slips may no longer print them."))
    now = now_utc()
    exam = db.session.scalar(select(Exam).where(Exam.code == str(ctx.params.get("exam") or "")))
    if exam is None or exam.first_started_at is None or policy.conflict(viewer, results_of=exam.id, now=now):
        raise JobError(_("What this export was asked for is no longer there, or no longer yours to see."))
    with _language_of(viewer):
        total, slips = _slips(exam, viewer, now)
        if not total:
            raise JobError(_("Nobody in your units has passed this exam yet: there is no slip to print."))
        data = documents.slips_pdf(ctx.steps(slips, total=total))
        ctx.save_file(f"slips-{exam.code}.pdf", PDF, data)
        message = _("%(n)d score slips in one PDF.", n=total)
    return {"message": message}
