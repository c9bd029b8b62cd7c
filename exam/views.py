"""Exam administration pages: the list, an exam's definition with its pool check, candidates and a sample paper,
publishing, and exams as JSON files."""

import json
import random

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from accounts.models import User
from core.errors import DomainError
from core.extensions import db
from core.forms import ActionForm
from core.models import now_utc
from core.policy import permission_required
from exam import bp, files, services
from exam.models import Attempt, Exam, Paper


def _exam(code: str) -> Exam:
    return db.session.scalar(select(Exam).where(Exam.code == code)) or abort(404)


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
        flash(exc.message, "error")
        return redirect(url_for("exam.exams"))
    flash(_("Exam %(code)s imported as a draft.", code=exam.code), "success")
    return redirect(url_for("exam.exam", code=exam.code))


@bp.route("/<code>/")
@permission_required("exam.manage")
def exam(code: str):
    exam = _exam(code)
    now = now_utc()
    verdict = person = None
    who = (request.args.get("who") or "").strip()
    if who:
        person = db.session.scalar(select(User).where(func.lower(User.username) == who.lower()))
        verdict = services.eligibility_verdict(exam, person) if person else None
    problems = services.check_pools(exam)
    sample = []
    if not problems:
        for item in services.sample_paper(exam, random.SystemRandom().randrange(2**31)):
            sample.append({
                "position": item.position, "section": item.section.title, "qtype": item.section.qtype,
                "stem": item.version.stem, "points": item.points,
                "options": [item.version.options[i] for i in item.option_order],  # as this candidate would see them
            })  # fmt: skip
    return render_template(
        "exam/detail.html",
        exam=exam,
        now=now,
        problems=problems,
        counts=services.eligible_counts_by_unit(exam),
        papers=db.session.scalar(select(func.count(Paper.id)).where(Paper.exam_id == exam.id)),
        who=who,
        person=person,
        verdict=verdict,
        sample=sample,
        overrides=(overrides := services.candidate_overrides(exam)),
        current=next((o for o in overrides if person is not None and o.user_id == person.id), None),
        action_form=ActionForm(),
    )


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
        services.set_candidate(
            current_user, exam, person, now_utc(), included=included,
            extra_minutes=request.form.get("extra_minutes", 0, type=int), note=request.form.get("note", ""),
        )  # fmt: skip
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        flash(_("Saved for %(name)s.", name=person.name), "success")
    return redirect(url_for("exam.exam", code=exam.code, who=person.username))


@bp.route("/<code>/publish", methods=["POST"])
@permission_required("exam.manage")
def publish(code: str):
    exam = _exam(code)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        drawn = services.publish(current_user, exam, now_utc())
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        flash(_("Published; %(n)d papers drawn.", n=drawn), "success")
    return redirect(url_for("exam.exam", code=exam.code))


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
