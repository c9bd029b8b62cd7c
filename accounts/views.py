"""Pages of accounts: login, password, language, dashboard, and the admin pages for cadres, units and roles."""

import io
from urllib.parse import urlsplit

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from accounts import bp, home, identity, importing, personal, photos, queries, roster, services, system
from accounts.forms import (
    AuditFilterForm,
    CadreFilterForm,
    CadreForm,
    ChangePasswordForm,
    ImportUploadForm,
    LanguageForm,
    LoginForm,
    PhotoForm,
    RoleForm,
    SystemAccountForm,
    SystemTokenForm,
    UnitForm,
)
from accounts.jobs import CADRE_IMPORT
from accounts.models import Cadre, RoleAssignment, Unit, User, label
from core import audit, audit_chain, audit_labels, policy
from core.errors import DomainError, database_unavailable, is_database_unavailable, wants_json
from core.extensions import db, login_manager
from core.forms import ActionForm, options
from core.models import local_today, now_utc
from core.policy import ROLE_LABELS, Role, login_required, permission_required
from core.security import bearer_token
from core.web import RowPage, db_int, page_arg
from jobs import files, submit

# Endpoints a user who must change their password may still reach.
_PASSWORD_CHANGE_EXEMPT = {"accounts.change_password", "accounts.logout", "accounts.set_language", "static"}


@login_manager.user_loader
def _load_user(session_key: str):
    if bearer_token() is not None:  # a request that brings a token is judged by the token alone
        return None
    return services.load_session_user(session_key, now_utc())


#: Blueprints an API-only token reaches (`flask accounts token --api-only`).
_API_BLUEPRINTS = {"exam_api"}
#: The blueprint a system account's token reaches, and the only one (`flask accounts system-token`).
_SYSTEM_BLUEPRINT = "admin_api"


@login_manager.request_loader
def _load_token_user(_request):
    token = bearer_token()
    found = services.load_token(token, now_utc()) if token else None
    if found is None or (found.api_only and request.blueprint not in _API_BLUEPRINTS):
        return None
    if found.scopes is not None and request.blueprint != _SYSTEM_BLUEPRINT:
        return None  # another system's token opens the admin API and nothing else
    g.api_only_token = found.api_only
    g.token_scopes = found.scopes
    return identity.attach_user(found)  # a real User, read only if more than the identity holds is asked


