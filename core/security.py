"""HTTP security headers sent with every response, CSRF checks for every state change, and input no database
can store."""

from flask import abort, request
from flask.json.provider import DefaultJSONProvider
from flask_login import current_user

from core.extensions import csrf


def bearer_token() -> str | None:
    """The API token of a request sent with `Authorization: Bearer …`, if any."""
    header = request.headers.get("Authorization", "")
    return header[7:].strip() or None if header.startswith("Bearer ") else None


def register_csrf(app) -> None:
    """CSRF on every state-changing request that relies on the session cookie (forms, and JSON via the
    X-CSRFToken header). A request authenticated by an API token carries no ambient credential to forge, so
    it needs none; such requests never fall back to the session (see accounts.views)."""
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False

    @app.before_request
    def _check_csrf():
        if request.method in ("GET", "HEAD", "OPTIONS", "TRACE") or bearer_token() is not None:
            return
        if request.path.startswith("/api/") and not current_user.is_authenticated:
            return  # no session to ride on: nothing to forge, and the API's views answer 401, not a CSRF 400
        csrf.protect()


def _holds_nul(value) -> bool:
    """Does a string, or any string in a JSON value, hold a NUL? (Without recursion: a body may nest deeply.)"""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


#: Endpoints that take a larger body than MAX_CONTENT_LENGTH: endpoint -> (the config key of their limit in MB,
#: the action whose holders may send it).
LARGER_BODIES: dict[str, tuple[str, str]] = {}


def allow_larger_body(endpoint: str, config_key: str, action: str) -> None:
    """Let one endpoint (a batch upload) take up to `config[config_key]` MB, in as many form parts as it needs, from
    those who may do `action` (anyone else is held to the usual limit, before the body is read)."""
    LARGER_BODIES[endpoint] = (config_key, action)


def register_body_limits(app) -> None:
    """Set a larger endpoint's limit before anything reads the body (the CSRF check reads the form)."""

    @app.before_request
    def _larger_body():
        from core.policy import can

        rule = LARGER_BODIES.get(request.endpoint or "")
        if rule and can(current_user, rule[1]):
            request.max_content_length = int(app.config[rule[0]]) * 1024 * 1024
            request.max_form_parts = 100_000


def register_input_checks(app) -> None:
    """A NUL character in the path, a header, the query, a form field or a JSON body is refused with a 400 before
    any view runs: PostgreSQL cannot store or even compare it (psycopg raises, which would be a 500), and no
    legitimate input holds one. Uploaded files are not looked at (a workbook is binary)."""

    @app.before_request
    def _refuse_nul():
        if (
            "\x00" in request.path
            or any(_holds_nul(v) for _k, v in request.headers.items())  # the user agent is stored at login
            or any(_holds_nul(k) or _holds_nul(v) for k, v in request.args.items(multi=True))
        ):
            abort(400)
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return
        if any(_holds_nul(k) or _holds_nul(v) for k, v in request.form.items(multi=True)):
            abort(400)
        if request.is_json and _holds_nul(request.get_json(silent=True)):
            abort(400)


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


class StrictJSONProvider(DefaultJSONProvider):
    """Request bodies read as RFC 8259 has JSON: NaN and Infinity are none (PostgreSQL's json type refuses them),
    and a body nested deeper than the parser can recurse is malformed, not a RecursionError's 500. Either is read
    as bad JSON: None for get_json(silent=True), a 400 otherwise."""

    def loads(self, s, **kwargs):
        kwargs.setdefault("parse_constant", _no_constant)
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc


_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def register_security_headers(app) -> None:
    @app.after_request
    def _security_headers(response):
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if app.config.get("SESSION_COOKIE_SECURE"):  # served over HTTPS: browsers should never use plain HTTP
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store")  # pages carry personal data
        return response
