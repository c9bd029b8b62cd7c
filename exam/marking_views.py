"""Marking pages (exam.marking): the plan of an exam (modes, tolerances, graders per question, the chief grader),
progress per question and grader, the arbitration queue and page, consistency figures and the chief grader's
samples. Markers mark on the grading pages (exam.grading_views), which follow the plan."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import FloatField, IntegerField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from accounts.models import RoleAssignment, User
from core import policy
from core.errors import DomainError
from core.extensions import db
from core.forms import ActionForm, options
from core.models import now_utc
from core.policy import Role, permission_required
from exam import grading, marking
from exam.models import MARKING_MODE_LABELS, MARKING_ROLE_LABELS, Answer, Attempt, AttemptStatus, Exam, ExamStatus

marking_bp = Blueprint("marking", __name__, url_prefix="/marking")


class RuleForm(FlaskForm):
    mode = SelectField(choices=options(MARKING_MODE_LABELS.items()))
    tolerance = FloatField(validators=[InputRequired(), NumberRange(0, marking.MAX_TOLERANCE)])


class AssignForm(FlaskForm):
    version = IntegerField(validators=[InputRequired()])
    user = IntegerField(validators=[InputRequired()])
    role = SelectField(choices=options(MARKING_ROLE_LABELS.items()))


class ChiefForm(FlaskForm):
    user = IntegerField(validators=[Optional()])


class MarkForm(FlaskForm):
    points = FloatField(validators=[InputRequired()])
    comment = TextAreaField(validators=[Optional(), Length(max=2000)])


class DrawForm(FlaskForm):
    percent = IntegerField(validators=[InputRequired(), NumberRange(1, 100)])


def _exam(code: str, *, manage: bool = False) -> Exam:
    """The exam, once the current user may reach its marking: a manager under the rule of conflicts of interest,
    a grader under grading's (grading.grading_wait)."""
    exam = db.session.scalar(select(Exam).where(Exam.code == code))
    if exam is None or exam.status == ExamStatus.DRAFT:
        abort(404)
    if manage:
        policy.refuse_conflict(exam_id=exam.id)
    else:
        wait = grading.grading_wait(current_user, exam, now_utc())
        if wait is not None:
            raise DomainError(wait.message(), code="conflict_of_interest", status=403)
    return exam


def _planned(code: str, **kwargs) -> tuple[Exam, object]:
    exam = _exam(code, **kwargs)
    plan = marking.plan_of(exam)
    if plan is None:
        abort(404)
    return exam, plan


def nav(exam: Exam) -> list[tuple[str, str]]:
    """(endpoint, label) of the exam's marking pages the current user may open (none without a plan)."""
    if marking.plan_of(exam) is None:
        return []
    links = []
    if policy.can(current_user, "exam.setup_marking"):
        links.append(("marking.setup", _("Marking plan")))
    if policy.may_review_marking(current_user, exam.id):
        links += [("marking.progress", _("Marking progress")), ("marking.consistency", _("Marking consistency")),
                  ("marking.samples", _("Sample re-marks"))]  # fmt: skip
    if policy.can(current_user, "exam.arbitrate"):
        links.append(("marking.arbitration", _("Arbitration")))
    return links


def _refused(exc: DomainError, endpoint: str, **values):
    db.session.rollback()
    flash(exc.message, "error")
    return redirect(url_for(endpoint, **values))


def _graders() -> list[User]:
    """The accounts that may be assigned to mark: graders and district admins, active."""
    roles = (Role.GRADER, Role.SYSTEM_ADMIN, Role.ORG_ADMIN)
    ids = select(RoleAssignment.user_id).where(RoleAssignment.role.in_([r.value for r in roles]))
    return list(db.session.scalars(select(User).where(User.id.in_(ids), User.active.is_(True)).order_by(User.name)))


def _written_answer(exam: Exam, answer_id: int) -> tuple[Answer, Attempt]:
    row = db.session.get(Answer, answer_id)
    attempt = db.session.get(Attempt, row.attempt_id) if row else None
    if row is None or attempt.exam_id != exam.id or attempt.status == AttemptStatus.IN_PROGRESS:
        abort(404)
    if grading.answer_item(row).section.qtype not in grading.MANUAL_TYPES:
        abort(404)
    return row, attempt


# ---------------------------------------------------------------- the plan


