"""Archive pages: a cadre's archive (timeline, records and their history, plan, assessment, certificate,
exports), unit overviews and the education profile, training classes, required reading, and the years.

Who may do what is asked of core.policy (archive.view / archive.manage / archive.configure / training.manage,
can_read_archive, is_archive_owner); the services refuse anything the policy forbids as well.
"""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from accounts.models import Cadre, PoliticalStatus, Rank, Unit, User
from accounts.models import label as profile_label
from accounts.services import units_in_scope
from archive import (
    assessment,
    bp,
    documents,
    qualifications,
    queries,
    reading,
    records,
    training,
)
from archive.forms import AssessmentForm, BookForm, ClassForm, NoteForm, PlanForm, YearForm
from archive.models import (
    COMPLETION_LABELS,
    AnnualAssessment,
    ArchiveEntry,
    ArchiveYear,
    Attendance,
    EntryKind,
    Qualification,
    ReadingBook,
    ReadingNote,
    StudyPlan,
    TrainingClass,
    TrainingEnrolment,
)
from core import policy
from core.errors import DomainError
from core.extensions import db
from core.forms import ActionForm
from core.models import local_today, now_utc
from core.policy import can, can_read_archive, is_archive_owner, login_required, require, scope_filter
from core.web import PDF, XLSX, RowPage, db_int, download, page_arg


def _year() -> int:
    try:
        year = int(request.args.get("year", ""))
    except ValueError:
        year = local_today().year
    return year if 1950 <= year <= 2100 else local_today().year


def _cadre(username: str) -> Cadre:
    """The cadre whose archive this is; 404 for nobody and for an archive the viewer may not read, the same
    answer, so that nobody learns from it which employee numbers exist."""
    cadre = db.session.scalar(select(Cadre).join(User).where(User.username == username))
    if cadre is None or not can_read_archive(current_user, cadre):
        abort(404)
    return cadre


def _owner_of(user_id: int) -> Cadre:
    cadre = db.session.scalar(select(Cadre).where(Cadre.user_id == user_id)) or abort(404)
    if not can_read_archive(current_user, cadre):
        abort(403)
    return cadre


def _check_form() -> None:
    if not ActionForm().validate_on_submit():
        abort(400)


def _attempt(action, success: str, to: str):
    """Run a service for a POST: a refusal is rolled back and flashed."""
    _check_form()
    try:
        action()
    except DomainError as exc:
        db.session.rollback()
        if exc.status == 403:
            abort(403)
        flash(exc.message, "error")
    else:
        flash(success, "success")
    return redirect(to)


def _save(form, action, success: str, to):
    """Run a service for a valid form: a refusal is rolled back and shown at the fields it names (None is
    returned, so the form is shown again); success flashes `success` and redirects to `to` (or `to(result)`)."""
    try:
        result = action()
    except DomainError as exc:
        db.session.rollback()
        if exc.status == 403:
            abort(403)
        _show_problems(form, exc)
        return None
    flash(success, "success")
    return redirect(to(result) if callable(to) else to)


def _show_problems(form, exc: DomainError) -> dict:
    """Put a refusal next to the fields it names; returns {field: message} for fields the form lacks."""
    loose = {}
    for name, message in exc.problems:
        field = getattr(form, name, None) if form is not None else None
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, message]
        else:
            loose[name] = message
    if not exc.problems:
        flash(exc.message, "error")
    return loose


# ---------------------------------------------------------------- home, overview, education


@bp.route("/")
@login_required
def home():
    if can(current_user, "archive.view"):
        return redirect(url_for("archive.overview"))
    if current_user.cadre is None:
        abort(403)
    return redirect(url_for("archive.cadre", username=current_user.username))


@bp.route("/overview")
@login_required
def overview():
    require("archive.view")
    year = _year()
    return render_template("archive/overview.html", data=queries.unit_overview(current_user, year), year=year,
                           classes=training.class_figures(current_user, year))  # fmt: skip


