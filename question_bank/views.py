"""Pages of the question banks: banks, categories, the question list, authoring, review, import and export."""

from flask import Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from accounts.models import Unit
from accounts.services import unit_tree
from core import policy
from core.errors import DomainError
from core.extensions import db
from core.forms import ActionForm, options
from core.models import now_utc
from core.policy import login_required, permission_required
from core.web import db_int, page_arg
from jobs import files, submit
from question_bank import bp, images, queries, rendering, services, transfer
from question_bank.access import PRACTICE_NOTES, practice_access
from question_bank.formats import FORMAT_LABELS, commit, table
from question_bank.forms import (
    BankForm,
    BulkForm,
    CategoryForm,
    FilterForm,
    ImportForm,
    QuestionForm,
    ReviewForm,
    fill_form,
    form_content,
)
from question_bank.jobs import QUESTION_IMPORT, upload_format, upload_name
from question_bank.models import (
    STATUS_LABELS,
    USAGE_LABELS,
    Bank,
    Category,
    Question,
    QuestionStatus,
    QuestionVersion,
)
from question_bank.types import QUESTION_TYPES

bp.add_app_template_filter(rendering.stem_with_blanks, "stem_with_blanks")
bp.add_app_template_global(rendering.letter, "option_letter")


@bp.app_context_processor
def _labels():
    return {
        "QUESTION_TYPES": QUESTION_TYPES,
        "STATUS_LABELS": STATUS_LABELS,
        "QuestionStatus": QuestionStatus,
        "USAGE_LABELS": USAGE_LABELS,
        "PRACTICE_NOTES": PRACTICE_NOTES,
    }


def _bank(code: str, action: str = "bank.view") -> Bank:
    bank = db.session.scalar(select(Bank).where(Bank.code == code)) or abort(404)
    policy.require(action, bank)
    return bank


def _question(question_id: int, action: str = "bank.view") -> Question:
    question = db.session.get(Question, question_id) or abort(404)
    policy.require(action, question.bank)
    policy.refuse_conflict(question_id=question.id)
    return question


def _unit_choices():
    """Units the user may own banks in: district admins any; an author their own unit and below."""
    units = [u for u in unit_tree() if policy.can(current_user, "bank.create", u)]
    return options((u.id, "\u3000" * u.depth + u.name) for u in units)


def _category_choices(bank: Bank, blank: str):
    return options([(0, blank)] + [(c.id, "\u3000" * c.depth + c.name) for c in services.category_tree(bank)])


def _category(bank: Bank, category_id) -> Category | None:
    if not category_id:
        return None
    category = db.session.get(Category, int(category_id))
    if category is None or category.bank_id != bank.id:
        abort(400)
    return category


# ---------------------------------------------------------------- banks


@bp.route("/")
@permission_required("bank.view")
def banks():
    bank_list = db.session.scalars(queries.banks_query(current_user)).all()
    counts = queries.question_counts([b.id for b in bank_list])
    pending = queries.count_of(queries.review_queue(current_user, queries.banks_query(current_user)))
    return render_template("question_bank/banks.html", banks=bank_list, counts=counts, pending=pending)


@bp.route("/new", methods=["GET", "POST"])
@bp.route("/<code>/edit", methods=["GET", "POST"])
@permission_required("bank.create")
def bank_form(code: str | None = None):
    bank = _bank(code, "bank.manage") if code else None
    form = BankForm(obj=bank)
    form.owner_unit_id.choices = _unit_choices()
    if bank is not None:
        form.code.render_kw = {"readonly": True}
    if form.validate_on_submit():
        unit = db.session.get(Unit, form.owner_unit_id.data) or abort(400)
        try:
            if bank is None:
                bank = services.create_bank(
                    current_user, form.code.data, form.name.data, form.subject.data, unit, form.description.data,
                    now_utc(),
                )  # fmt: skip
            else:
                services.update_bank(
                    current_user,
                    bank,
                    name=form.name.data,
                    subject=form.subject.data,
                    owner_unit=unit,
                    description=form.description.data or "",
                )
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            flash(_("The bank has been saved."), "success")
            return redirect(url_for("question_bank.bank", code=bank.code))
    subjects = queries.known_subjects()
    return render_template("question_bank/bank_form.html", form=form, bank=bank, subjects=subjects)


def _arg_int(value) -> int | None:
    """A filter's number, or None for anything that is not one a column could hold."""
    try:
        return db_int(value) if value else None
    except ValueError:
        return None


