"""Exam administration pages: the list, defining an exam (settings, who may sit it, its paper), the pool check and
a sample paper, candidates by hand, the lifecycle (publish, withdraw, release), attempts, and exams as files."""

import json
import random
import re
from datetime import UTC, datetime

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from wtforms.validators import Optional

from accounts.models import Cadre, Unit, User
from accounts.services import unit_tree
from core import policy
from core.errors import DomainError
from core.extensions import db
from core.forms import ActionForm, options, show_problems
from core.models import local_today, now_utc
from core.policy import permission_required
from core.web import db_int, page_arg
from exam import bp, conflicts, definition, files, grading, review, scoring, timeline
from exam import jobs as exam_jobs
from exam.attempts import finalize_overdue, grace
from exam.eligibility import (
    candidate_overrides,
    eligibility_verdict,
    eligible_counts_by_unit,
    eligible_people,
    set_candidate,
)
from exam.forms import AccessCodeForm, EligibilityForm, ExamForm, FixedQuestionsForm, KeyForm, RuleForm, SectionForm
from exam.models import Answer, Attempt, Exam, ExamSection, FixedItem, Paper, SectionRule
from exam.papers import check_pools, sample_paper
from jobs.models import JobState
from jobs.views import status as jobs_status
from question_bank.models import Bank, Category, QuestionStatus
from question_bank.queries import banks_query, questions_query
from question_bank.services import category_path_names
from question_bank.types import LETTERS


def _exam(code: str) -> Exam:
    """The exam, unless a conflict of interest keeps it from the user (a candidate of it, or of an exam that can
    draw its questions, until their review is allowed): its definition, sample, keys and attempts alike."""
    exam = db.session.scalar(select(Exam).where(Exam.code == code)) or abort(404)
    policy.refuse_conflict(exam_id=exam.id)
    return exam


def _part(model, ident: int, exam: Exam):
    """A section, rule or fixed item by id, only if it belongs to `exam`."""
    row = db.session.get(model, ident)
    section = row if isinstance(row, ExamSection) else getattr(row, "section", None)
    if row is None or section.exam_id != exam.id:
        abort(404)
    return row


def _act(exam: Exam, action, success, to: str = "exam.exam"):
    """Run one service for a POST button or small form: CSRF first; a refusal is rolled back and shown.
    `success` is the message, or makes it from what the service returned."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        result = action()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(success(result) if callable(success) else success, "success")
    return redirect(url_for(to, code=exam.code))


@bp.route("/")
@permission_required("exam.manage")
def exams():
    rows = db.session.execute(
        select(Exam, func.count(func.distinct(Paper.id)), func.count(func.distinct(Attempt.id)))
        .outerjoin(Paper, Paper.exam_id == Exam.id)
        .outerjoin(Attempt, Attempt.exam_id == Exam.id)
        .group_by(Exam.id)
        .order_by(Exam.opens_at.desc())
    ).all()
    return render_template("exam/list.html", rows=rows, now=now_utc(), action_form=ActionForm())


@bp.route("/import", methods=["POST"])
@permission_required("exam.manage")
def import_file():
    """A new draft exam from an uploaded exam file (docs/exam-file.md)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    upload = request.files.get("file")
    try:
        data = json.loads(upload.read().decode("utf-8")) if upload else None
    except (ValueError, UnicodeDecodeError):
        data = None
    if data is None:
        flash(_("Please choose an exam file (JSON)."), "error")
        return redirect(url_for("exam.exams"))
    try:
        exam = files.import_exam(current_user, data, now_utc(), code=request.form.get("code") or None)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("exam.exams"))
    flash(_("Exam %(code)s imported as a draft.", code=exam.code), "success")
    return redirect(url_for("exam.exam", code=exam.code))


# ---------------------------------------------------------------- settings


def _settings(form: ExamForm, exam: Exam | None = None, locked=frozenset()) -> dict:
    """The settings the form may change. Locked ones are shown disabled (a browser does not send them), and a time
    the form shows to the minute stays as it is when the minute is unchanged (an imported close may have
    seconds, and "moving" it a few seconds earlier would be refused after the first start)."""
    values = {}
    for name in definition.SETTINGS:
        value = form[name].data
        if (
            name in locked
            or exam is not None
            and isinstance(value, datetime)
            and _minute(value) == _minute(getattr(exam, name))
        ):
            continue
        values[name] = value
    return values