@marking_bp.route("/<code>/setup")
@permission_required("exam.setup_marking")
def setup(code: str):
    exam = _exam(code, manage=True)
    plan = marking.plan_of(exam)
    return render_template(
        "exam/marking_setup.html", exam=exam, marking_nav=nav(exam), plan=plan, items=marking.items(exam, plan),
        people=marking.assignments(exam), graders=_graders(), action=ActionForm(),
        chief=db.session.get(User, plan.chief_grader_id) if plan and plan.chief_grader_id else None,
    )  # fmt: skip


@marking_bp.route("/<code>/plan", methods=["POST"])
@permission_required("exam.setup_marking")
def plan(code: str):
    exam = _exam(code, manage=True)
    form = RuleForm()
    if not form.validate_on_submit():
        flash(_("Single or double marking, and a tolerance from 0 to %(m)d points.", m=marking.MAX_TOLERANCE), "error")
        return redirect(url_for("marking.setup", code=exam.code))
    try:
        marking.set_plan(current_user, exam, form.mode.data, form.tolerance.data, now_utc())
    except DomainError as exc:
        return _refused(exc, "marking.setup", code=exam.code)
    flash(_("Saved."), "success")
    return redirect(url_for("marking.setup", code=exam.code))


@marking_bp.route("/<code>/items/<int:version_id>", methods=["POST"])
@permission_required("exam.setup_marking")
def item(code: str, version_id: int):
    exam, _plan = _planned(code, manage=True)
    form = RuleForm()
    if not form.validate_on_submit():
        flash(_("Single or double marking, and a tolerance from 0 to %(m)d points.", m=marking.MAX_TOLERANCE), "error")
        return redirect(url_for("marking.setup", code=exam.code))
    try:
        marking.set_item(current_user, exam, version_id, form.mode.data, form.tolerance.data, now_utc())
    except DomainError as exc:
        return _refused(exc, "marking.setup", code=exam.code)
    flash(_("Saved."), "success")
    return redirect(url_for("marking.setup", code=exam.code))


@marking_bp.route("/<code>/assignments", methods=["POST"])
@permission_required("exam.setup_marking")
def assign(code: str):
    """Assign a grader to a question (remove=1: take them off it)."""
    exam, _plan = _planned(code, manage=True)
    form = AssignForm()
    if not form.validate_on_submit():
        flash(_("Choose a question, a grader and a role."), "error")
        return redirect(url_for("marking.setup", code=exam.code))
    user = db.session.get(User, form.user.data)
    try:
        if request.form.get("remove"):
            marking.unassign(current_user, exam, form.version.data, user, form.role.data, now_utc())
        else:
            marking.assign(current_user, exam, form.version.data, user, form.role.data, now_utc())
    except DomainError as exc:
        return _refused(exc, "marking.setup", code=exam.code)
    flash(_("Saved."), "success")
    return redirect(url_for("marking.setup", code=exam.code))


@marking_bp.route("/<code>/chief", methods=["POST"])
@permission_required("exam.setup_marking")
def chief(code: str):
    exam, _plan = _planned(code, manage=True)
    form = ChiefForm()
    if not form.validate_on_submit():
        abort(400)
    user = db.session.get(User, form.user.data) if form.user.data else None
    try:
        marking.set_chief(current_user, exam, user, now_utc())
    except DomainError as exc:
        return _refused(exc, "marking.setup", code=exam.code)
    flash(_("Saved."), "success")
    return redirect(url_for("marking.setup", code=exam.code))


# ---------------------------------------------------------------- progress and consistency


def _reviewed(code: str) -> Exam:
    exam, _plan = _planned(code)
    if not policy.may_review_marking(current_user, exam.id):
        abort(403)
    return exam


@marking_bp.route("/<code>/progress")
@permission_required("exam.review_marking")
def progress(code: str):
    exam = _reviewed(code)
    return render_template("exam/marking_progress.html", exam=exam, marking_nav=nav(exam), rows=marking.progress(exam),
                           unfinished=marking.unfinished(exam))  # fmt: skip


@marking_bp.route("/<code>/consistency")
@permission_required("exam.review_marking")
def consistency(code: str):
    exam = _reviewed(code)
    return render_template(
        "exam/marking_consistency.html", exam=exam, marking_nav=nav(exam), figures=marking.consistency(exam)
    )


# ---------------------------------------------------------------- arbitration