def _filtered(bank: Bank, sort: str | None = None):
    """The filter form of the question list, and the query it describes."""
    form = FilterForm(request.args)
    tree = services.category_tree(bank)
    form.category.choices = options(
        [("", _("All categories"))] + [(str(c.id), "\u3000" * c.depth + c.name) for c in tree]
    )
    form.author.choices = options([("", _("All authors"))] + [(str(u.id), u.name) for u in queries.bank_authors(bank)])
    category = next((c for c in tree if str(c.id) == form.category.data), None)
    stmt = queries.questions_query(
        bank,
        q=form.q.data or "",
        qtype=form.type.data or "",
        difficulty=_arg_int(form.difficulty.data),
        category=category,
        tag=form.tag.data or "",
        status=form.status.data or "",
        author_id=_arg_int(form.author.data),
        sort=sort or form.sort.data or "newest",
    ).where(policy.conflict_free(current_user, Question.id))  # a conflict of interest leaves questions out
    return form, tree, stmt


def _filter_args(form: FilterForm) -> dict:
    """The list's filters as query arguments for links (only the form's own fields, never arbitrary keys)."""
    return {f.name: f.data for f in form if f.data}


@bp.route("/<code>/")
@permission_required("bank.view")
def bank(code: str):
    bank = _bank(code)
    form, tree, stmt = _filtered(bank)
    page = db.paginate(stmt, page=page_arg(), per_page=current_app.config["QUESTIONS_PER_PAGE"], error_out=False)
    args = _filter_args(form)
    bulk = BulkForm()
    bulk.category_id.choices = _category_choices(bank, _("(no category)"))
    return render_template(
        "question_bank/bank.html",
        conflict=policy.conflict(current_user, bank_id=bank.id),
        bank=bank,
        form=form,
        page=page,
        args=args,
        tree=tree,
        practice=practice_access((q.id for q in page.items), now_utc()),
        category_form=_new_category_form(bank),
        bulk=bulk,
        export_formats=FORMAT_LABELS,
    )


def _new_category_form(bank: Bank) -> CategoryForm:
    form = CategoryForm(prefix="cat")
    form.parent_id.choices = _category_choices(bank, _("(top level)"))
    return form


@bp.route("/<code>/categories", methods=["POST"])
@permission_required("bank.manage")
def category_create(code: str):
    bank = _bank(code, "bank.manage")
    form = _new_category_form(bank)
    if form.validate_on_submit():
        try:
            services.create_category(bank, form.name.data, _category(bank, form.parent_id.data))
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            flash(_("The category has been added."), "success")
    else:
        flash(_("Please give the category a name."), "error")
    return redirect(url_for("question_bank.bank", code=bank.code))