def _figure_query():
    year = _year()
    unit = db.session.get(Unit, request.args.get("unit", type=db_int) or 0)
    if unit is not None and not can(current_user, "archive.view", unit):
        abort(403)
    which = request.args.get("which", "all")
    if which not in queries.FIGURE_FILTERS:
        abort(404)
    subtree = request.args.get("subtree") == "1"
    return year, unit, which, queries.cadre_figures(current_user, year, unit, which, subtree=subtree)


@bp.route("/overview/cadres")
@login_required
def overview_cadres():
    require("archive.view")
    year, unit, which, query = _figure_query()
    page = RowPage(query, page_arg(), per_page=50)
    return render_template("archive/overview_cadres.html", page=page, year=year, unit=unit, which=which,
                           required=queries._required(year), books=queries._book_count(year))  # fmt: skip


@bp.route("/overview/roster.xlsx")
@login_required
def roster_export():
    require("archive.view")
    year, unit, _which, query = _figure_query()
    rows = db.session.execute(query.execution_options(yield_per=1000))  # read and written 1,000 cadres at a time
    return download(documents.roster_xlsx(rows, year), XLSX, f"roster-{year}.xlsx")


@bp.route("/education")
@login_required
def education():
    require("archive.view")
    leading = request.args.get("all") != "1"
    return render_template("archive/education.html", data=queries.education_profile(current_user, leading),
                           leading=leading, target=current_app.config["EDUCATION_TARGET"])  # fmt: skip


# ---------------------------------------------------------------- a cadre's archive


@bp.route("/cadres/<username>")
@login_required
def cadre(username):
    owner = _cadre(username)
    now = now_utc()
    mine = is_archive_owner(current_user, owner)
    return render_template(
        "archive/cadre.html", cadre=owner, years=queries.timeline(owner, mine, now), mine=mine,
        manage=can(current_user, "archive.manage", owner) and not mine,
        quals=queries.holder_qualifications(owner, mine, now), kinds=records.ADMIN_KINDS,
        action_form=ActionForm(), hour_kinds=assessment.HOUR_KINDS,
    )  # fmt: skip


@bp.route("/cadres/<username>/archive.pdf")
@login_required
def cadre_pdf(username):
    owner = _cadre(username)
    now, mine = now_utc(), is_archive_owner(current_user, owner)
    try:
        data = documents.archive_pdf(owner, queries.timeline(owner, mine, now),
                                     queries.holder_qualifications(owner, mine, now))  # fmt: skip
    except DomainError as exc:
        abort(exc.status, exc.message)
    return download(data, PDF, f"archive-{owner.employee_number}.pdf")


@bp.route("/cadres/<username>/archive.xlsx")
@login_required
def cadre_xlsx(username):
    owner = _cadre(username)
    years = queries.timeline(owner, is_archive_owner(current_user, owner), now_utc())
    return download(documents.archive_xlsx(owner, years), XLSX, f"archive-{owner.employee_number}.xlsx")


def _raw_entry(kind: str) -> dict:
    return {f.name: request.form.get(f.name, "") for f in records.KIND_FIELDS[kind]}


@bp.route("/cadres/<username>/entries/new", methods=["GET", "POST"])
@login_required
def entry_new(username):
    owner = _cadre(username)
    kind = request.args.get("kind", EntryKind.SELF_STUDY)
    if kind not in records.KIND_FIELDS:
        abort(404)
    if not records.may_add(current_user, owner, kind):
        abort(403)
    values, errors = {}, {}
    if request.method == "POST":
        _check_form()
        values = _raw_entry(kind)
        try:
            records.add_entry(current_user, owner, kind, values, now_utc())
        except DomainError as exc:
            db.session.rollback()
            errors = _show_problems(None, exc)
        else:
            flash(
                _("Record added.")
                if can(current_user, "archive.manage", owner) and not is_archive_owner(current_user, owner)
                else _("Record added; it counts once a reviewer accepts it."),
                "success",
            )
            return redirect(url_for("archive.cadre", username=username))
    return render_template("archive/entry_form.html", cadre=owner, kind=kind, fields=records.KIND_FIELDS[kind],
                           values=values, errors=errors, entry=None,
                           form=ActionForm()), 422 if errors else 200  # fmt: skip