def _minute(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(second=0, microsecond=0)


@bp.route("/new", methods=["GET", "POST"])
@permission_required("exam.manage")
def exam_new():
    form = ExamForm()
    if form.validate_on_submit():
        try:
            exam = definition.create_exam(current_user, form.code.data or "", _settings(form), now_utc())
        except DomainError as exc:
            db.session.rollback()
            if exc.code in ("bad_code", "code_taken"):
                form.code.errors = [exc.message]
            else:
                show_problems(form, exc)
        else:
            flash(_("Exam %(code)s created as a draft: now say who may sit it and build its paper.", code=exam.code),
                  "success")  # fmt: skip
            return redirect(url_for("exam.exam", code=exam.code))
    return render_template("exam/settings.html", form=form, exam=None, locked=frozenset())


@bp.route("/<code>/settings", methods=["GET", "POST"])
@permission_required("exam.manage")
def exam_settings(code: str):
    exam = _exam(code)
    locked = definition.locked_settings(exam)
    form = ExamForm(obj=exam)
    for name in locked:
        form[name].validators = [Optional()]  # disabled on the page, so never sent
    if form.validate_on_submit():
        try:
            changed = definition.update_settings(current_user, exam, _settings(form, exam, locked), now_utc())
        except DomainError as exc:
            db.session.rollback()
            show_problems(form, exc)
        else:
            flash(_("Saved.") if changed else _("Nothing changed."), "success")
            return redirect(url_for("exam.exam", code=exam.code))
    return render_template("exam/settings.html", form=form, exam=exam, locked=locked, code_form=AccessCodeForm())


@bp.route("/<code>/access-code", methods=["POST"])
@permission_required("exam.manage")
def access_code(code: str):
    exam = _exam(code)
    form = AccessCodeForm()
    if not form.validate_on_submit():
        abort(400)
    value = form.access_code.data or ""
    message = _("Access code set.") if value.strip() else _("The exam needs no access code now.")
    return _act(exam, lambda: definition.set_access_code(current_user, exam, value, now_utc()), message)


# ---------------------------------------------------------------- who may sit it


@bp.route("/<code>/eligibility", methods=["GET", "POST"])
@permission_required("exam.manage")
def eligibility(code: str):
    exam = _exam(code)
    rules = exam.eligibility or {}
    form = EligibilityForm(data=None if request.method == "POST" else {
        "unit_ids": rules.get("unit_ids", []), "ranks": rules.get("ranks", []),
        "political_statuses": rules.get("political_statuses", []), "max_age": rules.get("max_age"),
        "age_on": exam.age_on,
    })  # fmt: skip
    units = unit_tree()
    form.unit_ids.choices = options((u.id, u.name) for u in units)
    if form.validate_on_submit():
        new = {
            "unit_ids": form.unit_ids.data or [], "ranks": form.ranks.data or [],
            "political_statuses": form.political_statuses.data or [], "max_age": form.max_age.data,
            "age_on": form.age_on.data.isoformat() if form.age_on.data else None,
        }  # fmt: skip
        try:
            drawn = definition.set_eligibility(current_user, exam, new, now_utc())
        except DomainError as exc:
            db.session.rollback()
            show_problems(form, exc)
        else:
            if drawn:
                flash(_("Saved; %(n)d new papers drawn.", n=drawn), "success")
            elif exam_jobs.preparing(exam):
                flash(_("Saved; the papers of the new candidates are being drawn."), "success")
            else:
                flash(_("Saved."), "success")
            return redirect(url_for("exam.exam", code=exam.code))
    return render_template("exam/eligibility.html", exam=exam, form=form, units=units)


@bp.route("/<code>/eligible")
@permission_required("exam.manage")
def eligible(code: str):
    """Everyone who may sit the exam now, with their paper (drawn or not) and any extra time."""
    exam = _exam(code)
    people = eligible_people(exam).options(selectinload(User.cadre).selectinload(Cadre.unit))
    page = db.paginate(people, page=page_arg(), per_page=100, error_out=False)
    shown = [user.id for user in page.items]
    drawn = select(Paper.user_id).where(Paper.exam_id == exam.id, Paper.user_id.in_(shown))
    return render_template(
        "exam/eligible.html", exam=exam, page=page, papers=set(db.session.scalars(drawn)),
        overrides={o.user_id: o for o in candidate_overrides(exam)}, age_on=exam.age_on or local_today(),
    )  # fmt: skip


# ---------------------------------------------------------------- the paper


def _bank_choices():
    return options((b.id, f"{b.name}（{b.code}）") for b in db.session.scalars(banks_query(current_user)))


def _bank_categories(banks) -> list[tuple[Bank, list[tuple[int, str]]]]:
    """Each bank with its categories (id, path of names), for the rule form: the page lists the chosen bank's only
    (the service refuses a category of another bank)."""
    cats = db.session.scalars(select(Category).where(Category.bank_id.in_([b.id for b in banks]))).all()
    by_id = {c.id: c for c in cats}
    named = sorted((category_path_names(c, by_id), c.id, c.bank_id) for c in cats)
    return [(b, [(cid, path) for path, cid, bank_id in named if bank_id == b.id]) for b in banks]


def _picker(exam: Exam):
    """Active questions to choose for a fixed section: (section, bank, query, questions) or None."""
    section_id = request.args.get("pick", type=db_int)
    if not section_id:
        return None
    section = _part(ExamSection, section_id, exam)
    bank = db.session.get(Bank, request.args.get("bank", type=db_int) or 0)
    q = (request.args.get("q") or "").strip()[:100]
    found = []
    if bank is not None:
        stmt = questions_query(bank, q=q, qtype=section.qtype, status=QuestionStatus.ACTIVE, sort="oldest")
        found = db.session.scalars(stmt.limit(100)).all()
    return {"section": section, "bank": bank, "q": q, "questions": found}


@bp.route("/<code>/paper")
@permission_required("exam.manage")
def paper(code: str):
    exam = _exam(code)
    banks = db.session.scalars(banks_query(current_user)).all()
    rule_form, section_form = RuleForm(), SectionForm()
    rule_form.bank_id.choices = _bank_choices()
    proposed = definition.default_bank(exam, banks)
    rule_form.bank_id.data = proposed.id if proposed else None
    pools = {r.id: definition.rule_pool_size(r) for s in exam.sections for r in s.rules}
    return render_template(
        "exam/paper.html", exam=exam, editable=exam.status == "draft", rule_form=rule_form,
        section_form=section_form, fixed_form=FixedQuestionsForm(), pools=pools, picker=_picker(exam),
        banks=banks, bank_categories=_bank_categories(banks), action_form=ActionForm(),
        problems=check_pools(exam),
    )  # fmt: skip


def _paper_act(exam: Exam, action, success):
    return _act(exam, action, success, to="exam.paper")


def _valid(form) -> None:
    """Refuse a small form that does not validate, naming what is wrong (shown as a flash by _act)."""
    if not form.validate_on_submit():
        raise DomainError(" ".join(e for errors in form.errors.values() for e in errors) or _("Bad request"))


def _section_args(form: SectionForm) -> tuple:
    _valid(form)
    return form.title.data, form.qtype.data, form.points.data


@bp.route("/<code>/sections", methods=["POST"])
@permission_required("exam.manage")
def section_add(code: str):
    exam = _exam(code)
    return _paper_act(
        exam,
        lambda: definition.add_section(current_user, exam, *_section_args(SectionForm()), now_utc()),
        _("Section added."),
    )


@bp.route("/<code>/sections/<int:section_id>", methods=["POST"])
@permission_required("exam.manage")
def section_edit(code: str, section_id: int):
    exam = _exam(code)
    section = _part(ExamSection, section_id, exam)
    return _paper_act(
        exam,
        lambda: definition.update_section(current_user, section, *_section_args(SectionForm()), now_utc()),
        _("Section saved."),
    )


@bp.route("/<code>/sections/<int:section_id>/delete", methods=["POST"])
@permission_required("exam.manage")
def section_delete(code: str, section_id: int):
    exam = _exam(code)
    section = _part(ExamSection, section_id, exam)
    return _paper_act(exam, lambda: definition.remove_section(current_user, section, now_utc()), _("Section removed."))


@bp.route("/<code>/sections/<int:section_id>/move", methods=["POST"])
@permission_required("exam.manage")
def section_move(code: str, section_id: int):
    exam = _exam(code)
    section = _part(ExamSection, section_id, exam)
    step = -1 if request.form.get("direction") == "up" else 1
    return _paper_act(exam, lambda: definition.move_section(current_user, section, step, now_utc()), _("Moved."))


@bp.route("/<code>/sections/<int:section_id>/rules", methods=["POST"])
@permission_required("exam.manage")
def rule_add(code: str, section_id: int):
    exam = _exam(code)
    section = _part(ExamSection, section_id, exam)
    form = RuleForm()
    form.bank_id.choices = _bank_choices()

    def add():
        _valid(form)
        category = db.session.get(Category, form.category_id.data) if form.category_id.data else None
        if form.category_id.data and category is None:
            raise DomainError(_("Choose a category of the chosen bank."), code="bad_rule")
        return definition.add_rule(
            current_user, section, now_utc(), bank=db.session.get(Bank, form.bank_id.data), category=category,
            tag=form.tag.data, low=form.difficulty_min.data, high=form.difficulty_max.data, count=form.count.data,
        )  # fmt: skip

    return _paper_act(exam, add, _("Rule added."))


@bp.route("/<code>/rules/<int:rule_id>/delete", methods=["POST"])
@permission_required("exam.manage")
def rule_delete(code: str, rule_id: int):
    exam = _exam(code)
    rule = _part(SectionRule, rule_id, exam)
    return _paper_act(exam, lambda: definition.remove_rule(current_user, rule, now_utc()), _("Rule removed."))


@bp.route("/<code>/sections/<int:section_id>/questions", methods=["POST"])
@permission_required("exam.manage")
def questions_add(code: str, section_id: int):
    exam = _exam(code)
    section = _part(ExamSection, section_id, exam)
    form = FixedQuestionsForm()

    def add():
        _valid(form)
        typed = re.findall(r"\d+", form.ids.data or "")
        ids = [int(n) for n in typed] + list(form.picked.data or [])
        if not ids:
            raise DomainError(_("Choose or type the questions to add."), code="bad_item")
        return definition.add_fixed_questions(current_user, section, ids, now_utc())

    return _paper_act(exam, add, lambda n: _("%(n)d questions added.", n=n))


@bp.route("/<code>/items/<int:item_id>/delete", methods=["POST"])
@permission_required("exam.manage")
def item_delete(code: str, item_id: int):
    exam = _exam(code)
    item = _part(FixedItem, item_id, exam)
    return _paper_act(exam, lambda: definition.remove_fixed_item(current_user, item, now_utc()), _("Removed."))


@bp.route("/<code>/items/<int:item_id>/move", methods=["POST"])
@permission_required("exam.manage")
def item_move(code: str, item_id: int):
    exam = _exam(code)
    item = _part(FixedItem, item_id, exam)
    step = -1 if request.form.get("direction") == "up" else 1
    return _paper_act(exam, lambda: definition.move_fixed_item(current_user, item, step, now_utc()), _("Moved."))


# ---------------------------------------------------------------- the exam page and its lifecycle


@bp.route("/<code>/")
@permission_required("exam.manage")
def exam(code: str):
    exam = _exam(code)
    now = now_utc()
    verdict = person = None
    who = (request.args.get("who") or "").strip()
    if who:
        person = db.session.scalar(select(User).where(func.lower(User.username) == who.lower()))
        verdict = eligibility_verdict(exam, person) if person else None
    problems = check_pools(exam)
    sample = []
    if not problems:
        for item in sample_paper(exam, random.SystemRandom().randrange(2**31)):
            sample.append({
                "position": item.position, "section": item.section.title, "qtype": item.section.qtype,
                "stem": item.version.stem, "points": item.points,
                "options": [item.version.options[i] for i in item.option_order],  # as this candidate would see them
            })  # fmt: skip
    rules = exam.eligibility or {}
    preparation = exam_jobs.last_preparation(exam) if exam.status != "draft" else None
    if preparation is not None and preparation.state in (JobState.DONE, JobState.CANCELLED):
        preparation = None  # shown while it waits or runs, and when it failed
    return render_template(
        "exam/detail.html",
        release_refused=definition.release_refused(exam),
        preparation=preparation,
        preparation_status=jobs_status(preparation) if preparation else None,
        preparation_visible=preparation is not None and _visible_job(preparation),
        exam=exam,
        now=now,
        problems=problems,
        counts=eligible_counts_by_unit(exam),
        papers=db.session.scalar(select(func.count(Paper.id)).where(Paper.exam_id == exam.id)),
        attempts=db.session.scalar(select(func.count(Attempt.id)).where(Attempt.exam_id == exam.id)),
        rule_units=db.session.scalars(select(Unit.name).where(Unit.id.in_(rules.get("unit_ids") or []))).all(),
        who=who,
        person=person,
        verdict=verdict,
        sample=sample,
        overrides=(overrides := candidate_overrides(exam)),
        current=next((o for o in overrides if person is not None and o.user_id == person.id), None),
        action_form=ActionForm(),
        pool_conflicts=conflicts.pool_conflicts(exam) if exam.status == "draft" else [],
    )


@bp.route("/<code>/conflicts", methods=["POST"])
@permission_required("exam.manage")
def conflict(code: str):
    """Decide about one candidate in conflict of interest: remove them, or keep them with a written reason."""
    exam = _exam(code)
    if not ActionForm().validate_on_submit():
        abort(400)
    person = db.session.get(User, request.form.get("user_id", type=db_int) or 0)
    if person is None:
        flash(_("No account with that employee number."), "error")
        return redirect(url_for("exam.exam", code=exam.code))
    try:
        if request.form.get("decision") == "remove":
            conflicts.remove_conflicted(current_user, exam, person, now_utc())
            message = _("%(name)s is no longer a candidate.", name=person.name)
        else:
            conflicts.keep_conflicted(current_user, exam, person, request.form.get("reason", ""), now_utc())
            message = _("%(name)s stays a candidate; the reason is kept in the audit log.", name=person.name)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(message, "success")
    return redirect(url_for("exam.exam", code=exam.code) + "#conflicts")


@bp.route("/<code>/candidates", methods=["POST"])
@permission_required("exam.manage")
def candidate(code: str):
    """Add or remove one person by hand, or set their extra time (accommodation)."""
    exam = _exam(code)
    if not ActionForm().validate_on_submit():
        abort(400)
    username = (request.form.get("username") or "").strip()
    person = db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if person is None:
        flash(_("No account with that employee number."), "error")
        return redirect(url_for("exam.exam", code=exam.code))
    included = {"add": True, "remove": False}.get(request.form.get("include"))
    try:
        set_candidate(
            current_user, exam, person, now_utc(), included=included,
            extra_minutes=request.form.get("extra_minutes", 0, type=db_int), note=request.form.get("note", ""),
        )  # fmt: skip
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(_("Saved for %(name)s.", name=person.name), "success")
    return redirect(url_for("exam.exam", code=exam.code, who=person.username))


@bp.route("/<code>/publish", methods=["POST"])
@permission_required("exam.manage")
def publish(code: str):
    """Publish, and follow the drawing of the papers on the job's page (the exam's page shows it too)."""
    exam = _exam(code)
    if not ActionForm().validate_on_submit():
        abort(400)
    accept = request.form.get("accept_conflicts") == "1"
    try:
        job = exam_jobs.publish_and_prepare(current_user, exam, now_utc(), accept_conflicts=accept)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("exam.exam", code=exam.code))
    flash(_("Published; the papers are being drawn."), "success")
    return _follow(job, exam)


