"""Report pages: per exam the ranking, the unit table, the statistics and the item analysis, with their exports
(.xlsx, the score report PDF); score slips; per year the unit table; per cycle the qualification progress; a
cadre's exam history; and, for candidates, the ranking list an exam publishes.

Who may see what is asked of core.policy: `reports.view` (admins, limited to their unit scope by every query),
`reports.items` (the district: item analysis shows questions and district-wide figures). A candidate sees their
own standing and slip once the exam's release policy shows them the result, and other candidates only in a
ranking list the exam publishes.
"""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from accounts.forms import AGE_BAND_LABELS
from accounts.models import Cadre, Rank, Unit, User
from accounts.models import label as profile_label
from accounts.services import units_in_scope
from core import policy
from core.extensions import db
from core.forms import ActionForm
from core.models import local_today, now_utc
from core.policy import can, has_district_scope, in_scope, login_required, permission_required, scope_filter
from core.web import PDF, XLSX, RowPage, WindowPage, download, page_arg
from exam.attempts import grace
from exam.models import Attempt, AttemptStatus, Exam, ExamStatus
from exam.visibility import result_visible
from jobs import submit
from jobs.views import status as job_status
from reports import bp, documents, exports, history, items, jobs, ranking, statistics
from reports.models import ExamAnalysis
from reports.ranking import Filters

#: How the item analysis names its flags.
FLAG_LABELS = {
    "negative_discrimination": _l("negative discrimination"),
    "low_discrimination": _l("discrimination near zero"),
    "too_easy": _l("too easy"),
    "too_hard": _l("too hard"),
    "distractor": _l("a wrong option drew the top group more than the key"),
}


def _exam(code: str, questions: bool = False) -> Exam:
    """An exam candidates have started (nothing to report before); 404 otherwise. 403 while a conflict of interest
    keeps its results from the user (or, with `questions`, its questions: the item analysis)."""
    exam = db.session.scalar(select(Exam).where(Exam.code == code))
    if exam is None or exam.first_started_at is None:
        abort(404)
    policy.refuse_conflict(
        results_of=exam.id, now=now_utc()
    )  # a candidate reads no other candidate's result before their review
    if questions:
        policy.refuse_conflict(exam_id=exam.id, now=now_utc())
    return exam


def _filters() -> Filters:
    try:
        return exports.filters_from(request.args, current_user)
    except exports.NotFound:
        abort(404)


def _common(exam: Exam, **extra) -> dict:
    return {"exam": exam, "now": now_utc(), "can_items": can(current_user, "reports.items"),
            "ranking_update": lambda: _job_box(ranking.update_job(exam)), **extra}  # fmt: skip


def _job_box(job) -> dict | None:
    """What a page shows of a job that works on its figures: the job, and its live status if the viewer may follow
    it (the job pages' rule: its owner or the district)."""
    if job is None:
        return None
    visible = job.created_by_id == current_user.id or can(current_user, "jobs.view_all")
    return {"job": job, "status": job_status(job) if visible else None, "form": ActionForm()}


def _filter_choices() -> dict:
    return {
        "units": units_in_scope(current_user),
        "ranks": [(r.value, profile_label(r)) for r in Rank],
        "ages": list(AGE_BAND_LABELS.items()),
    }


# ---------------------------------------------------------------- the list


@bp.route("/")
@permission_required("reports.view")
def home():
    exams = db.session.scalars(
        select(Exam).where(Exam.first_started_at.is_not(None)).order_by(Exam.opens_at.desc(), Exam.code)
    ).all()
    graded = (
        select(Attempt.exam_id, func.count(Attempt.id)).where(Attempt.fully_graded.is_(True)).group_by(Attempt.exam_id)
    )
    if not has_district_scope(current_user):  # a unit admin counts the candidates of their scope only
        graded = graded.join(Cadre, Cadre.user_id == Attempt.user_id).join(Unit, Unit.id == Cadre.unit_id)
        graded = graded.where(scope_filter(current_user, Unit.path))
    counts = dict(db.session.execute(graded).all())
    return render_template("reports/home.html", exams=exams, counts=counts, years=history.years_with_exams(),
                           cycles=history.cycles(), now=now_utc())  # fmt: skip


# ---------------------------------------------------------------- ranking


@bp.route("/exams/<code>/ranking")
@permission_required("reports.view")
def exam_ranking(code: str):
    exam = _exam(code)
    filters = _filters()
    absent = request.args.get("show") == "absent"
    voided = request.args.get("show") == "voided"  # scores voided by a decision on an incident: apart
    per_page = current_app.config["RANKING_PER_PAGE"]
    page_no = page_arg()
    if voided:
        page = RowPage(ranking.voided_query(exam, current_user, filters), page_no, per_page)
    elif absent:
        page = RowPage(ranking.absent_query(exam, current_user, filters).with_only_columns(
            *ranking.ABSENT_COLUMNS), page_no, per_page)  # fmt: skip
    else:
        page = WindowPage(ranking.ranking_query(exam, current_user, filters), page_no, per_page)
    return render_template(
        "reports/ranking.html", **_common(exam), filters=filters, page=page, absent=absent, voided=voided,
        sessions=absent and ranking.has_sessions(exam),
        narrowed=ranking.narrowed(current_user, filters),
        counts=ranking.counts(exam, current_user, filters),
        voided_count=ranking.voided_count(exam, current_user, filters),
        args={**filters.query_args(), **({"show": "absent"} if absent else {"show": "voided"} if voided else {})},
        action_form=ActionForm(), **_filter_choices(),
    )  # fmt: skip