def _entry(ident: int) -> tuple[ArchiveEntry, Cadre]:
    entry = db.session.get(ArchiveEntry, ident) or abort(404)
    return entry, _owner_of(entry.user_id)


@bp.route("/entries/<int:ident>")
@login_required
def entry(ident):
    row, owner = _entry(ident)
    return render_template("archive/entry.html", entry=row, cadre=owner, action_form=ActionForm(),
                           fields=records.KIND_FIELDS[row.kind],
                           manage=can(current_user, "archive.manage", owner) and not is_archive_owner(
                               current_user, owner))  # fmt: skip


@bp.route("/entries/<int:ident>/correct", methods=["GET", "POST"])
@login_required
def entry_correct(ident):
    row, owner = _entry(ident)
    require("archive.manage", owner)
    values = {**{k: str(v) for k, v in (row.details or {}).items()}, "title": row.title,
              "starts_on": row.starts_on.isoformat(), "ends_on": row.ends_on.isoformat() if row.ends_on else "",
              "hours": f"{row.hours:g}", "hour_kind": row.hour_kind or ""}  # fmt: skip
    errors = {}
    if request.method == "POST":
        _check_form()
        values = _raw_entry(row.kind)
        try:
            records.correct_entry(current_user, row, owner, values, request.form.get("reason", ""), now_utc())
        except DomainError as exc:
            db.session.rollback()
            if exc.status == 403:
                abort(403)
            errors = _show_problems(None, exc)
        else:
            flash(_("Correction saved; the earlier values stay in the history."), "success")
            return redirect(url_for("archive.entry", ident=row.id))
    return render_template("archive/entry_form.html", cadre=owner, kind=row.kind, fields=records.KIND_FIELDS[row.kind],
                           values=values, errors=errors, entry=row,
                           form=ActionForm()), 422 if errors else 200  # fmt: skip


@bp.route("/entries/<int:ident>/remove", methods=["POST"])
@login_required
def entry_remove(ident):
    row, owner = _entry(ident)
    require("archive.manage", owner)
    return _attempt(lambda: records.remove_entry(current_user, row, owner, request.form.get("reason", ""), now_utc()),
                    _("Record removed; it stays in the history."), url_for("archive.entry", ident=row.id))  # fmt: skip


@bp.route("/entries/<int:ident>/review", methods=["POST"])
@login_required
def entry_review(ident):
    row, owner = _entry(ident)
    require("archive.manage", owner)
    accept = request.form.get("decision") == "accept"
    return _attempt(
        lambda: records.review_entry(current_user, row, owner, accept, request.form.get("comment", ""), now_utc()),
        _("Record accepted.") if accept else _("Record not accepted."),
        url_for("archive.cadre", username=owner.employee_number),
    )  # fmt: skip


# ---------------------------------------------------------------- plan and assessment


@bp.route("/cadres/<username>/plans/<year:year>", methods=["GET", "POST"])
@login_required
def plan(username, year):
    owner = _cadre(username)
    mine, manage = is_archive_owner(current_user, owner), can(current_user, "archive.manage", owner)
    current = assessment.latest_plan(owner.user_id, year)
    form = PlanForm(data={"goals": current.goals, **current.planned_hours} if current else None)
    if request.method == "POST":
        if not (mine or manage):
            abort(403)
        planned = {k: getattr(form, k).data or 0 for k in assessment.HOUR_KINDS}
        if form.validate_on_submit() and (done := _save(form, lambda: assessment.save_plan(
            current_user, owner, year, form.goals.data, planned, form.reason.data, now_utc()
        ), _("Plan saved."), url_for("archive.plan", username=username, year=year))):  # fmt: skip
            return done
    versions = list(db.session.scalars(select(StudyPlan).where(StudyPlan.user_id == owner.user_id,
                                                               StudyPlan.year == year)
                                       .order_by(StudyPlan.version.desc())))  # fmt: skip
    return render_template("archive/plan.html", cadre=owner, year=year, form=form, versions=versions, mine=mine,
                           manage=manage and not mine, actual=assessment.hours_by_kind(owner.user_id, year),
                           closed=records.year_closed(year),
                           action_form=ActionForm()), 422 if form.errors else 200  # fmt: skip