def _visible_job(job) -> bool:
    return job.created_by_id == current_user.id or policy.can(current_user, "jobs.view_all")  # as jobs.views


def _follow(job, exam: Exam):
    """The job's page for the person who started it; the exam's page, which shows the progress, for the others."""
    if _visible_job(job):
        return redirect(url_for("jobs.detail", job_id=job.id))
    return redirect(url_for("exam.exam", code=exam.code) + "#papers-job")


@bp.route("/<code>/prepare", methods=["POST"])
@permission_required("exam.manage")
def prepare(code: str):
    """Draw the papers still missing (after a failed drawing, or for candidates the rules added)."""
    exam = _exam(code)
    if not ActionForm().validate_on_submit():
        abort(400)
    if exam.status == "draft":
        flash(_("Papers are drawn when the exam is published."), "error")
        return redirect(url_for("exam.exam", code=exam.code))
    return _follow(exam_jobs.prepare_later(exam, current_user), exam)


@bp.route("/<code>/withdraw", methods=["POST"])
@permission_required("exam.manage")
def withdraw(code: str):
    exam = _exam(code)
    return _act(exam, lambda: definition.withdraw(current_user, exam, now_utc()),
                lambda n: _("Back to draft; %(n)d unused papers discarded.", n=n))  # fmt: skip