@bp.after_app_request
def _write_token_uses(response):
    """Token uses noted by this process go out with a write request that commits anyway (runs before the commit
    hook: after_request hooks run last-registered first), never with a read: see accounts.identity."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and response.status_code < 400:
        try:
            identity.write_last_used()
        except Exception as exc:
            if not is_database_unavailable(exc):
                raise
            return database_unavailable(exc)  # rolled back, 503: sent again; these uses are lost (minutes' worth)
    return response


@login_manager.unauthorized_handler
def _unauthorized():
    if wants_json():
        return {"error": {"code": "401", "message": _("Please log in.")}}, 401
    flash(_("Please log in to see this page."), "info")
    return redirect(url_for("accounts.login", next=request.full_path if request.query_string else request.path))


@bp.before_app_request
def _force_password_change():
    if (
        current_user.is_authenticated
        and current_user.must_change_password
        and request.endpoint not in _PASSWORD_CHANGE_EXEMPT
        and not g.get("api_only_token")
    ):
        if wants_json():
            return {"error": {"code": "password_change_required", "message": _("Please change your password.")}}, 403
        return redirect(url_for("accounts.change_password"))


@bp.app_context_processor
def _inject_helpers():
    return {
        "can": lambda action, target=None: policy.can(current_user, action, target),
        "label": label,
        "role_label": lambda role: ROLE_LABELS.get(Role(role), role),
        "language_form": LanguageForm(formdata=None),  # never the posted form: it may be what failed (413)
        "languages": current_app.config["LANGUAGES"],
    }


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths, so the login form cannot become an open redirect."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


# ---------------------------------------------------------------- login, logout, password, language


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("accounts.dashboard"))
    form = LoginForm()
    error = None
    status = 200
    if form.validate_on_submit():
        now = now_utc()
        ip = request.remote_addr or "unknown"
        attempt = services.begin_login_attempt(form.username.data, ip, now)
        db.session.commit()  # visible to parallel attempts before this one's password is checked
        try:
            user = services.authenticate(attempt, form.username.data, form.password.data, now)
        except DomainError as exc:
            error, status = exc.message, (429 if exc.code == "login_throttled" else 200)
            db.session.commit()  # the failed attempt must count even though the response is an error
        else:
            locale = session.get("locale")
            session.clear()  # a fresh session at login: nothing from before the login carries over
            if locale and not user.locale:
                user.locale = locale
            services.start_session(user, ip, request.user_agent.string, now)
            login_user(user)
            session.permanent = True
            if user.must_change_password:
                flash(_("Please choose a new password before you continue."), "warning")
                return redirect(url_for("accounts.change_password"))
            return redirect(_safe_next(request.args.get("next")) or url_for("accounts.dashboard"))
    return render_template("accounts/login.html", form=form, error=error), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    services.end_session(current_user.session_key, now_utc())
    locale = current_user.locale
    logout_user()
    session.clear()
    if locale:
        session["locale"] = locale
    flash(_("You have logged out."), "success")
    return redirect(url_for("accounts.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current.data, form.new.data, now_utc())
        except DomainError as exc:
            form.new.errors.append(exc.message)
        else:
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("accounts.dashboard"))
    return render_template("accounts/change_password.html", form=form, forced=current_user.must_change_password)


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def tokens():
    """Personal API tokens: make one (shown once) or revoke one."""
    form = ActionForm()
    new_token = None
    if form.validate_on_submit():
        if "revoke" in request.form:  # a revoke that names no token must not make a new one instead
            services.revoke_api_token(current_user, request.form.get("revoke", type=db_int), now_utc())
            flash(_("The token has been revoked."), "success")
            return redirect(url_for("accounts.tokens"))
        new_token = services.create_api_token(current_user, (request.form.get("name") or "").strip(), now_utc())
    return render_template(
        "accounts/tokens.html", tokens=queries.api_tokens(current_user), new_token=new_token, form=ActionForm()
    )


@bp.route("/language", methods=["POST"])
def set_language():
    form = LanguageForm()
    if not form.validate_on_submit():
        abort(400)
    services.set_locale(current_user, form.locale.data)
    session["locale"] = form.locale.data
    return redirect(_safe_next(form.next.data) or url_for("accounts.dashboard"))


@bp.route("/")
@login_required
def dashboard():
    """The home page: the person's profile and whatever the packages above accounts contribute (accounts.home):
    their exams and, for those who run the district, what needs them today."""
    now = now_utc()
    cadre = current_user.cadre
    return render_template(
        "accounts/dashboard.html",
        cadre=cadre,
        masked={"id_number": personal.mask_id_number(cadre.id_number), "phone": personal.mask_phone(cadre.phone)}
        if cadre
        else {},
        today=local_today(now),
        now=now,
        **home.values(current_user, now),
    )


# ---------------------------------------------------------------- cadres


def _get_cadre(cadre_id: int, action: str) -> Cadre:
    cadre = db.session.get(Cadre, cadre_id) or abort(404)
    policy.require(action, cadre)
    return cadre


def _unit_choices(blank: str | None = None):
    units = services.units_in_scope(current_user)
    choices = [(u.id, "\u3000" * u.depth + u.name) for u in units]
    return options(([(0, blank)] if blank else []) + choices)


@bp.route("/admin/cadres")
@permission_required("cadre.view")
def cadres():
    form = CadreFilterForm(request.args)
    units = services.units_in_scope(current_user)
    form.unit.choices = options(
        [("", _("All units in my scope"))] + [(str(u.id), "\u3000" * u.depth + u.name) for u in units]
    )
    unit = next((u for u in units if str(u.id) == form.unit.data), None)
    stmt = queries.cadres_query(
        current_user,
        today=local_today(),
        q=form.q.data or "",
        unit=unit,
        rank=form.rank.data or "",
        age_band=form.age.data or "",
        include_inactive=form.inactive.data == "1",
    )
    page = db.paginate(stmt, page=page_arg(), per_page=current_app.config["CADRES_PER_PAGE"], error_out=False)
    args = {name: form[name].data for name in ("q", "unit", "rank", "age", "inactive") if form[name].data}
    return render_template(
        "accounts/cadres.html", form=form, page=page, args=args, today=local_today(), action_form=ActionForm()
    )


def _filtered_cadres(args) -> list[Cadre]:
    form = CadreFilterForm(args)
    units = services.units_in_scope(current_user)
    unit = next((u for u in units if str(u.id) == (form.unit.data or "")), None)
    stmt = queries.cadres_query(current_user, today=local_today(), q=form.q.data or "", unit=unit,
                                rank=form.rank.data or "", age_band=form.age.data or "",
                                include_inactive=form.inactive.data == "1")  # fmt: skip
    return list(db.session.scalars(stmt))


@bp.route("/admin/cadres/export", methods=["GET", "POST"])
@permission_required("cadre.view")
def cadres_export():
    """The roster the list shows (its filters) as .xlsx: without ID and phone numbers (GET), or with them when a
    reason is given (POST, its filters in the form). Audited either way."""
    if request.method == "POST":
        if not ActionForm().validate_on_submit():
            abort(400)
        try:
            data = roster.build_roster(current_user, _filtered_cadres(request.form),
                                       personal_reason=request.form.get("reason", ""), now=now_utc())  # fmt: skip
        except DomainError as exc:
            flash(exc.message, "error")
            args = {k: v for k, v in request.form.items() if k in ("q", "unit", "rank", "age", "inactive") and v}
            return redirect(url_for("accounts.cadres", **args))
    else:
        data = roster.build_roster(current_user, _filtered_cadres(request.args), personal_reason=None, now=now_utc())
    return Response(data, mimetype=XLSX,
                    headers={"Content-Disposition": "attachment; filename=cadre-roster.xlsx",
                             "Cache-Control": "no-store"})  # fmt: skip


def _cadre_data(form: CadreForm, unit: Unit) -> services.CadreData:
    return services.CadreData(
        employee_number=form.employee_number.data.strip(),
        name=form.name.data,
        gender=form.gender.data,
        birth_date=form.birth_date.data,
        unit=unit,
        rank=form.rank.data,
        position=form.position.data or "",
        education=form.education.data,
        political_status=form.political_status.data,
        phone=form.phone.data or "",
        status=form.status.data,
    )


@bp.route("/admin/cadres/new", methods=["GET", "POST"])
@permission_required("cadre.manage")
def cadre_new():
    form = CadreForm()
    form.unit_id.choices = _unit_choices()
    if form.validate_on_submit():
        unit = db.session.get(Unit, form.unit_id.data) or abort(400)
        try:
            now = now_utc()
            cadre, password = services.create_cadre(current_user, _cadre_data(form, unit), now)
            if (form.id_number.data or "").strip():
                personal.set_id_number(cadre, form.id_number.data, actor=current_user, now=now)
        except DomainError as exc:
            db.session.rollback()  # neither the account nor its number
            flash(exc.message, "error")
        else:
            return render_template("accounts/initial_password.html", user=cadre.user, password=password, new=True)
    return render_template("accounts/cadre_form.html", form=form, cadre=None)


def _kept_personal(form: CadreForm, cadre: Cadre) -> None:
    """An existing profile's form: its phone and ID numbers are never sent to the page (an empty field keeps
    them); the placeholders show them masked."""
    form.phone.render_kw = {"placeholder": personal.mask_phone(cadre.phone)} if cadre.phone else None
    form.id_number.render_kw = {"placeholder": personal.mask_id_number(cadre.id_number)} if cadre.id_number else None
    for field in (form.phone, form.id_number):
        if field.name not in request.form:  # filled from the profile otherwise: only what was typed goes back
            field.data = ""


def _cadre_page(form: CadreForm, cadre: Cadre, revealed: dict | None = None):
    return render_template(
        "accounts/cadre_form.html",
        form=form,
        cadre=cadre,
        action_form=ActionForm(),
        today=local_today(),
        photo=photos.photo_of(cadre),
        photo_form=PhotoForm(),
        masked={"id_number": personal.mask_id_number(cadre.id_number), "phone": personal.mask_phone(cadre.phone)},
        revealed=revealed,
        may_reveal=personal.may_reveal(current_user, cadre),
    )


@bp.route("/admin/cadres/<int:cadre_id>/edit", methods=["GET", "POST"])
@permission_required("cadre.manage")
def cadre_edit(cadre_id: int):
    cadre = _get_cadre(cadre_id, "cadre.manage")
    form = CadreForm(obj=cadre, employee_number=cadre.employee_number, name=cadre.name)
    form.unit_id.choices = _unit_choices()
    form.employee_number.render_kw = {"readonly": True}
    _kept_personal(form, cadre)
    if request.method == "POST":
        form.employee_number.data = cadre.employee_number
    if form.validate_on_submit():
        unit = db.session.get(Unit, form.unit_id.data) or abort(400)
        data = _cadre_data(form, unit)
        if not data.phone and not form.remove_phone.data:
            data.phone = cadre.phone
        try:
            now = now_utc()
            services.update_cadre(current_user, cadre, data, now)
            if form.remove_id_number.data:
                personal.set_id_number(cadre, None, actor=current_user, now=now)
            elif (form.id_number.data or "").strip():
                personal.set_id_number(cadre, form.id_number.data, actor=current_user, now=now)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            flash(_("The profile of %(name)s has been saved.", name=cadre.name), "success")
            return redirect(url_for("accounts.cadres"))
    return _cadre_page(form, cadre)


@bp.route("/admin/cadres/<int:cadre_id>/personal", methods=["POST"])
@permission_required("cadre.manage")
def cadre_reveal(cadre_id: int):
    """The profile with its ID and phone numbers in full, for its keepers; every such view is audited."""
    cadre = db.session.get(Cadre, cadre_id) or abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    if not personal.may_reveal(current_user, cadre):
        abort(403)
    revealed = personal.reveal(cadre, actor=current_user, now=now_utc())
    form = CadreForm(obj=cadre, employee_number=cadre.employee_number, name=cadre.name, formdata=None)
    form.unit_id.choices = _unit_choices()
    form.employee_number.render_kw = {"readonly": True}
    _kept_personal(form, cadre)
    response = make_response(_cadre_page(form, cadre, revealed))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/admin/cadres/<int:cadre_id>/deactivate", methods=["POST"])
@permission_required("cadre.manage")
def cadre_deactivate(cadre_id: int):
    return _set_active(cadre_id, False)


@bp.route("/admin/cadres/<int:cadre_id>/activate", methods=["POST"])
@permission_required("cadre.manage")
def cadre_activate(cadre_id: int):
    return _set_active(cadre_id, True)


def _set_active(cadre_id: int, active: bool):
    cadre = _get_cadre(cadre_id, "cadre.manage")
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        services.set_cadre_active(current_user, cadre, active, now_utc())
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        if active:
            flash(_("The account of %(name)s is active again.", name=cadre.name), "success")
        else:
            flash(_("The account of %(name)s has been deactivated.", name=cadre.name), "success")
    return redirect(url_for("accounts.cadre_edit", cadre_id=cadre.id))


@bp.route("/admin/users/<int:user_id>/reset-password", methods=["POST"])
@permission_required("account.reset_password")
def reset_password(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    policy.require("account.reset_password", user)
    if not ActionForm().validate_on_submit():
        abort(400)
    password = services.reset_password(current_user, user, now_utc())
    return render_template("accounts/initial_password.html", user=user, password=password, new=False)


# ---------------------------------------------------------------- import


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.route("/admin/cadres/import", methods=["GET", "POST"])
@permission_required("cadre.import")
def cadre_import():
    form = ImportUploadForm()
    result = upload = None
    if form.validate_on_submit():
        data = form.file.data.read()
        result = importing.parse_cadre_workbook(io.BytesIO(data), current_user, local_today())
        if result.ok:  # only a clean file waits for confirmation, in the database: any node may confirm it
            upload = files.store(data, "cadres.xlsx", XLSX, purpose="upload", owner_id=current_user.id)
            db.session.commit()
    return render_template("accounts/import.html", form=form, result=result, upload=upload, commit_form=ActionForm())


@bp.route("/admin/cadres/import/commit", methods=["POST"])
@permission_required("cadre.import")
def cadre_import_commit():
    if not ActionForm().validate_on_submit():
        abort(400)
    # Only the uploader's own file, and of two clicks on the confirmation only one gets it.
    stored = files.claim(request.form.get("upload", ""), current_user.id)
    if stored is None:
        flash(_("No checked file is waiting. Please upload it again."), "error")
        return redirect(url_for("accounts.cadre_import"))
    result = importing.parse_cadre_workbook(io.BytesIO(stored.data), current_user, local_today())
    if not result.ok:  # something changed since the preview (e.g. a number was taken meanwhile)
        files.discard(stored)
        db.session.commit()
        return render_template(
            "accounts/import.html", form=ImportUploadForm(), result=result, upload=None, commit_form=ActionForm()
        )
    if len(result.rows) > current_app.config["IMPORT_INLINE_ROWS"]:
        # Many rows (a password hash each): a job with a progress bar, checking the file again as it writes.
        job = submit(CADRE_IMPORT, {"upload": stored.token}, user=current_user)
        db.session.commit()
        return redirect(url_for("jobs.detail", job_id=job.id))
    credentials = importing.commit_cadre_import(current_user, result, now_utc())
    files.discard(stored)
    db.session.commit()
    return render_template("accounts/import_done.html", credentials=credentials, export_form=ActionForm())


@bp.route("/admin/cadres/import/template")
@permission_required("cadre.import")
def cadre_import_template():
    return Response(
        importing.build_template(current_user),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": "attachment; filename=cadre-import-template.xlsx"},
    )


@bp.route("/admin/cadres/import/credentials", methods=["POST"])
@permission_required("cadre.import")
def cadre_import_credentials():
    """Turn the one-time passwords the browser was just shown back into a workbook. Nothing is looked up:
    the server never keeps initial passwords in clear, so it can only format what the page holds."""
    if not ActionForm().validate_on_submit():
        abort(400)
    fields = [request.form.getlist(k) for k in ("number", "name", "unit", "password")]
    if len({len(f) for f in fields}) != 1 or len(fields[0]) > importing.MAX_ROWS:
        abort(400)
    credentials = [importing.Credential(*row) for row in zip(*fields, strict=True)]
    return Response(
        importing.build_credentials_workbook(credentials),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": "attachment; filename=initial-passwords.xlsx", "Cache-Control": "no-store"},
    )


# ---------------------------------------------------------------- units


@bp.route("/admin/units")
@permission_required("unit.view")
def units():
    return render_template("accounts/units.html", units=services.units_in_scope(current_user))


@bp.route("/admin/units/new", methods=["GET", "POST"])
@bp.route("/admin/units/<int:unit_id>/edit", methods=["GET", "POST"])
@permission_required("unit.manage")
def unit_form(unit_id: int | None = None):
    unit = db.session.get(Unit, unit_id) if unit_id is not None else None
    if unit_id is not None and unit is None:  # /admin/units/0/edit is no unit, not the new-unit form
        abort(404)
    form = UnitForm(obj=unit)
    form.parent_id.choices = options(
        [(0, _("(top level)"))]
        + [(u.id, "\u3000" * u.depth + u.name) for u in services.unit_tree() if unit is None or u.id != unit.id]
    )
    if unit is not None:
        form.code.render_kw = {"readonly": True}
        if request.method == "GET":
            form.parent_id.data = unit.parent_id or 0
    if form.validate_on_submit():
        parent = db.session.get(Unit, form.parent_id.data) if form.parent_id.data else None
        try:
            if unit is None:
                services.add_unit(
                    current_user,
                    form.code.data,
                    form.name.data,
                    form.kind.data,
                    parent,
                    now_utc(),
                    form.sort_order.data or 0,
                )
            else:
                services.update_unit(
                    unit, name=form.name.data, kind=form.kind.data, parent=parent, sort_order=form.sort_order.data or 0
                )
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            flash(_("The unit has been saved."), "success")
            return redirect(url_for("accounts.units"))
    return render_template("accounts/unit_form.html", form=form, unit=unit)


# ---------------------------------------------------------------- accounts and roles


@bp.route("/admin/users")
@permission_required("role.assign")
def users():
    q = (request.args.get("q") or "").strip()
    page = db.paginate(
        queries.users_query(q), page=page_arg(), per_page=current_app.config["CADRES_PER_PAGE"], error_out=False
    )
    return render_template("accounts/users.html", page=page, q=q)


@bp.route("/admin/system-accounts", methods=["GET", "POST"])
@permission_required("system.manage")
def system_accounts():
    """Accounts for other systems (the personnel system) and their scoped tokens for the admin API: create one,
    mint a token (shown once), revoke one. Every step is audited."""
    create_form = SystemAccountForm(prefix="account")
    create_form.unit_id.choices = _unit_choices(blank=_("The whole district"))
    token_form = SystemTokenForm(prefix="token")
    revoke_form = ActionForm()
    new_token, now = None, now_utc()
    try:
        if create_form.create.data and create_form.validate_on_submit():
            unit = db.session.get(Unit, create_form.unit_id.data) if create_form.unit_id.data else None
            system.create_account(current_user, create_form.username.data, create_form.name.data,
                                  [unit] if unit else [], now)  # fmt: skip
            flash(_("The system account has been created. Make it a token below."), "success")
            return redirect(url_for("accounts.system_accounts"))
        if token_form.mint.data and token_form.validate_on_submit():
            account_id = request.form.get("account", type=db_int)
            account = db.session.get(User, account_id) if account_id else None
            if account is None or not account.system:
                abort(404)
            new_token = system.mint_token(current_user, account, token_form.name.data, token_form.scopes.data, now)
            token_form = SystemTokenForm(prefix="token", formdata=None)
        elif ("deactivate" in request.form or "activate" in request.form) and revoke_form.validate_on_submit():
            account_id = request.form.get("deactivate" if "deactivate" in request.form else "activate", type=db_int)
            account = db.session.get(User, account_id) if account_id else None
            if account is None or not account.system:
                abort(404)
            system.set_active(current_user, account, "activate" in request.form, now)
            flash(_("The system account has been enabled.") if account.active
                  else _("The system account has been disabled: its tokens no longer work."), "success")  # fmt: skip
            return redirect(url_for("accounts.system_accounts"))
        elif "revoke" in request.form and revoke_form.validate_on_submit():
            system.revoke_token(current_user, request.form.get("revoke", type=db_int), now)
            flash(_("The token has been revoked."), "success")
            return redirect(url_for("accounts.system_accounts"))
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    accounts = [(account, system.tokens_of(account)) for account in system.accounts()]
    response = make_response(render_template(
        "accounts/system_accounts.html", accounts=accounts, create_form=create_form, token_form=token_form,
        revoke_form=revoke_form, new_token=new_token, scope_labels=policy.API_SCOPES,
    ))  # fmt: skip
    if new_token:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@permission_required("role.assign")
def user_roles(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    form = RoleForm()
    grantable = [r for r in Role if policy.can_grant_role(current_user, r, user.role_names)]
    form.role.choices = options((r.value, ROLE_LABELS[r]) for r in grantable)
    form.unit_id.choices = _unit_choices(blank=_("(none)"))
    if form.validate_on_submit():
        unit = db.session.get(Unit, form.unit_id.data) if form.unit_id.data else None
        try:
            services.grant_role(current_user, user, Role(form.role.data), unit)
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            flash(_("The role has been granted."), "success")
            return redirect(url_for("accounts.user_roles", user_id=user.id))
    return render_template(
        "accounts/user_roles.html", user=user, form=form, action_form=ActionForm(), can_change=bool(grantable)
    )


@bp.route("/admin/roles/<int:assignment_id>/revoke", methods=["POST"])
@permission_required("role.assign")
def revoke_role(assignment_id: int):
    assignment = db.session.get(RoleAssignment, assignment_id) or abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    user_id = assignment.user_id
    services.revoke_role(current_user, assignment)
    flash(_("The role has been removed."), "success")
    return redirect(url_for("accounts.user_roles", user_id=user_id))


_AUDIT_FILTERS = ("actor", "action", "target", "ip", "since", "until")  # what the pager carries on, nothing else


@bp.route("/admin/audit")
@permission_required("audit.view")
def audit_log():
    """The audit log, searched; read only (the log is append-only, see core.audit)."""
    form = AuditFilterForm(request.args)
    actions = audit.known_actions()
    prefixes = sorted({a.split(".")[0] for a in actions if "." in a})
    choices = [
        ("", _("All actions")),
        *((p, audit_labels.prefix_label(p)) for p in prefixes),
        *((a, audit_labels.action_label(a)) for a in actions),
    ]
    form.action.choices = options(choices)
    form.validate()  # a malformed date is shown as an error and left out of the search
    filters = audit.AuditFilter(
        actor=(form.actor.data or "").strip(),
        action=(form.action.data or "").strip(),
        target=(form.target.data or "").strip(),
        ip=(form.ip.data or "").strip(),
        since=form.since.data if not form.since.errors else None,
        until=form.until.data if not form.until.errors else None,
    )
    page = RowPage(queries.audit_events(filters), page_arg(), current_app.config["AUDIT_PER_PAGE"])
    args = {name: request.args[name] for name in _AUDIT_FILTERS if request.args.get(name)}
    targets = audit_labels.describe_targets(event.target for event, _actor in page.items)
    return render_template(
        "accounts/audit.html",
        form=form,
        page=page,
        args=args,
        targets=targets,
        action_label=audit_labels.action_label,
        detail_label=audit_labels.detail_label,
        detail_value_words=audit_labels.detail_value_words,
        chain_problems=audit_labels.CHAIN_PROBLEMS,
        chain=audit_chain.state(db.session),
        detail_hidden=policy.audit_detail_hidden,
    )