@bp.route("/plans/<int:ident>/agree", methods=["POST"])
@login_required
def plan_agree(ident):
    row = db.session.get(StudyPlan, ident) or abort(404)
    owner = _owner_of(row.user_id)
    require("archive.manage", owner)
    return _attempt(lambda: assessment.agree_plan(current_user, row, owner, now_utc()), _("Plan agreed."),
                    url_for("archive.plan", username=owner.employee_number, year=row.year))  # fmt: skip


@bp.route("/cadres/<username>/assessments/<year:year>", methods=["GET", "POST"])
@login_required
def assessment_page(username, year):
    owner = _cadre(username)
    mine, manage = is_archive_owner(current_user, owner), can(current_user, "archive.manage", owner)
    current = assessment.latest_assessment(owner.user_id, year)
    form = AssessmentForm(data={"grade": current.grade, "appraisal": current.appraisal} if current else None)
    if request.method == "POST":
        if not manage or mine:
            abort(403)
        if form.validate_on_submit() and (done := _save(form, lambda: assessment.appraise(
            current_user, owner, year, form.appraisal.data, form.grade.data, form.reason.data, now_utc()
        ), _("Assessment saved; the cadre is asked to acknowledge it."),
           url_for("archive.assessment_page", username=username, year=year))):  # fmt: skip
            return done
    versions = list(db.session.scalars(select(AnnualAssessment).where(AnnualAssessment.user_id == owner.user_id,
                                                                      AnnualAssessment.year == year)
                                       .order_by(AnnualAssessment.version.desc())))  # fmt: skip
    kept = None
    if versions:
        kept = assessment.visible_summary(versions[0].summary, now_utc()) if mine else versions[0].summary
    return render_template("archive/assessment.html", cadre=owner, year=year, form=form, versions=versions, kept=kept,
                           mine=mine, manage=manage and not mine, live=assessment.summary(owner, year),
                           closed=records.year_closed(year), action_form=ActionForm(),
                           hour_kinds=assessment.HOUR_KINDS), 422 if form.errors else 200  # fmt: skip


@bp.route("/assessments/<int:ident>/acknowledge", methods=["POST"])
@login_required
def acknowledge(ident):
    row = db.session.get(AnnualAssessment, ident) or abort(404)
    owner = _owner_of(row.user_id)
    if not is_archive_owner(current_user, owner):
        abort(403)
    return _attempt(lambda: assessment.acknowledge(current_user, owner, row, request.form.get("feedback", ""),
                                                   now_utc()),
                    _("Thank you: your acknowledgement is recorded."),
                    url_for("archive.assessment_page", username=owner.employee_number, year=row.year))  # fmt: skip


@bp.route("/qualifications/<int:ident>/certificate.pdf")
@login_required
def certificate(ident):
    row = db.session.get(Qualification, ident) or abort(404)
    _owner_of(row.user_id)
    # Nobody prints a certificate that /verify would not confirm (revoked, or resting on unreleased results).
    if not qualifications.visible_to_holder(row, now_utc()):
        abort(404)
    link = qualifications.verification_url(row.code)  # refused (a DomainError page) without QE_PUBLIC_URL
    try:
        data = documents.certificate_pdf(row, link)
    except DomainError as exc:
        abort(exc.status, exc.message)
    return download(data, PDF, f"certificate-{row.code}.pdf")


# ---------------------------------------------------------------- required reading


