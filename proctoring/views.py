"""The proctoring pages: an exam's settings (the district's exam managers) and an attempt's camera snapshots with
its signals (those `may_see_snapshots` allows; every view audited). A snapshot's image is served only through a
short-lived link the audited page issues to the person who viewed it."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from accounts.photos import photo_of
from core import policy
from core.errors import DomainError
from core.extensions import db
from core.models import now_utc
from core.policy import login_required, permission_required
from exam.models import EVENT_LABELS, Attempt, Exam
from exam.timeline import attempt_events
from proctoring import bp, services, snapshots
from proctoring.forms import ProctoringForm
from proctoring.models import Snapshot

#: How long an image link of an audited page works.
LINK_SECONDS = 600


def _exam(code: str) -> Exam:
    exam = db.session.scalar(select(Exam).where(Exam.code == code)) or abort(404)
    policy.refuse_conflict(exam_id=exam.id)
    return exam


@bp.route("/exams/<code>/settings", methods=["GET", "POST"])
@permission_required("exam.manage")
def settings(code: str):
    exam = _exam(code)
    current = services.settings_of(exam)
    form = ProctoringForm(obj=current)
    if form.validate_on_submit():
        values = {name: getattr(form, name).data for name in services.DEFAULTS}
        values["networks"] = values["networks"] or ""
        try:
            services.update_settings(exam, actor=current_user, now=now_utc(), **values)
        except DomainError as exc:
            db.session.rollback()
            for name, message in exc.problems or ():
                getattr(form, name).errors = [*getattr(form, name).errors, message]
            flash(exc.message, "error")
        else:
            flash(_("Proctoring settings saved."), "success")
            return redirect(url_for("proctoring.settings", code=exam.code))
    locked = set(services.DEFAULTS) - services.SAFE_AFTER_START if exam.first_started_at else set()
    return render_template("proctoring/settings.html", exam=exam, form=form, locked=locked)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="qualexam snapshots")


def image_link(snapshot: Snapshot) -> str:
    token = _serializer().dumps([current_user.id, snapshot.id])
    return url_for("proctoring.image", snapshot_id=snapshot.id, t=token)


def visible_snapshots(attempt: Attempt, where: str) -> list[tuple[Snapshot, str]] | None:
    """The attempt's snapshots with their image links for the current user, the view audited; None when they may
    not see them (or there are none, and the exam takes none)."""
    if not snapshots.may_see_snapshots(current_user, attempt):
        return None
    shots = snapshots.snapshots_of(attempt)
    if shots:
        snapshots.record_view(current_user, attempt, len(shots), where, now_utc())
    return [(shot, image_link(shot)) for shot in shots]


@bp.app_template_global("attempt_snapshots")
def attempt_snapshots(attempt: Attempt):
    """For the exam's attempt page (exam/attempt.html): the snapshots its viewer may see (audited), or None."""
    return visible_snapshots(attempt, "attempt")


@bp.app_template_global("exam_proctoring")
def exam_proctoring(exam: Exam):
    """For the start page (exam/take_start.html): what the exam watches, told before the start."""
    return services.settings_of(exam)


@bp.app_template_global("proctoring_state")
def proctoring_state(attempt: Attempt) -> dict:
    """For the exam page (exam/take.html): `state.proctoring`."""
    return services.client_state(attempt)


@bp.route("/attempts/<int:attempt_id>/snapshots")
@login_required
def timeline(attempt_id: int):
    """An attempt's snapshots beside the candidate's profile photo, with the attempt's signals: for the proctor of
    the candidate's room and the district's exam managers."""
    attempt = db.session.get(Attempt, attempt_id) or abort(404)
    shots = visible_snapshots(attempt, "timeline")
    if shots is None:
        abort(404)
    cadre = attempt.user.cadre
    photo = cadre is not None and photo_of(cadre) is not None
    return render_template(
        "proctoring/timeline.html", attempt=attempt, exam=attempt.exam, shots=shots, photo=photo,
        events=attempt_events(attempt), event_labels=EVENT_LABELS, settings=services.settings_of(attempt.exam),
    )  # fmt: skip


@bp.route("/snapshots/<int:snapshot_id>.jpg")
@login_required
def image(snapshot_id: int):
    """One snapshot, through the link an audited page gave this user (and only while they may still see it)."""
    try:
        user_id, linked = _serializer().loads(request.args.get("t", ""), max_age=LINK_SECONDS)
    except (BadSignature, ValueError, TypeError):
        abort(404)
    snapshot = db.session.get(Snapshot, snapshot_id)
    if snapshot is None or linked != snapshot_id or user_id != current_user.id:
        abort(404)
    if not snapshots.may_see_snapshots(current_user, snapshot.attempt):
        abort(404)
    data = snapshots.read(snapshot)
    if data is None:
        abort(404)
    response = current_app.response_class(data, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/attempts/<int:attempt_id>/photo")
@login_required
def profile_photo(attempt_id: int):
    """The candidate's profile photo, beside the snapshots, for those who may see them (a proctor has no right to
    the cadres' pages otherwise)."""
    attempt = db.session.get(Attempt, attempt_id) or abort(404)
    if not snapshots.may_see_snapshots(current_user, attempt) or attempt.user.cadre is None:
        abort(404)
    photo = photo_of(attempt.user.cadre) or abort(404)
    response = current_app.response_class(photo.data, mimetype=photo.mimetype)
    response.headers["Cache-Control"] = "private, no-store"
    return response
