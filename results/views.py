"""The lifecycle's pages: results in progress, an exam's results page (state, history, check report, the moves,
the notices), a notice and its PDF for its scope, the public verification of a notice's serial, and the
working-day calendar."""

from flask import Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from core import policy
from core.errors import DomainError
from core.extensions import db, limiter
from core.forms import ActionForm, show_problems
from core.models import local_today, now_utc
from core.policy import login_required, permission_required
from exam import checks
from exam.models import Exam, ExamStatus
from results import appeal_views, bp, calendar, lifecycle, notices, verify_bp
from results.forms import DAY_KIND_LABELS, CalendarDayForm, CheckForm, NoteForm, PublishForm, RegisterForm, SendBackForm
from results.models import CalendarDay, OfficialExam, State


def _exam(code: str) -> Exam:
    exam = db.session.scalar(select(Exam).where(Exam.code == code))
    if exam is None or exam.status == ExamStatus.DRAFT:
        abort(404)
    policy.refuse_own_results(current_user, exam.id)  # nobody decides the results of an exam they sit
    return exam


@bp.route("/")
@permission_required("results.manage")
def index():
    """Official exams whose results are not final yet, then the final ones."""
    now = now_utc()
    exams = db.session.scalars(
        select(Exam).join(OfficialExam, OfficialExam.exam_id == Exam.id).order_by(Exam.closes_at.desc())
    ).all()
    rows = [(e, lifecycle.state(e, now)) for e in exams]
    return render_template("results/index.html", rows=rows, labels=lifecycle.STATE_LABELS, final=State.FINAL)


@bp.route("/exams/<code>")
@permission_required("results.manage")
def exam(code: str):
    exam = _exam(code)
    now = now_utc()
    row = lifecycle.official(exam)
    current = lifecycle.state(exam, now)
    publish_form = PublishForm(scope=row.scope, days=row.notice_days) if row is not None else None
    return render_template(
        "results/exam.html", exam=exam, row=row, state=current, labels=lifecycle.STATE_LABELS,
        scopes=lifecycle.SCOPE_LABELS, check_titles=checks.TITLES,
        history=lifecycle.history(exam) if row else [],
        notices=notices.notices(exam) if row else [], register_form=RegisterForm(), check_form=CheckForm(),
        note_form=NoteForm(), send_back_form=SendBackForm(), publish_form=publish_form,
        report=lifecycle.check_report(exam, now) if current == State.MARKED else None, now=now,
        may_check=policy.can(current_user, "results.check"), may_approve=policy.can(current_user, "results.approve"),
        **(appeal_views.admin_values(exam, now) if row else {}),
    )  # fmt: skip


def _move(exam: Exam, form, action, success: str):
    """A move's POST: the form (CSRF first), the service, a refusal rolled back and shown."""
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
        return redirect(url_for("results.exam", code=exam.code))
    try:
        action(form)
    except DomainError as exc:
        db.session.rollback()
        if exc.status == 403:
            raise
        show_problems(form, exc)
    else:
        flash(success, "success")
    return redirect(url_for("results.exam", code=exam.code))


@bp.route("/exams/<code>/register", methods=["POST"])
@permission_required("results.manage")
def register(code: str):
    exam = _exam(code)
    return _move(exam, RegisterForm(), lambda f: lifecycle.register(
        current_user, exam, now_utc(), scope=f.scope.data, days=f.days.data, appeal_how=f.appeal_how.data or ""),
        _("The exam is official: its results go through check, approval and public notice."))  # fmt: skip


@bp.route("/exams/<code>/check", methods=["POST"])
@permission_required("results.check")
def check(code: str):
    exam = _exam(code)
    return _move(exam, CheckForm(), lambda f: lifecycle.check(
        current_user, exam, f.note.data or "", now_utc(), sample_note=f.sample_note.data or ""),
        _("Results checked."))  # fmt: skip


@bp.route("/exams/<code>/approve", methods=["POST"])
@permission_required("results.approve")
def approve(code: str):
    exam = _exam(code)
    return _move(exam, NoteForm(), lambda f: lifecycle.approve(current_user, exam, f.note.data or "", now_utc()),
                 _("Results approved."))  # fmt: skip


@bp.route("/exams/<code>/send-back", methods=["POST"])
@permission_required("results.check")
def send_back(code: str):
    exam = _exam(code)
    return _move(exam, SendBackForm(), lambda f: lifecycle.send_back(current_user, exam, f.reason.data, now_utc()),
                 _("Results sent back to marking."))  # fmt: skip


@bp.route("/exams/<code>/publish", methods=["POST"])
@permission_required("results.manage")
def publish(code: str):
    exam = _exam(code)
    return _move(exam, PublishForm(), lambda f: notices.publish(
        current_user, exam, now_utc(), days=f.days.data, scope=f.scope.data), _("Notice published."))  # fmt: skip


def _notice(serial: str):
    notice = notices.by_serial(serial)
    if notice is None or not policy.may_see_notice(current_user, notice):
        abort(404)
    return notice


@bp.route("/notices/<serial>")
@login_required
def notice(serial: str):
    notice = _notice(serial)
    current = lifecycle.current_notice(notice.exam)
    return render_template("results/notice.html", notice=notice, exam=notice.exam, current=current,
                           scopes=lifecycle.SCOPE_LABELS, now=now_utc())  # fmt: skip


@bp.route("/notices/<serial>.pdf")
@login_required
def notice_pdf(serial: str):
    notice = _notice(serial)
    data = notices.notice_pdf(notice, notices.verification_url(notice.serial))
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f"inline; filename=notice-{notice.serial}.pdf",
                             "Cache-Control": "no-store"})  # fmt: skip


@bp.route("/calendar", methods=["GET", "POST"])
@permission_required("calendar.manage")
def calendar_days():
    form = CalendarDayForm()
    if form.validate_on_submit():
        try:
            calendar.add_day(current_user, form.day.data, form.kind.data, form.name.data or "", now_utc())
        except DomainError as exc:
            db.session.rollback()
            show_problems(form, exc)
        else:
            flash(_("Day added to the calendar."), "success")
            return redirect(url_for("results.calendar_days"))
    today = local_today()
    return render_template("results/calendar.html", form=form, days=calendar.days(), kinds=DAY_KIND_LABELS,
                           today=today, remove_form=ActionForm())  # fmt: skip


@bp.route("/calendar/<int:day_id>/remove", methods=["POST"])
@permission_required("calendar.manage")
def calendar_remove(day_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    entry = db.session.get(CalendarDay, day_id)
    if entry is None:
        abort(404)
    calendar.remove_day(current_user, entry, now_utc())
    flash(_("Day removed from the calendar."), "success")
    return redirect(url_for("results.calendar_days"))


def _limit() -> str:
    from flask import current_app

    return current_app.config["VERIFY_RATE_LIMIT"]


@verify_bp.route("/<serial>")
@limiter.limit(_limit)
def check_serial(serial: str):
    """Public: is this a notice we published, is it current or superseded, and of which exam. Nothing personal."""
    notice = notices.by_serial(serial)
    current = lifecycle.current_notice(notice.exam) if notice is not None else None
    body = render_template("results/verify.html", notice=notice, serial=serial[:40], current=current)
    return body, 200 if notice else 404, {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