@bp.route("/reading")
@login_required
def reading_list():
    year = _year()
    me = current_user.cadre
    if me is None and not can(current_user, "archive.view"):
        abort(403)
    now = now_utc()
    written = reading.reading_exam(year)
    # The department's view of the exam (its editor, what breaks the list's rule): not for one who sits it.
    editor = bool(written and can(current_user, "archive.configure") and can(current_user, "exam.manage")
                  and not policy.conflict(current_user, exam_id=written.exam_id))  # fmt: skip
    return render_template(
        "archive/reading.html", year=year, books=reading.books_of(year), form=BookForm(), now=now,
        notes=reading.notes_of(me.user_id, year) if me else {}, closed=records.year_closed(year),
        action_form=ActionForm(), written=written,
        my_results=reading.exam_results(year, queries.visible_results(me, True, now)) if me and written else [],
        state=reading.candidate_state(written, me.user, now) if me and written else None, exam_editor=editor,
        problems=reading.pool_problems(written.exam, reading.book_tags(year)) if editor else [],
    )  # fmt: skip


@bp.route("/reading/books", methods=["POST"])
@login_required
def book_add():
    require("archive.configure")
    year = _year()
    form = BookForm()
    if not form.validate_on_submit():
        flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
        return redirect(url_for("archive.reading_list", year=year))
    return _attempt(lambda: reading.add_book(current_user, year, form.title.data, form.author.data, form.note.data,
                                             form.min_chars.data, now_utc(), tag=form.tag.data),
                    _("Book added to the list."), url_for("archive.reading_list", year=year))  # fmt: skip


@bp.route("/reading/exam", methods=["POST"])
@login_required
def reading_exam_attach():
    """Attach an exam (by its code) to the year's list as its written exam, or draft one from the books' questions."""
    require("archive.configure")
    require("exam.manage")
    _check_form()
    year = _year()
    back = url_for("archive.reading_list", year=year)
    if request.form.get("draft"):
        return _attempt(
            lambda: reading.draft_exam(current_user, year, now_utc()),
            _("A draft written exam was made from the books' questions: check it and publish it."),
            back,
        )
    exam = reading.exam_by_code(request.form.get("code", ""))
    if exam is None:
        flash(_("No exam has this code."), "error")
        return redirect(back)
    return _attempt(lambda: reading.attach_exam(current_user, year, exam, now_utc()),
                    _("The exam is the list's written exam."), back)  # fmt: skip


@bp.route("/reading/exam/detach", methods=["POST"])
@login_required
def reading_exam_detach():
    require("archive.configure")
    year = _year()
    return _attempt(lambda: reading.detach_exam(current_user, year, now_utc()),
                    _("The list has no written exam now."), url_for("archive.reading_list", year=year))  # fmt: skip


@bp.route("/reading/books/<int:ident>/withdraw", methods=["POST"])
@login_required
def book_withdraw(ident):
    require("archive.configure")
    book = db.session.get(ReadingBook, ident) or abort(404)
    return _attempt(lambda: reading.withdraw_book(current_user, book, now_utc()), _("Book taken off the list."),
                    url_for("archive.reading_list", year=book.year))  # fmt: skip


@bp.route("/reading/books/<int:ident>/note", methods=["GET", "POST"])
@login_required
def note(ident):
    book = db.session.get(ReadingBook, ident) or abort(404)
    me = current_user.cadre
    if me is None:
        abort(403)
    form = NoteForm()
    if form.validate_on_submit() and (done := _save(
        form, lambda: reading.submit_note(current_user, me, book, form.body.data, now_utc()),
        _("Reading note submitted; a reviewer of your unit will read it."),
        url_for("archive.reading_list", year=book.year),
    )):  # fmt: skip
        return done
    notes = reading.notes_of(me.user_id, book.year).get(book.id, [])
    return render_template("archive/note.html", book=book, form=form, notes=notes,
                           closed=records.year_closed(book.year)), 422 if form.errors else 200  # fmt: skip