@bp.route("/<code>/release", methods=["POST"])
@permission_required("exam.manage")
def release(code: str):
    exam = _exam(code)
    return _act(exam, lambda: definition.release_results(current_user, exam, now_utc()),
                lambda n: _("Results of %(n)d attempts released.", n=n))  # fmt: skip


@bp.route("/<code>/export")
@permission_required("exam.manage")
def export(code: str):
    exam = _exam(code)
    data = json.dumps(files.export_exam(exam), ensure_ascii=False, indent=2)
    return Response(
        data,
        mimetype="application/json",
        headers={"Content-Disposition": f"attachment; filename={exam.code}.json"},
    )


# ---------------------------------------------------------------- attempts (read only)


@bp.route("/<code>/attempts")
@permission_required("exam.manage")
def attempts(code: str):
    """Every attempt with its state and score. Overdue attempts are finalized first (no result is shown of an
    attempt whose time is up but which still looks open); running ones are only read."""
    exam = _exam(code)
    now = now_utc()
    finalize_overdue(now, exam)  # committed with the request
    page = db.paginate(
        select(Attempt)
        .options(selectinload(Attempt.user).selectinload(User.cadre).selectinload(Cadre.unit))
        .where(Attempt.exam_id == exam.id)
        .order_by(Attempt.started_at.desc(), Attempt.id.desc()),
        page=page_arg(),
        per_page=50,
        error_out=False,
    )
    return render_template("exam/attempts.html", exam=exam, page=page, now=now)


