"""DomainError and the app's error pages: JSON for API and JSON-asking requests, HTML for the rest."""

import logging

from flask import current_app, g, jsonify, render_template, request, session
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from core.crypto import UnreadableValue
from core.guards import is_refusal

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A rule of the domain refused an operation; `message` is shown to the user as it is (already translated).
    `problems` may name the fields at fault, as (field, message) pairs, for a form to show next to each."""

    def __init__(self, message, *, code: str = "domain_error", status: int = 400, problems=()):
        super().__init__(str(message))
        self.message = message
        self.code = code
        self.status = status
        self.problems = list(problems)


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _render(status: int, title: str, message: str, code: str):
    if wants_json():
        return jsonify(error={"code": code, "message": message}), status
    return render_template("errors/error.html", status=status, title=title, message=message), status


def _http_error(exc: HTTPException):
    titles = {
        400: (_("Bad request"), _("The request could not be understood.")),
        401: (_("Please log in"), _("You need to log in to see this page.")),
        403: (_("Access denied"), _("You do not have permission to see this page.")),
        404: (_("Page not found"), _("The page you asked for does not exist.")),
        405: (_("Method not allowed"), _("This action is not allowed here.")),
        413: (_("File too large"), _("The uploaded file is too large.")),
        429: (_("Too many requests"), _("Too many requests. Please wait a moment and try again.")),
    }
    title, message = titles.get(exc.code, (exc.name, exc.description or ""))
    response = current_app.make_response(_render(exc.code or 500, title, message, code=str(exc.code)))
    for name, value in exc.get_headers():  # what the status needs, e.g. a 405's Allow (RFC 9110), not its body's type
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _csrf_error(exc: CSRFError):
    log.warning("CSRF rejected: %s %s (%s)", request.method, request.path, exc.description)
    return _render(
        400,
        _("Security check failed"),
        _("The form has expired or did not come from this site. Please reload the page and try again."),
        code="csrf",
    )


def _domain_error(exc: DomainError):
    return _render(exc.status, _("Not possible"), str(exc.message), code=exc.code)


def _unreadable(exc: UnreadableValue):
    log.exception("Data no configured key decrypts, on %s %s", request.method, request.path)
    from core.extensions import db

    db.session.rollback()
    message = _("Some of the data this page needs cannot be decrypted with the keys this server has. An "
                "administrator must restore the missing key (QE_DATA_KEYS); nothing was changed.")  # fmt: skip
    return _render(500, _("Data cannot be read"), message, code="unreadable")


def _server_error(exc: Exception):
    log.exception("Unhandled error on %s %s", request.method, request.path)
    from core.extensions import db

    db.session.rollback()
    return _render(500, _("Server error"), _("Something went wrong on our side. Please try again."), code="500")


#: PostgreSQL's SQLSTATEs that mean "not now": the connection's class (08), too many connections, the server
#: shutting down or starting, a statement cancelled by its timeout, a lock not had in time, and the transaction
#: conflicts (serialization failure, deadlock) that are meant to be retried.
_RETRYABLE_SQLSTATES = {"53300", "57P01", "57P02", "57P03", "57014", "55P03", "40001", "40P01"}
#: SQLite's messages of the same kind: another writer holds the file, or the disk failed.
_RETRYABLE_SQLITE = ("database is locked", "database table is locked", "busy", "disk i/o error", "unable to open")


def is_database_unavailable(exc: BaseException) -> bool:
    """Does `exc` mean the database cannot be reached or cannot answer now (down, restarting, failing over, its
    connections used up, locked), so that the request may well succeed if sent again in a few seconds? A bug's
    error (no such table, bad SQL, a broken constraint) does not: it stays a 500."""
    if isinstance(exc, sa_exc.TimeoutError) or getattr(exc, "connection_invalidated", False):
        return True
    if is_refusal(exc):  # a guard trigger refused a change (core.guards): a bug, never worth sending again
        return False
    if not isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return False
    orig = getattr(exc, "orig", None)
    if hasattr(orig, "sqlstate"):  # psycopg: a lost or refused connection has no SQLSTATE at all
        state = orig.sqlstate
        return state is None or state.startswith("08") or state in _RETRYABLE_SQLSTATES
    message = str(orig or exc).lower()
    return any(part in message for part in _RETRYABLE_SQLITE)


def database_unavailable(exc: Exception):
    """503 with Retry-After: the database is down or busy. Nothing of the request was written (its transaction
    is rolled back), and the exam page keeps the answer queued and sends it again. The page is rendered without
    the layout, which would ask the database who is logged in."""
    log.error("Database unavailable on %s %s: %s", request.method, request.path, exc.__class__.__name__)
    g.database_down = True
    from core.extensions import db, login_manager

    if "_login_user" not in g:  # not read yet (or reading it failed): the page must not try again
        g._login_user = login_manager.anonymous_user()

    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 (the connection is gone: the pool replaces it)
        db.session.invalidate()
    session.pop("_flashes", None)  # a view's "done" message, of something that was not committed
    title = _("Briefly unavailable")
    message = _("The system cannot reach its database just now. Nothing was lost; please try again in a moment.")
    retry_after = str(current_app.config["DB_RETRY_AFTER_SECONDS"])
    if wants_json():
        response = jsonify(error={"code": "unavailable", "message": message, "retry_after": int(retry_after)})
    else:
        again = request.full_path if request.method == "GET" else request.referrer  # a form: back to it, not GET
        page = render_template("errors/unavailable.html", title=title, message=message, again=again)
        response = current_app.make_response(page)
    response.status_code = 503
    response.headers["Retry-After"] = retry_after
    return response


def _database_error(exc: Exception):
    if is_database_unavailable(exc):
        return database_unavailable(exc)
    return _server_error(exc)


def register_error_handlers(app) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(UnreadableValue, _unreadable)
    app.register_error_handler(sa_exc.DBAPIError, _database_error)
    app.register_error_handler(sa_exc.TimeoutError, _database_error)
    app.register_error_handler(Exception, _server_error)