@bp.route("/reading/review")
@login_required
def notes_queue():
    """Notes waiting for review (the newest version of each) from cadres the viewer manages."""
    require("archive.view")
    year = _year()
    rows = db.session.scalars(
        queries.pending_notes(current_user, year).options(selectinload(ReadingNote.user).selectinload(User.cadre))
        .limit(200)
    ).all()  # fmt: skip
    # Leading cadres' notes are the department's to review, and nobody reviews their own.
    latest = [n for n in rows if can(current_user, "archive.manage", n.user.cadre) and n.user_id != current_user.id]
    return render_template("archive/notes_queue.html", notes=latest, year=year, action_form=ActionForm())


@bp.route("/reading/notes/<int:ident>/review", methods=["POST"])
@login_required
def note_review(ident):
    row = db.session.get(ReadingNote, ident) or abort(404)
    owner = _owner_of(row.user_id)
    require("archive.manage", owner)
    accept = request.form.get("decision") == "accept"
    return _attempt(
        lambda: reading.review_note(current_user, row, owner, accept, request.form.get("comment", ""), now_utc()),
        _("Marked as pass.") if accept else _("Marked as fail; the cadre can submit a new version."),
        url_for("archive.notes_queue", year=row.book.year),
    )  # fmt: skip


# ---------------------------------------------------------------- training classes


def _class(code: str) -> TrainingClass:
    klass = db.session.scalar(select(TrainingClass).where(TrainingClass.code == code)) or abort(404)
    require("training.manage", klass)
    try:
        training.check_authority(current_user, klass)
    except DomainError:
        abort(403)
    return klass


def _unit_choices(form: ClassForm) -> None:
    form.unit_id.choices = [(u.id, "\u3000" * u.depth + u.name) for u in units_in_scope(current_user)
                            if can(current_user, "training.manage", u)]  # fmt: skip


def _class_values(form: ClassForm) -> dict:
    return {name: getattr(form, name).data for name in training.CLASS_FIELDS}


@bp.route("/classes")
@login_required
def classes():
    require("training.manage")
    year = _year()
    rows = db.session.scalars(
        select(TrainingClass).join(Unit)
        .where(TrainingClass.year == year, scope_filter(current_user, Unit.path))
        .order_by(TrainingClass.starts_on.desc())
    ).all()  # fmt: skip
    return render_template("archive/classes.html", classes=rows, year=year,
                           figures=training.class_figures(current_user, year))  # fmt: skip


@bp.route("/classes/new", methods=["GET", "POST"])
@login_required
def class_new():
    require("training.manage")
    form = ClassForm()
    _unit_choices(form)
    if form.validate_on_submit() and (done := _save(
        form, lambda: training.create_class(current_user, _class_values(form), now_utc()),
        _("Class created; now enrol its participants."), lambda klass: url_for("archive.class_detail", code=klass.code),
    )):  # fmt: skip
        return done
    return render_template("archive/class_form.html", form=form, klass=None), 422 if form.errors else 200


@bp.route("/classes/<code>/edit", methods=["GET", "POST"])
@login_required
def class_edit(code):
    klass = _class(code)
    form = ClassForm(obj=klass)
    _unit_choices(form)
    if form.validate_on_submit() and (done := _save(
        form, lambda: training.update_class(current_user, klass, _class_values(form), form.reason.data, now_utc()),
        _("Class saved."), url_for("archive.class_detail", code=klass.code),
    )):  # fmt: skip
        return done
    return render_template("archive/class_form.html", form=form, klass=klass), 422 if form.errors else 200


@bp.route("/classes/<code>/")
@login_required
def class_detail(code):
    klass = _class(code)
    enrolments = sorted(klass.enrolments, key=lambda e: e.user.username)
    cadres = {c.user_id: c for c in db.session.scalars(
        select(Cadre).where(Cadre.user_id.in_([e.user_id for e in enrolments])))}  # fmt: skip
    return render_template(
        "archive/class_detail.html", klass=klass, enrolments=enrolments, cadres=cadres, action_form=ActionForm(),
        attendance=list(Attendance), completion=COMPLETION_LABELS, units=units_in_scope(current_user),
        ranks=list(Rank), political_statuses=list(PoliticalStatus), profile_label=profile_label,
        closed=records.year_closed(klass.year),
    )  # fmt: skip