@bp.route("/<code>/categories/change", methods=["POST"])
@permission_required("bank.manage")
def category_change(code: str):
    """Rename or delete one category (chosen from a list, so the page needs no form per category)."""
    bank = _bank(code, "bank.manage")
    category = _category(bank, request.form.get("category_id", type=db_int)) or abort(400)
    try:
        if request.form.get("op") == "delete":
            services.delete_category(category)
            flash(_("The category has been deleted."), "success")
        else:
            services.rename_category(category, request.form.get("name", ""))
            flash(_("The category has been renamed."), "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("question_bank.bank", code=bank.code))


def _open_for_practice(bank: Bank, category: Category | None = None):
    """Open (opened=1) or close (opened=0) the bank, or one category subtree of it, for practice."""
    opened = request.form.get("opened")
    if not ActionForm().validate_on_submit() or opened not in ("0", "1"):
        abort(400)
    services.open_for_practice(current_user, bank, opened == "1", now_utc(), category=category)
    flash(_("Opened for practice.") if opened == "1" else _("Closed to practice."), "success")
    return redirect(url_for("question_bank.bank", code=bank.code))


@bp.route("/<code>/practice", methods=["POST"])
@permission_required("bank.manage")
def bank_practice(code: str):
    return _open_for_practice(_bank(code, "bank.manage"))


@bp.route("/<code>/categories/practice", methods=["POST"])
@permission_required("bank.manage")
def category_practice(code: str):
    bank = _bank(code, "bank.manage")
    return _open_for_practice(bank, _category(bank, request.form.get("category_id", type=db_int)) or abort(400))


# ---------------------------------------------------------------- questions


def _question_form(bank: Bank, qtype: str) -> QuestionForm:
    form = QuestionForm()
    form.category_id.choices = _category_choices(bank, _("(no category)"))
    if request.method == "GET" and form.points.data is None:
        form.points.data = QUESTION_TYPES[qtype].default_points
    return form


@bp.route("/<code>/questions/new", methods=["GET", "POST"])
@permission_required("bank.manage")
def question_new(code: str):
    bank = _bank(code, "bank.manage")
    qtype = request.args.get("type", "single")
    if qtype not in QUESTION_TYPES:
        abort(404)
    form = _question_form(bank, qtype)
    duplicates = []
    if form.validate_on_submit():
        content = form_content(form, qtype)
        duplicates = [
            q
            for q in services.likely_duplicates(bank, content.stem)
            if not policy.conflict(current_user, question_id=q.id)
        ]
        if duplicates and not request.form.get("confirm_duplicate"):
            flash(
                _("This question looks like one already in the bank. Check it, then save again to keep both."),
                "warning",
            )
        else:
            try:
                question = services.create_question(
                    current_user,
                    bank,
                    qtype,
                    content,
                    now_utc(),
                    category=_category(bank, form.category_id.data),
                    tags=services.split_tags(form.tags.data),
                    difficulty=form.difficulty.data,
                    usage=form.usage.data,
                )
            except DomainError as exc:
                flash(exc.message, "error")
            else:
                flash(_("The question has been saved as a draft."), "success")
                if request.form.get("and_new"):
                    return redirect(url_for("question_bank.question_new", code=bank.code, type=qtype))
                return redirect(url_for("question_bank.question", question_id=question.id))
    return render_template(
        "question_bank/question_form.html", form=form, bank=bank, qtype=qtype, question=None, duplicates=duplicates
    )


@bp.route("/questions/<int:question_id>/edit", methods=["GET", "POST"])
@permission_required("bank.manage")
def question_edit(question_id: int):
    question = _question(question_id, "bank.manage")
    bank = question.bank
    form = _question_form(bank, question.type)
    if request.method == "GET":
        fill_form(form, question, question.current_version)
    if form.validate_on_submit():
        try:
            version = services.update_question(
                current_user,
                question,
                form_content(form, question.type),
                now_utc(),
                category=_category(bank, form.category_id.data),
                tags=services.split_tags(form.tags.data),
                difficulty=form.difficulty.data,
                usage=form.usage.data,
            )
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            if version is not None and question.status == QuestionStatus.IN_REVIEW:
                flash(_("Saved as version %(n)d; it is reviewed before papers use it.", n=version.number), "success")
            elif version is not None:
                flash(_("Saved as version %(n)d; earlier versions are kept.", n=version.number), "success")
            else:
                flash(_("The question has been saved."), "success")
            return redirect(url_for("question_bank.question", question_id=question.id))
    return render_template(
        "question_bank/question_form.html", form=form, bank=bank, qtype=question.type, question=question, duplicates=[]
    )


@bp.route("/questions/<int:question_id>")
@permission_required("bank.view")
def question(question_id: int):
    question = _question(question_id)
    versions = list(question.versions)
    history = [(v, services.version_diff(versions[i - 1] if i else None, v)) for i, v in enumerate(versions)]
    return render_template(
        "question_bank/question.html",
        question=question,
        version=question.current_version,
        history=list(reversed(history)),
        category_path=services.category_path_names(question.category),
        practice=practice_access([question.id], now_utc()),
        review_form=ReviewForm(),
    )


@bp.route("/questions/<int:question_id>/versions/<int:number>")
@permission_required("bank.view")
def question_version(question_id: int, number: int):
    question = _question(question_id)
    version = db.session.scalar(
        select(QuestionVersion).where(QuestionVersion.question_id == question.id, QuestionVersion.number == number)
    ) or abort(404)
    return render_template("question_bank/version.html", question=question, version=version)


# step -> (permission on the bank, service, message)
_WORKFLOW = {
    "submit": ("bank.manage", services.submit_for_review, _l("Submitted for review.")),
    "approve": ("question.review", services.approve, _l("Approved: the question is now active.")),
    "return": ("question.review", services.return_to_author, _l("Returned to the author.")),
    "retire": ("bank.manage", services.retire, _l("The question is retired.")),
    "restore": ("bank.manage", services.restore, _l("The question is back in review.")),
}


@bp.route("/questions/<int:question_id>/<any(submit, approve, return, retire, restore):step>", methods=["POST"])
@permission_required("bank.view")
def question_step(question_id: int, step: str):
    action, run, message = _WORKFLOW[step]
    question = _question(question_id, action)
    form = ReviewForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        if step == "approve":
            run(current_user, question, now_utc(), form.comment.data or "", request.form.get("version_id", type=db_int))
        elif step == "return":
            run(current_user, question, now_utc(), form.comment.data or "")
        else:
            run(current_user, question, now_utc())
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        flash(str(message), "success")
    if request.form.get("next") == "review":
        return redirect(url_for("question_bank.review"))
    return redirect(url_for("question_bank.question", question_id=question.id))


@bp.route("/<code>/bulk", methods=["POST"])
@permission_required("bank.manage")
def bulk(code: str):
    bank = _bank(code, "bank.manage")
    form = BulkForm()
    form.category_id.choices = _category_choices(bank, "")
    if not form.validate_on_submit():
        abort(400)
    ids = [int(i) for i in request.form.getlist("qid") if i.isdigit()]
    questions = list(
        db.session.scalars(
            select(Question).where(
                Question.id.in_(ids), Question.bank_id == bank.id, policy.conflict_free(current_user, Question.id)
            )
        )
    )
    if not questions:
        flash(_("Select at least one question."), "warning")
        return redirect(request.referrer or url_for("question_bank.bank", code=bank.code))
    result = services.bulk_update(
        current_user,
        questions,
        form.action.data,
        now_utc(),
        category=_category(bank, form.category_id.data),
        tags=services.split_tags(form.tags.data),
        difficulty=form.difficulty.data,
    )
    flash(_("%(n)d question(s) changed.", n=result.changed), "success")
    for reason in result.refused[:10]:
        flash(reason, "warning")
    return redirect(url_for("question_bank.bank", code=bank.code))


@bp.route("/preview", methods=["POST"])
@permission_required("bank.manage")
def preview():
    """The question as a candidate will see it, from the editor's current (unsaved) form."""
    qtype = request.args.get("type", "single")
    if qtype not in QUESTION_TYPES:
        abort(404)
    form = QuestionForm()
    form.category_id.choices = options([(0, "")])
    content = services.clean_content(qtype, form_content(form, qtype))
    problems = services.content_problems(qtype, content)
    return render_template("question_bank/_preview.html", qtype=qtype, content=content, problems=problems)


@bp.route("/review")
@permission_required("question.review")
def review():
    stmt = queries.review_queue(current_user, queries.banks_query(current_user))
    stmt = stmt.where(policy.conflict_free(current_user, Question.id))
    page = db.paginate(stmt, page=page_arg(), per_page=current_app.config["QUESTIONS_PER_PAGE"], error_out=False)
    return render_template("question_bank/review.html", page=page, review_form=ReviewForm())


# ---------------------------------------------------------------- images


@bp.route("/images", methods=["POST"])
@permission_required("bank.manage")
def image_upload():
    upload = request.files.get("image")
    if upload is None:
        return jsonify(error={"code": "no_file", "message": _("No image was sent.")}), 400
    try:
        url = images.store_image(upload.read(images.MAX_IMAGE_BYTES + 1))
    except DomainError as exc:
        return jsonify(error={"code": exc.code, "message": str(exc.message)}), 400
    return jsonify(url=url)


@bp.route("/images/<name>")
@login_required
def image(name: str):
    """An image of a question: for those who read the banks (unless it shows only in questions a conflict of
    interest keeps from them), and for a candidate when it is on the paper of one of their attempts."""
    stem, _dot, ext = name.partition(".")
    if len(stem) != 64 or not all(c in "0123456789abcdef" for c in stem) or ext not in images.MIMETYPES:
        abort(404)
    policy.require_image(name)
    path = images.image_dir() / name
    if not path.exists():
        abort(404)
    response = Response(path.read_bytes(), mimetype=images.MIMETYPES[ext])
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


# ---------------------------------------------------------------- import and export


def _import_form(bank: Bank) -> ImportForm:
    form = ImportForm()
    choices = [("draft", STATUS_LABELS[QuestionStatus.DRAFT]), ("in_review", STATUS_LABELS[QuestionStatus.IN_REVIEW])]
    if policy.has_district_scope(current_user):
        choices.append(("active", STATUS_LABELS[QuestionStatus.ACTIVE]))
    form.status.choices = options(choices)
    return form


@bp.route("/<code>/import", methods=["GET", "POST"])
@permission_required("bank.manage")
def import_questions(code: str):
    bank = _bank(code, "bank.manage")
    form = _import_form(bank)
    result = upload = None
    if form.validate_on_submit():
        upload_file = form.file.data
        fmt = form.format.data or transfer.guess_format(upload_file.filename)
        if fmt not in transfer.FORMATS:
            flash(_("Choose the file's format: it cannot be told from its name."), "error")
        else:
            data = upload_file.read()
            result = transfer.read_file(fmt, data, bank)
            if result.ok:  # only a clean file waits for confirmation, in the database: any node may confirm it
                upload = files.store(
                    data, upload_name(bank, fmt), transfer.MIMETYPES[fmt], purpose="upload", owner_id=current_user.id
                )
                db.session.commit()
    return render_template(
        "question_bank/import.html", bank=bank, form=form, result=result, upload=upload, formats=FORMAT_LABELS
    )


@bp.route("/<code>/import/commit", methods=["POST"])
@permission_required("bank.manage")
def import_commit(code: str):
    bank = _bank(code, "bank.manage")
    form = _import_form(bank)
    token = request.form.get("upload", "")
    # Only the uploader's own file, checked for this bank; the format travels in its name.
    waiting = files.get(token, owner_id=current_user.id, purpose="upload")
    fmt = upload_format(waiting, bank) if waiting else None
    status = request.form.get("status", "draft")
    if fmt is None or status not in {choice.value for choice in form.status.choices}:
        flash(_("No checked file is waiting. Please upload it again."), "error")
        return redirect(url_for("question_bank.import_questions", code=bank.code))
    stored = files.claim(token, current_user.id)
    if stored is None:  # a second click on the same confirmation: the first one is importing it
        flash(_("This file is already being imported."), "warning")
        return redirect(url_for("question_bank.bank", code=bank.code))
    result = transfer.read_file(fmt, stored.data, bank)
    if not result.ok:
        files.discard(stored)
        db.session.commit()
        return render_template(
            "question_bank/import.html", bank=bank, form=form, result=result, upload=None, formats=FORMAT_LABELS
        )
    if len(result.questions) > current_app.config["IMPORT_INLINE_ROWS"]:
        params = {"upload": stored.token, "bank": bank.code, "status": status}
        job = submit(QUESTION_IMPORT, params, user=current_user)
        db.session.commit()
        return redirect(url_for("jobs.detail", job_id=job.id))
    count = commit(current_user, bank, result, now_utc(), status=QuestionStatus(status))
    files.discard(stored)
    db.session.commit()
    flash(_("%(n)d question(s) imported.", n=count), "success")
    return redirect(url_for("question_bank.bank", code=bank.code))


@bp.route("/import/template")
@permission_required("bank.manage")
def import_template():
    return Response(
        table.template(),
        mimetype=transfer.MIMETYPES["xlsx"],
        headers={"Content-Disposition": "attachment; filename=question-import-template.xlsx"},
    )


@bp.route("/<code>/export")
@permission_required("bank.manage")
def export(code: str):
    bank = _bank(code, "bank.manage")
    policy.refuse_conflict(bank_id=bank.id)  # refused whole, not quietly cut: a file that lacks questions misleads
    fmt = request.args.get("format", "xlsx")
    if fmt not in transfer.FORMATS:
        abort(404)
    _form, _tree, stmt = _filtered(bank, sort="oldest")
    data, skipped, _written = transfer.export_questions(list(db.session.scalars(stmt)), fmt)
    filename = f"{bank.code}.{transfer.EXTENSIONS[fmt]}"
    response = Response(data, mimetype=transfer.MIMETYPES[fmt])
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    if skipped:
        # The file is what it is; what it could not hold travels with it, and the page that linked it says so.
        response.headers["X-QualExam-Not-Exported"] = str(len(skipped))
    return response


@bp.route("/<code>/export/check")
@permission_required("bank.manage")
def export_check(code: str):
    """What an export in a given format would leave out, shown before the download."""
    bank = _bank(code, "bank.manage")
    policy.refuse_conflict(bank_id=bank.id)
    fmt = request.args.get("format", "xlsx")
    if fmt not in transfer.FORMATS:
        abort(404)
    form, _tree, stmt = _filtered(bank, sort="oldest")
    args = _filter_args(form)
    questions = list(db.session.scalars(stmt))
    skipped = transfer.export_questions(questions, fmt)[1] if fmt in ("gift", "aiken") else []
    return render_template(
        "question_bank/export_check.html", bank=bank, fmt=fmt, skipped=skipped, args=args, formats=FORMAT_LABELS
    )
