"""Grading pages: exams with written answers to grade, the progress of one exam, and one answer at a time (blind:
the grader sees the answer, the question, the reference answer and its scoring points, never the candidate)."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import FloatField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from core import policy
from core.errors import DomainError
from core.extensions import db
from core.models import now_utc
from core.policy import permission_required
from exam import grading, marking, marking_views
from exam.models import Answer, Attempt, AttemptStatus, Exam, ExamStatus

grading_bp = Blueprint("grading", __name__, url_prefix="/grading")


class GradeForm(FlaskForm):
    points = FloatField(validators=[InputRequired()])
    comment = TextAreaField(validators=[Optional(), Length(max=2000)])


def _exam(code: str) -> Exam:
    """The exam, once the current grader may grade it: grading.grading_wait applies core.policy's rule of conflicts
    of interest (judged for grading) and says when grading opens."""
    exam = db.session.scalar(select(Exam).where(Exam.code == code))
    if exam is None or exam.status == ExamStatus.DRAFT:
        abort(404)
    wait = grading.grading_wait(current_user, exam, now_utc())
    if wait is not None:
        raise DomainError(wait.message(), code="conflict_of_interest", status=403)
    return exam


@grading_bp.route("/")
@permission_required("exam.grade")
def exams():
    return render_template("exam/grading_list.html", rows=grading.queue(current_user, now_utc()))


@grading_bp.route("/<code>/")
@permission_required("exam.grade")
def exam(code: str):
    exam = _exam(code)
    return render_template(
        "exam/grading_exam.html",
        exam=exam,
        progress=grading.progress(exam, current_user),
        questions=grading.progress_by_question(exam, current_user),
        first=grading.next_to_grade(exam, grader=current_user),
        own=grading.own_sheets(exam, current_user),
        marking_nav=marking_views.nav(exam),
    )


@grading_bp.route("/<code>/answers/<int:answer_id>", methods=["GET", "POST"])
@permission_required("exam.grade")
def answer(code: str, answer_id: int):
    """Grade one written answer, then go on to the next: of the same question (by=item, the default) or of the
    same candidate (by=candidate)."""
    exam = _exam(code)
    row = db.session.get(Answer, answer_id)
    attempt = db.session.get(Attempt, row.attempt_id) if row else None
    if row is None or attempt.exam_id != exam.id or attempt.status == AttemptStatus.IN_PROGRESS:
        abort(404)
    if attempt.user_id == current_user.id:  # reached by a typed address: the queue never offers it
        flash(_("Your own sheet is graded by other graders."), "warning")
        return redirect(url_for("grading.exam", code=exam.code))
    item = grading.answer_item(row)
    if item.section.qtype not in grading.MANUAL_TYPES:
        abort(404)
    by = "candidate" if request.args.get("by") == "candidate" else "item"
    # With a marking plan the page is blind to every mark but the grader's own (double marking: neither marker
    # sees the other's mark), and only the question's markers reach it.
    planned = marking.plan_of(exam) is not None
    mine = None
    if planned:
        mine = next((m for m in marking.marker_marks(marking.marks_of(row)) if m.grader_id == current_user.id), None)
        if mine is None and not policy.may_mark(current_user, exam.id, item.question_version_id, attempt.user_id):
            abort(403)
        shown = {"points": mine.points, "comment": mine.comment} if mine else {}
    else:
        shown = {"points": row.points, "comment": row.comment}
    form = GradeForm(data=shown if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            grading.grade_answer(current_user, row, form.points.data, form.comment.data or "", now_utc())
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
            return redirect(url_for("grading.answer", code=exam.code, answer_id=row.id, by=by))
        flash(_("Saved."), "success")
        nxt = grading.next_to_grade(
            exam, version_id=item.question_version_id if by == "item" else None,
            attempt_id=attempt.id if by == "candidate" else None, grader=current_user,
        )  # fmt: skip
        if nxt is None:
            if planned:
                flash(_("Every answer in your queue is marked."), "success")
            elif grading.own_sheets(exam, current_user).total:
                flash(_("Every written answer you may grade is graded; your own sheet is left to other graders."),
                      "success")  # fmt: skip
            else:
                flash(_("Every written answer of this exam is graded."), "success")
            return redirect(url_for("grading.exam", code=exam.code))
        return redirect(url_for("grading.answer", code=exam.code, answer_id=nxt.id, by=by))
    return render_template(
        "exam/grading_answer.html", exam=exam, answer=row, item=item, form=form, by=by,
        progress=grading.progress(exam, current_user), sheet=grading.blind_number(attempt), planned=planned,
        mine=mine,
    )  # fmt: skip