@bp.route("/classes/<code>/enrol", methods=["POST"])
@login_required
def class_enrol(code):
    klass = _class(code)
    _check_form()
    now, mode, to = now_utc(), request.form.get("mode"), url_for("archive.class_detail", code=code)
    try:
        if mode == "numbers":
            numbers = request.form.get("numbers", "").replace(",", "\n").replace("，", "\n").split()
            added = training.enrol_by_numbers(current_user, klass, numbers, now)
        elif mode == "rules":
            rules = {"unit_ids": request.form.getlist("unit_ids", type=db_int), "ranks": request.form.getlist("ranks"),
                     "political_statuses": request.form.getlist("political_statuses"),
                     "max_age": request.form.get("max_age", type=db_int)}  # fmt: skip
            added = training.enrol_by_rules(current_user, klass, rules, klass.starts_on, now)
        elif mode == "xlsx":
            upload = request.files.get("file")
            added, issues = training.enrol_from_sheet(current_user, klass, upload.read() if upload else b"", now)
            if issues:
                db.session.rollback()
                for issue in issues[:50]:
                    flash(str(issue), "error")
                flash(_("Nobody was enrolled: correct the list and upload it again."), "error")
                return redirect(to)
        else:
            abort(400)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(to)
    flash(_("%(n)d enrolled (people already in the class are left as they are).", n=added), "success")
    return redirect(to)


@bp.route("/classes/<code>/enrolments/<int:ident>/remove", methods=["POST"])
@login_required
def class_unenrol(code, ident):
    klass = _class(code)
    enrolment = db.session.get(TrainingEnrolment, ident)
    if enrolment is None or enrolment.class_id != klass.id:
        abort(404)
    return _attempt(lambda: training.remove_enrolment(current_user, enrolment, now_utc()), _("Taken off the class."),
                    url_for("archive.class_detail", code=code))  # fmt: skip


@bp.route("/classes/<code>/attendance", methods=["POST"])
@login_required
def class_attendance(code):
    klass = _class(code)
    rows = {}
    for enrolment in klass.enrolments:
        key = str(enrolment.id)
        hours = request.form.get(f"hours-{key}", "").strip()
        try:
            hours_value = float(hours) if hours else None
        except ValueError:
            hours_value = -1.0
        rows[enrolment.id] = {"attendance": request.form.get(f"attendance-{key}", enrolment.attendance),
                              "completion": request.form.get(f"completion-{key}", enrolment.completion),
                              "hours": hours_value, "comment": request.form.get(f"comment-{key}", "")}  # fmt: skip
    return _attempt(lambda: training.record_attendance(current_user, klass, rows, request.form.get("reason", ""),
                                                       now_utc()),
                    _("Attendance recorded; every participant's archive shows it."),
                    url_for("archive.class_detail", code=code))  # fmt: skip


# ---------------------------------------------------------------- years


@bp.route("/years", methods=["GET", "POST"])
@login_required
def years():
    require("archive.configure")
    form = YearForm(data={"year": local_today().year})
    if form.validate_on_submit() and (done := _save(
        form, lambda: records.set_required_hours(current_user, form.year.data, form.required_hours.data, now_utc(),
                                                 practice_cap=form.practice_hours_cap.data or 0),
        _("Required hours saved."), url_for("archive.years"),
    )):  # fmt: skip
        return done
    rows = db.session.scalars(select(ArchiveYear).order_by(ArchiveYear.year.desc())).all()
    return render_template("archive/years.html", form=form, rows=rows, action_form=ActionForm(),
                           this_year=local_today().year), 422 if form.errors else 200  # fmt: skip


@bp.route("/years/<year:year>/close", methods=["POST"])
@login_required
def year_close(year):
    require("archive.configure")
    return _attempt(lambda: records.close_year(current_user, year, now_utc()),
                    _("The year %(y)d is closed.", y=year), url_for("archive.years"))  # fmt: skip
