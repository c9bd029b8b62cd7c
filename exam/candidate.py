"""The candidate's exam pages: the start page (instructions, rules, confirmation), the exam page (the whole paper;
the timer, autosave and offline queue run in static/js/exam.js against the JSON API), and the result with the
review the exam's policies allow."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from core.errors import DomainError
from core.extensions import db
from core.forms import ActionForm
from core.models import now_utc
from core.policy import login_required
from exam import attempts, eligibility, result_page, review
from exam.models import Attempt, AttemptStatus, Exam

take_bp = Blueprint("take", __name__, url_prefix="/my")


def _exam(code: str) -> Exam:
    exam = db.session.scalar(select(Exam).where(Exam.code == code))
    if exam is None or exam.status == "draft":
        abort(404)
    return exam


def _own_attempt(attempt_id: int) -> Attempt:
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or attempt.user_id != current_user.id:
        abort(404)
    return attempt


@take_bp.route("/exams/<code>/")
@login_required
def start_page(code: str):
    exam = _exam(code)
    now = now_utc()
    mine = db.session.scalars(
        select(Attempt).where(Attempt.exam_id == exam.id, Attempt.user_id == current_user.id).order_by(Attempt.number)
    ).all()
    running = next((a for a in mine if a.status == AttemptStatus.IN_PROGRESS), None)
    if running is not None and not running.overdue(now, attempts.grace()):
        return redirect(url_for("take.attempt", attempt_id=running.id))
    eligible = eligibility.is_eligible(exam, current_user)
    if not eligible and not mine:
        abort(404)  # not a candidate: the exam is none of their business
    can_start = eligible and exam.phase(now) == "open" and len(mine) < exam.attempts_allowed
    return render_template(
        "exam/take_start.html", exam=exam, now=now, attempts=mine, eligible=eligible, form=ActionForm(),
        can_start=can_start, extra=attempts.extra_time_of(exam, current_user),
        refusal=attempts.start_refusal(exam, current_user, now) if can_start else None,
    )  # fmt: skip


@take_bp.route("/exams/<code>/start", methods=["POST"])
@login_required
def start(code: str):
    exam = _exam(code)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    if not request.form.get("confirm"):
        flash(_("Please confirm that you have read the instructions."), "error")
        return redirect(url_for("take.start_page", code=exam.code))
    try:
        attempt = attempts.start_for_request(exam, current_user, now_utc(), request.form.get("access_code"))
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("take.start_page", code=exam.code))
    return redirect(url_for("take.attempt", attempt_id=attempt.id))


@take_bp.route("/attempts/<int:attempt_id>")
@login_required
def attempt(attempt_id: int):
    """The exam page while the attempt runs; its result once it has ended (finalized first when overdue)."""
    attempt = _own_attempt(attempt_id)
    now = now_utc()
    if attempt.overdue(now, attempts.grace()):
        attempts.finalize(attempt, now)
    if attempt.status != AttemptStatus.IN_PROGRESS:
        return redirect(url_for("take.result", attempt_id=attempt.id))
    state = {
        "attempt": attempt.id,
        "serverTime": review.iso(now),
        "deadline": review.iso(attempt.deadline_at),
        "answers": review.saved_answers(attempt),
        "focusLosses": attempt.focus_losses,
        "focusLossLimit": attempt.exam.focus_loss_limit,
        "graceSeconds": attempts.grace().total_seconds(),
        # The page re-reads the attempt this often: a proctor's extension, pause or resume reaches it without a reload.
        "syncSeconds": current_app.config.get("EXAM_SYNC_SECONDS", 15),
        "paused": attempt.paused_at is not None,
        "secondsLeft": int(attempt.time_left(now).total_seconds()),
        "api": url_for("exam_api.attempt", attempt_id=attempt.id),
        "result": url_for("take.result", attempt_id=attempt.id),
    }
    items = review.paper(attempt)
    return render_template("exam/take.html", attempt=attempt, exam=attempt.exam, items=items, state=state)


@take_bp.route("/attempts/<int:attempt_id>/result")
@login_required
def result(attempt_id: int):
    attempt = _own_attempt(attempt_id)
    now = now_utc()
    if attempt.status == AttemptStatus.IN_PROGRESS:
        if not attempt.overdue(now, attempts.grace()):
            return redirect(url_for("take.attempt", attempt_id=attempt.id))
        attempts.finalize(attempt, now)
    attempts.grade_if_kept_waiting(attempt, now)
    outcome = review.result(attempt, now)
    entries = {e["position"]: e for e in (outcome or {}).get("review", [])}
    progress = review.progress(attempt)
    return render_template(
        "exam/take_result.html", attempt=attempt, exam=attempt.exam, outcome=outcome, entries=entries,
        items=review.paper(attempt) if entries else [], progress=progress, now=now,
        **result_page.values(attempt, current_user, outcome, now),  # the standing (reports), …
    )  # fmt: skip
