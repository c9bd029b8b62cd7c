"""Appeal and correction pages: a candidate's appeal on an exam under public notice (and the decisions on it), a
reviewer's queue and one item at a time (blind: the reviewer sees the answer and the candidate's reason, never the
name), the district's reassignment, and the formal corrections of final results."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from accounts.models import User
from core import policy
from core.errors import DomainError
from core.extensions import db
from core.forms import options, show_problems
from core.models import now_utc
from core.policy import login_required, permission_required
from exam import eligibility, grading
from exam.models import Answer, Exam, ExamStatus
from results import appeals, bp, corrections, lifecycle
from results.appeal_forms import (
    AppealAssignForm,
    AppealDecisionForm,
    AppealForm,
    CorrectionDecisionForm,
    CorrectionForm,
)
from results.appeal_models import DECISION_LABELS, AppealItem, Correction, Decision


def _exam(code: str) -> Exam:
    exam = db.session.scalar(select(Exam).where(Exam.code == code))
    if exam is None or exam.status == ExamStatus.DRAFT:
        abort(404)
    return exam


@bp.route("/exams/<code>/appeal", methods=["GET", "POST"])
@login_required
def appeal(code: str):
    """The candidate's appeal page: the items they may appeal while the notice runs, and their appeals."""
    exam = _exam(code)
    if not eligibility.concerns(exam, current_user):
        abort(404)
    now = now_utc()
    notice = appeals.current_notice(exam, now)
    attempt = appeals.counted_attempt(exam, current_user) if lifecycle.state(exam, now) in (
        lifecycle.State.NOTICE, lifecycle.State.FINAL) else None  # fmt: skip
    rows = appeals.appealable(attempt) if attempt else []
    form = AppealForm()
    form.items.choices = options((answer.position, str(answer.position)) for answer, _item, taken in rows if not taken)
    if form.validate_on_submit():
        positions = {p: request.form.get(f"reason-{p}", "") for p in form.items.data}
        try:
            appeals.file(current_user, exam, positions, form.reason.data, now)
        except DomainError as exc:
            db.session.rollback()
            show_problems(form, exc)
        else:
            flash(_("Your appeal was filed; you will see the decision on this page."), "success")
            return redirect(url_for("results.appeal", code=exam.code))
    return render_template("results/appeal.html", exam=exam, notice=notice, attempt=attempt, rows=rows, form=form,
                           own=appeals.own_appeals(exam, current_user), labels=DECISION_LABELS)  # fmt: skip


@bp.route("/appeals/")
@permission_required("appeal.review")
def appeal_queue():
    district = policy.can(current_user, "results.manage")
    unassigned = appeals.unassigned(current_user) if district else []
    return render_template("results/appeal_queue.html", mine=appeals.queue(current_user), unassigned=unassigned,
                           labels=DECISION_LABELS)  # fmt: skip


def _item(item_id: int) -> tuple[AppealItem, bool]:
    """The item, and whether the current user is its reviewer; the district reads every item (except of an exam
    they sit), a reviewer their own; to anyone else it is not there."""
    item = db.session.get(AppealItem, item_id)
    if item is None:
        abort(404)
    reviews = item.reviewer_id == current_user.id
    if not reviews and not policy.can(current_user, "results.manage"):
        abort(404)
    policy.refuse_own_results(current_user, item.appeal.exam_id)
    policy.refuse_conflict(exam_id=item.appeal.exam_id, grading=True)  # the question and its reference answer
    return item, reviews


@bp.route("/appeals/<int:item_id>", methods=["GET", "POST"])
@permission_required("appeal.review")
def appeal_item(item_id: int):
    item, reviews = _item(item_id)
    form = AppealDecisionForm()
    if request.method == "POST":
        if not reviews:
            abort(403)
        if form.validate_on_submit():
            upheld = form.decision.data == Decision.UPHELD
            try:
                appeals.decide(current_user, item, upheld, form.points.data, form.reason.data, now_utc())
            except DomainError as exc:
                db.session.rollback()
                show_problems(form, exc)
            else:
                flash(_("The decision was recorded and sent to the candidate."), "success")
                return redirect(url_for("results.appeal_queue"))
    assign_form = AppealAssignForm()
    if not reviews and item.decided_at is None:
        assign_form.reviewer.choices = options((u.id, u.name) for u in appeals.reviewers(item, now_utc()))
    paper_item = grading.answer_item(item.answer)
    return render_template("results/appeal_item.html", item=item, reviews=reviews, form=form, assign_form=assign_form,
                           paper_item=paper_item, sheet=grading.blind_number(item.appeal.attempt),
                           labels=DECISION_LABELS)  # fmt: skip


@bp.route("/appeals/<int:item_id>/assign", methods=["POST"])
@permission_required("results.manage")
def appeal_assign(item_id: int):
    item, _reviews = _item(item_id)
    form = AppealAssignForm()
    reviewer = db.session.get(User, form.reviewer.data) if form.validate_on_submit() and form.reviewer.data else None
    if reviewer is None:
        flash(_("Choose a reviewer."), "error")
    else:
        try:
            appeals.assign(current_user, item, reviewer, now_utc())
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            flash(_("The item was given to %(name)s.", name=reviewer.name), "success")
    return redirect(url_for("results.appeal_item", item_id=item.id))


@bp.route("/exams/<code>/corrections", methods=["POST"])
@permission_required("results.manage")
def correction_request(code: str):
    exam = _exam(code)
    policy.refuse_own_results(current_user, exam.id)
    form = CorrectionForm()
    answer = db.session.get(Answer, form.answer.data) if form.validate_on_submit() and form.answer.data else None
    if answer is None:
        flash(_("Choose the item and give the mark and the reason."), "error")
    else:
        try:
            corrections.request(current_user, exam, answer, form.points.data, form.reason.data, now_utc())
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            flash(_("The correction waits for another administrator's approval."), "success")
    return redirect(url_for("results.exam", code=exam.code) + "#corrections")


@bp.route("/corrections/<int:correction_id>/decide", methods=["POST"])
@permission_required("results.approve")
def correction_decide(correction_id: int):
    correction = db.session.get(Correction, correction_id) or abort(404)
    policy.refuse_own_results(current_user, correction.exam_id)
    form = CorrectionDecisionForm()
    if not form.validate_on_submit():
        flash(_("Choose a decision and give a note."), "error")
    else:
        try:
            corrections.decide(current_user, correction, bool(form.approve.data), form.note.data, now_utc())
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            flash(_("The decision on the correction was recorded."), "success")
    return redirect(url_for("results.exam", code=correction.exam.code) + "#corrections")


def admin_values(exam: Exam, now) -> dict:
    """What the district's results page (results/exam.html, its partial _appeals_admin.html) shows of appeals and
    corrections."""
    final = lifecycle.state(exam, now) == lifecycle.State.FINAL
    correction_form = None
    if final and policy.can(current_user, "results.manage"):
        correction_form = CorrectionForm()
        correction_form.answer.choices = options(
            (answer.id, f"{attempt.user.name} · {_('Question %(n)d', n=answer.position)} · {answer.points:g}")
            for attempt in corrections.final_attempts(exam)
            for answer, _item, _taken in appeals.appealable(attempt)
            if answer.points is not None
        )
    return {
        "appeal_items": appeals.exam_items(exam),
        "appeal_labels": DECISION_LABELS,
        "corrections": corrections.exam_corrections(exam),
        "correction_form": correction_form,
        "correction_decision_form": CorrectionDecisionForm(),
        "may_decide_corrections": policy.can(current_user, "results.approve"),
    }
