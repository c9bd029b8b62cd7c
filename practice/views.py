"""The cadre's practice pages (以考促学): what there is to practise, a session one question at a time with the
key and explanation right after each answer, and the wrong-answer book. Plain forms, no script needed: they work
on any phone."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from core.errors import DomainError
from core.extensions import db
from core.forms import ActionForm
from core.models import now_utc
from core.policy import login_required, permission_required
from exam.models import Exam
from practice import activity as activity_queries
from practice import bp, hours, mock, services
from practice.models import Mode, PracticeAnswer
from practice.pool import pool_now
from question_bank.models import Bank, Category


def _own_session(practice_id: int):
    return services.own_session(current_user, practice_id) or abort(404)


@bp.route("/")
@login_required
def home():
    now = now_utc()
    services.take_exam_mistakes(current_user, now)
    banks, tags = services.choices(now)
    today = services.today_daily(current_user, now)
    return render_template(
        "practice/home.html", banks=banks, tags=tags, sessions=services.recent_sessions(current_user),
        book_count=services.book_count(current_user), form=ActionForm(), today=today,
        streak=services.streak(current_user, now), daily_size=services.daily_size(),
        mocks=mock.exams_to_mock(current_user, now), mastery=services.mastery(current_user),
        mastery_window=services.MASTERY_WINDOW, hours=hours.offer(current_user, now),
    )  # fmt: skip


@bp.route("/hours", methods=["POST"])
@login_required
def claim_hours():
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        entry = hours.claim(current_user, now_utc())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(_("%(h)s hours of practice were added to your learning archive; they count once reviewed.",
                h=f"{entry.hours:g}"), "success")  # fmt: skip
    return redirect(url_for("practice.home"))


@bp.route("/activity")
@permission_required("practice.activity")
def activity():
    now = now_utc()
    return render_template(
        "practice/activity.html", units=activity_queries.by_unit(current_user, now),
        weak=activity_queries.weak_points(current_user, now), days=activity_queries.WINDOW_DAYS,
        min_answers=activity_queries.MIN_ANSWERS,
    )  # fmt: skip


@bp.route("/daily", methods=["POST"])
@login_required
def daily():
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        session = services.daily(current_user, now_utc())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("practice.home"))
    return redirect(url_for("practice.session", practice_id=session.id))


@bp.route("/mocks/<code>", methods=["POST"])
@login_required
def start_mock(code: str):
    if not ActionForm().validate_on_submit():
        abort(400)
    exam = db.session.scalar(select(Exam).where(Exam.code == code[:32])) or abort(404)
    try:
        session = mock.start(current_user, exam, now_utc())
    except DomainError as exc:
        if exc.status == 404:
            abort(404)
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("practice.home"))
    return redirect(url_for("practice.session", practice_id=session.id))


def _mock_page(session, now):
    paper = mock.items(session, now)
    answers = {a.position: a for a in services.session_answers(session)} if session.done else {}
    return render_template(
        "practice/mock.html", session=session, items=paper, answers=answers, form=ActionForm(),
        seconds_left=mock.time_left(session, now), late=mock.came_late(session),
        wanted=mock.wanted(session), short=len(session.question_ids) < mock.wanted(session),
    )  # fmt: skip


@bp.route("/sessions/<int:practice_id>/submit", methods=["POST"])
@login_required
def submit_mock(practice_id: int):
    session = _own_session(practice_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    now = now_utc()
    values = {}
    for item in mock.items(session, now):
        values[item.position] = _posted_answer(item.slot.qtype, item.blanks, f"q{item.position}")
    try:
        mock.submit(session, values, now)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("practice.session", practice_id=session.id))


def _form_int(name: str) -> int | None:
    value = request.form.get(name, "")
    return int(value) if value.isdigit() and len(value) < 10 else None


@bp.route("/start", methods=["POST"])
@login_required
def start():
    if not ActionForm().validate_on_submit():
        abort(400)
    mode = request.form.get("mode", Mode.CATEGORY)
    bank_id, category_id = _form_int("bank"), _form_int("category")
    bank = db.session.get(Bank, bank_id) if bank_id else None
    category = db.session.get(Category, category_id) if category_id else None
    try:
        session = services.start(
            current_user, now_utc(), mode=mode, bank=bank, category=category, tag=request.form.get("tag") or None,
            shuffled=request.form.get("order") == "shuffled",
        )  # fmt: skip
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("practice.home"))
    return redirect(url_for("practice.session", practice_id=session.id))


def _feedback_of(session, position: int):
    """The feedback of an answered position, if its question is still open to practice (a formal exam set up
    since may hold it: then no key is shown)."""
    row = db.session.scalar(
        select(PracticeAnswer).where(PracticeAnswer.session_id == session.id, PracticeAnswer.position == position)
    )
    if row is None or not pool_now(now_utc()).is_open(row.question_id):
        return None
    return row


@bp.route("/sessions/<int:practice_id>")
@login_required
def session(practice_id: int):
    session = _own_session(practice_id)
    now = now_utc()
    if session.mode == Mode.MOCK:
        return _mock_page(session, now)
    answered = request.args.get("answered", "")
    feedback = _feedback_of(session, int(answered)) if answered.isdigit() and len(answered) < 6 else None
    served = None if feedback is not None else services.current(session, now)
    answers = services.session_answers(session) if session.done and feedback is None else []
    return render_template(
        "practice/session.html", session=session, served=served, feedback=feedback, form=ActionForm(),
        answers=answers, open_ids=pool_now(now).open_among(a.question_id for a in answers),
    )  # fmt: skip


def _posted_answer(qtype: str, blanks: int, name: str = "q"):
    """The answer as the page's form sends it, in the shape the question type takes (None: left empty)."""
    if qtype == "single":
        value = request.form.get(name, "")
        return int(value) if value.isdigit() and len(value) < 4 else None
    if qtype == "multiple":
        values = [int(v) for v in request.form.getlist(name) if v.isdigit() and len(v) < 4]
        return values or None
    if qtype == "truefalse":
        value = request.form.get(name)
        return {"true": True, "false": False}.get(value)
    if qtype == "fill":
        return [request.form.get(f"{name}-{n}", "") for n in range(1, blanks + 1)]
    return request.form.get(name, "") or None