@bp.route("/exams/<code>/ranking.xlsx")
@permission_required("reports.view")
def exam_ranking_xlsx(code: str):
    exam = _exam(code)
    return _export("ranking", {"exam": exam.code, "filters": _filters().query_args()})


def _export(name: str, params: dict):
    """Download the export at once, or, past REPORTS_EXPORT_INLINE_ROWS rows, make it in a job and show its page."""
    try:
        prepared = exports.prepare(name, current_user, params, now_utc())
    except exports.NotFound:
        abort(404)
    if prepared.total <= exports.inline_rows():
        return download(prepared.write(prepared.rows), XLSX, prepared.filename)
    job = exports.start(name, params, current_user)
    return redirect(url_for("jobs.detail", job_id=job.id))


@bp.route("/exams/<code>/slips", methods=["POST"])
@permission_required("reports.view")
def exam_slips(code: str):
    """The score slips of the exam's passed candidates in the user's scope, as one PDF made by a job."""
    exam = _exam(code)
    if not ActionForm().validate_on_submit():
        abort(400)
    job = submit(exports.SLIPS, {"exam": exam.code}, user=current_user)
    return redirect(url_for("jobs.detail", job_id=job.id))


# ---------------------------------------------------------------- units


@bp.route("/exams/<code>/units")
@permission_required("reports.view")
def exam_units(code: str):
    exam = _exam(code)
    sort = request.args.get("sort", "mean")
    rows = statistics.units(exam, current_user, sort=sort)
    return render_template("reports/units.html", **_common(exam), rows=rows, sort=sort, sorts=statistics.SORTS)


@bp.route("/exams/<code>/units.xlsx")
@permission_required("reports.view")
def exam_units_xlsx(code: str):
    exam = _exam(code)
    rows = statistics.units(exam, current_user, sort=request.args.get("sort", "mean"))
    return download(documents.units_xlsx(exam.title, rows), XLSX, f"units-{exam.code}.xlsx")


@bp.route("/years/<year:year>/units")
@permission_required("reports.view")
def year_units(year: int):
    sort = request.args.get("sort", "mean")
    table = statistics.year_units(year, current_user, sort=sort)
    return render_template("reports/year_units.html", year=year, sort=sort, sorts=statistics.SORTS, **table)


@bp.route("/years/<year:year>/units.xlsx")
@permission_required("reports.view")
def year_units_xlsx(year: int):
    table = statistics.year_units(year, current_user, sort=request.args.get("sort", "mean"))
    title = _("Units in %(year)d", year=year)
    return download(documents.units_xlsx(title, table["rows"], percent=True), XLSX, f"units-{year}.xlsx")


# ---------------------------------------------------------------- statistics


def _statistics(exam: Exam) -> dict:
    analysis = stale = None
    if has_district_scope(current_user):  # sections and subjects come from the district-wide item analysis
        analysis, stale = items.current(exam, now_utc())
    return {**statistics.figures(exam, current_user), "analysis": analysis, "stale": stale}


@bp.route("/exams/<code>/statistics")
@permission_required("reports.view")
def exam_statistics(code: str):
    exam = _exam(code)
    return render_template("reports/statistics.html", **_common(exam), **_statistics(exam))


@bp.route("/exams/<code>/report.pdf")
@permission_required("reports.view")
def exam_report_pdf(code: str):
    exam = _exam(code)
    data = documents.report_pdf(exam, _statistics(exam), viewer_scope=_scope_name())
    return download(data, PDF, f"report-{exam.code}.pdf")


def _scope_name() -> str:
    if has_district_scope(current_user):
        return _("The whole district")
    return "、".join(u.name for u in units_in_scope(current_user) if u.path in current_user.unit_scope_paths)


# ---------------------------------------------------------------- item analysis


@bp.route("/exams/<code>/items")
@permission_required("reports.items")
def exam_items(code: str):
    exam = _exam(code, questions=True)
    job = jobs.active(jobs.ITEM_ANALYSIS, exam)
    if job is None:
        analysis, stale = items.current(exam, now_utc())
    else:  # being computed: the kept one meanwhile, never computed here a second time
        analysis, stale = db.session.get(ExamAnalysis, exam.id), True
    only_flagged = request.args.get("flagged") == "1"
    return render_template("reports/items.html", **_common(exam), analysis=analysis, stale=stale,
                           only_flagged=only_flagged, flag_labels=FLAG_LABELS, action_form=ActionForm(),
                           analysis_job=_job_box(job))  # fmt: skip