@marking_bp.route("/<code>/arbitration")
@permission_required("exam.arbitrate")
def arbitration(code: str):
    """The answers waiting for the current user's arbitration (district admins also see how many wait in all)."""
    exam, _plan = _planned(code)
    rows = marking.arbitration_queue(exam, current_user)
    waiting = len(marking.arbitration_queue(exam)) if policy.has_district_scope(current_user) else None
    sheets = {a.id: grading.blind_number(db.session.get(Attempt, a.attempt_id)) for a, _i in rows}
    return render_template(
        "exam/marking_arbitration.html", exam=exam, marking_nav=nav(exam), rows=rows, sheets=sheets, waiting=waiting
    )


@marking_bp.route("/<code>/arbitration/<int:answer_id>", methods=["GET", "POST"])
@permission_required("exam.arbitrate")
def arbitrate(code: str, answer_id: int):
    """One disputed answer: both marks and comments, the arbitrator's final mark."""
    exam, _plan = _planned(code)
    row, attempt = _written_answer(exam, answer_id)
    item = grading.answer_item(row)
    marks = marking.marker_marks(marking.marks_of(row))
    if not policy.may_arbitrate(current_user, exam.id, item.question_version_id, attempt.user_id,
                                [m.grader_id for m in marks]):  # fmt: skip
        abort(403)
    if row.points is not None or len(marks) < 2:
        flash(_("This answer does not wait for an arbitrator."), "warning")
        return redirect(url_for("marking.arbitration", code=exam.code))
    form = MarkForm()
    if form.validate_on_submit():
        try:
            marking.arbitrate(current_user, row, form.points.data, form.comment.data or "", now_utc())
        except DomainError as exc:
            return _refused(exc, "marking.arbitrate", code=exam.code, answer_id=row.id)
        flash(_("Saved."), "success")
        return redirect(url_for("marking.arbitration", code=exam.code))
    return render_template("exam/marking_arbitrate.html", exam=exam, answer=row, item=item, marks=marks, form=form,
                           sheet=grading.blind_number(attempt))  # fmt: skip


# ---------------------------------------------------------------- samples


@marking_bp.route("/<code>/samples", methods=["GET", "POST"])
@permission_required("exam.review_marking")
def samples(code: str):
    """The samples drawn, the differences per grader; the chief grader draws (POST) and re-marks."""
    exam = _reviewed(code)
    chief = policy.may_sample(current_user, exam.id)
    form = DrawForm()
    if request.method == "POST":
        if not chief:
            abort(403)
        if form.validate_on_submit():
            try:
                n = marking.draw_samples(current_user, exam, form.percent.data, now_utc())
            except DomainError as exc:
                return _refused(exc, "marking.samples", code=exam.code)
            flash(_("%(n)d answers drawn.", n=n), "success")
        else:
            flash(_("A share from 1 to 100 %."), "error")
        return redirect(url_for("marking.samples", code=exam.code))
    queue = marking.sample_queue(exam) if chief else []
    sheets = {a.id: grading.blind_number(db.session.get(Attempt, a.attempt_id)) for a, _i in queue}
    return render_template(
        "exam/marking_samples.html", exam=exam, marking_nav=nav(exam), chief=chief, form=form, queue=queue,
        sheets=sheets, summaries=marking.sample_differences(exam),
    )  # fmt: skip


@marking_bp.route("/<code>/samples/<int:answer_id>", methods=["GET", "POST"])
@permission_required("exam.review_marking")
def sample(code: str, answer_id: int):
    """The chief grader's blind re-mark of one drawn answer: no mark of anyone else is shown."""
    exam, _plan = _planned(code)
    row, attempt = _written_answer(exam, answer_id)
    marks = marking.marks_of(row)
    if not policy.may_sample(current_user, exam.id, attempt.user_id,
                             [m.grader_id for m in marking.marker_marks(marks)]):  # fmt: skip
        abort(403)
    mine = next((m for m in marks if m.kind == "sample"), None)
    form = MarkForm()
    if form.validate_on_submit():
        try:
            marking.remark_sample(current_user, row, form.points.data, form.comment.data or "", now_utc())
        except DomainError as exc:
            return _refused(exc, "marking.sample", code=exam.code, answer_id=row.id)
        flash(_("Saved."), "success")
        nxt = marking.sample_queue(exam)
        if nxt:
            return redirect(url_for("marking.sample", code=exam.code, answer_id=nxt[0][0].id))
        return redirect(url_for("marking.samples", code=exam.code))
    return render_template("exam/marking_sample.html", exam=exam, answer=row, item=grading.answer_item(row),
                           form=form, mine=mine, sheet=grading.blind_number(attempt))  # fmt: skip