@bp.route("/sessions/<int:practice_id>/answer", methods=["POST"])
@login_required
def answer(practice_id: int):
    session = _own_session(practice_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    now = now_utc()
    position = _form_int("position")
    served = services.current(session, now)
    if served is None or position != served.position:
        db.session.commit()  # (a question closed since is passed over for good)
        flash(_("That question is no longer the one to answer; here is the current one."), "error")
        return redirect(url_for("practice.session", practice_id=session.id))
    try:
        services.answer(session, position, _posted_answer(served.question.type, served.blanks), now)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("practice.session", practice_id=session.id))
    return redirect(url_for("practice.session", practice_id=session.id, answered=position))


@bp.route("/sessions/<int:practice_id>/skip", methods=["POST"])
@login_required
def skip(practice_id: int):
    session = _own_session(practice_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    services.skip(session, now_utc())
    return redirect(url_for("practice.session", practice_id=session.id))


@bp.route("/sessions/<int:practice_id>/finish", methods=["POST"])
@login_required
def finish(practice_id: int):
    session = _own_session(practice_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    services.finish(session, now_utc())
    return redirect(url_for("practice.session", practice_id=session.id))


@bp.route("/wrong-book")
@login_required
def wrong_book():
    show_all = request.args.get("all") == "1"
    now = now_utc()
    services.take_exam_mistakes(current_user, now)
    groups = services.wrong_book(current_user, include_mastered=show_all)
    access = pool_now(now).access(e.question_id for g in groups for e in g.entries)
    return render_template(
        "practice/wrong_book.html", groups=groups, show_all=show_all, form=ActionForm(), access=access,
        count=services.book_count(current_user), mastered_after=services.mastered_after(),
    )  # fmt: skip


@bp.route("/wrong-book/<int:entry_id>/remove", methods=["POST"])
@login_required
def remove_entry(entry_id: int):
    entry = services.own_entry(current_user, entry_id) or abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    services.remove_entry(entry, now_utc())
    flash(_("The question was taken out of your wrong-answer book."), "success")
    return redirect(url_for("practice.wrong_book"))


@bp.route("/wrong-book/<int:entry_id>/star", methods=["POST"])
@login_required
def star_entry(entry_id: int):
    entry = services.own_entry(current_user, entry_id) or abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    services.star_entry(entry, request.form.get("starred") == "1")
    return redirect(url_for("practice.wrong_book"))