@bp.route("/exams/<code>/items/refresh", methods=["POST"])
@permission_required("reports.items")
def exam_items_refresh(code: str):
    """Start the job that computes the analysis again, or follow the one that waits or runs; then its page."""
    exam = _exam(code, questions=True)
    if not ActionForm().validate_on_submit():
        abort(400)
    job, started = jobs.start(jobs.ITEM_ANALYSIS, exam, current_user)
    if not started:
        flash(_("The item analysis is already being computed: here is its progress."), "info")
    return redirect(url_for("jobs.detail", job_id=job.id))


@bp.route("/exams/<code>/items.xlsx")
@permission_required("reports.items")
def exam_items_xlsx(code: str):
    exam = _exam(code, questions=True)
    analysis, _stale = items.current(exam, now_utc())
    if analysis is None:
        abort(404)
    return download(documents.items_xlsx(exam, analysis.data, FLAG_LABELS), XLSX, f"items-{exam.code}.xlsx")


# ---------------------------------------------------------------- slips, history, qualifications


def _slip_allowed(attempt: Attempt) -> bool:
    """Admins for candidates in their scope; the candidate once the result is shown to them."""
    if attempt.user_id == current_user.id:
        return result_visible(attempt, now_utc()) and attempt.fully_graded
    cadre = attempt.user.cadre
    return can(current_user, "reports.view") and (
        has_district_scope(current_user) or cadre is not None and in_scope(current_user, cadre.unit_path)
    )


@bp.route("/attempts/<int:attempt_id>/slip.pdf")
@login_required
def slip(attempt_id: int):
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or attempt.status == AttemptStatus.IN_PROGRESS or not _slip_allowed(attempt):
        abort(404)
    if attempt.user_id != current_user.id:
        policy.refuse_conflict(results_of=attempt.exam_id, now=now_utc())
    place = ranking.standing(attempt.exam, attempt.user) if attempt.fully_graded else None
    if place is not None and place["attempt_id"] != attempt.id:
        place = None  # another attempt of theirs is the one ranked
    data = documents.slip_pdf(attempt, place, history.attempt_sections(attempt))
    return download(data, PDF, f"slip-{attempt.exam.code}-{attempt.user.username}.pdf")


@bp.route("/people/<username>/history")
@login_required
def person_history(username: str):
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or user.cadre is None:
        abort(404)
    owner = user.id == current_user.id
    if not owner and not (can(current_user, "reports.view") and in_scope(current_user, user.cadre.unit_path)):
        abort(404)  # the same as for nobody: employee numbers cannot be probed
    rows = history.exam_history(user.cadre, owner, now_utc())
    if not owner:  # another candidate's result of an exam the viewer sits stays hidden until their review
        rows = [r for r in rows if not policy.conflict(current_user, results_of=r["record"].exam_id)]
    return render_template("reports/history.html", person=user, rows=rows, owner=owner)


@bp.route("/my/history")
@login_required
def my_history():
    if current_user.cadre is None:
        abort(404)
    return redirect(url_for("reports.person_history", username=current_user.username))


@bp.route("/qualifications")
@permission_required("reports.view")
def qualifications():
    cycles = history.cycles()
    cycle = request.args.get("cycle") or (cycles[0] if cycles else "")
    if cycle and cycle not in cycles:
        abort(404)
    status = request.args.get("status", "")
    data = history.progress(cycle, current_user, local_today()) if cycle else None
    rows = [r for r in data["rows"] if not status or r["status"] == status] if data else []
    return render_template("reports/qualifications.html", cycles=cycles, cycle=cycle, data=data, rows=rows,
                           status=status, statuses=history.STATUSES)  # fmt: skip


@bp.route("/qualifications.xlsx")
@permission_required("reports.view")
def qualifications_xlsx():
    return _export("qualifications", {"cycle": request.args.get("cycle", "")})


# ---------------------------------------------------------------- for candidates


@bp.route("/exams/<code>/list")
@login_required
def published_list(code: str):
    """The ranking list an exam publishes: rank, name, unit and score, for its candidates once their result is
    shown to them (and for admins)."""
    exam = _exam(code)
    if not exam.publish_ranking:
        abort(404)
    if can(current_user, "reports.view"):
        viewer = current_user  # admins see the list of their own scope, as the ranking
    else:
        viewer = None  # a candidate sees the whole list, once nobody can be sitting and their result is shown
        now = now_utc()
        own = db.session.scalars(select(Attempt).where(Attempt.exam_id == exam.id, Attempt.user_id == current_user.id))
        over = exam.status == ExamStatus.RELEASED or now >= exam.closes_at + grace()
        if not over or not any(result_visible(a, now) for a in own):
            abort(404)
    page = WindowPage(ranking.ranking_query(exam, viewer, ranking.NO_FILTERS),
                   page_arg(), current_app.config["RANKING_PER_PAGE"])  # fmt: skip
    return render_template("reports/published.html", exam=exam, page=page, narrowed=ranking.narrowed(viewer))