@bp.route("/<code>/attempts/<int:attempt_id>")
@permission_required("exam.manage")
def attempt(code: str, attempt_id: int):
    """One attempt as an admin sees it: paper, answers, points, keys and integrity signals. Reading it never
    changes it: no timer starts or stops, nothing is finalized or graded here."""
    exam = _exam(code)
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or attempt.exam_id != exam.id:
        abort(404)
    answers = {a.position: a for a in db.session.scalars(select(Answer).where(Answer.attempt_id == attempt.id))}
    corrected = scoring.corrected_keys(exam)
    rows = [
        {
            "item": item, "answer": answers.get(item.position),
            "options": [item.version.options[i] for i in item.option_order],  # in the order this candidate saw
            "given": review.shown(item, answers[item.position].value) if item.position in answers else None,
            "key": review.shown_key(item, corrected), "corrected": item.question_version_id in corrected,
        }
        for item in attempt.paper.items
    ]  # fmt: skip
    return render_template(
        "exam/attempt.html", exam=exam, attempt=attempt, rows=rows, events=timeline.attempt_events(attempt),
        now=now_utc(), grace=grace(), progress=review.progress(attempt),
    )  # fmt: skip


@bp.route("/<code>/keys")
@permission_required("exam.manage")
def keys(code: str):
    """The objective questions in the exam's papers, each with the key in force (corrected or not)."""
    exam = _exam(code)
    corrected = scoring.corrected_keys(exam)
    rows = [
        (version, qtype, papers, grading.key_text(version, qtype, corrected), version.id in corrected)
        for version, qtype, papers in grading.used_versions(exam)
    ]
    return render_template("exam/keys.html", exam=exam, rows=rows)


