"""HTTP security headers sent with every response, and CSRF checks for every state change."""

from flask import request

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
        csrf.protect()


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