@bp.route("/<code>/keys/<int:version_id>", methods=["GET", "POST"])
@permission_required("exam.manage")
def key(code: str, version_id: int):
    """Correct one question's key for this exam: every ended attempt is regraded, old and new scores audited."""
    exam = _exam(code)
    found = next(((v, t) for v, t, _n in grading.used_versions(exam) if v.id == version_id), None)
    if found is None:
        abort(404)
    version, qtype = found
    in_force = grading.key_text(version, qtype, scoring.corrected_keys(exam))
    form = KeyForm(data={"key": in_force} if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            changed = grading.correct_key(current_user, exam, version, form.key.data, form.reason.data, now_utc())
        except DomainError as exc:
            db.session.rollback()
            form.key.errors = [exc.message]
        else:
            flash(_("Key corrected; %(n)d scores changed.", n=len(changed)), "success")
            return redirect(url_for("exam.keys", code=exam.code))
    return render_template("exam/key.html", exam=exam, version=version, qtype=qtype, form=form)


@bp.app_template_filter("answer_text")
def answer_text(value, qtype: str) -> str:
    """An answer or key as the candidate's paper shows it (option letters in their order), as a person reads it."""
    if value is None or value == [] or value == "":
        return "—"
    if qtype == "single":
        return LETTERS[value]
    if qtype == "multiple":
        return "".join(LETTERS[i] for i in value)
    if qtype == "truefalse":
        return _("True") if value else _("False")
    if qtype == "fill":
        return " | ".join(v if isinstance(v, str) else " / ".join(v) for v in value)
    return value
