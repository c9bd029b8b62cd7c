"""CSRF on every state change, the security headers on every kind of response, no inline script anywhere, and the
session cookie's flags."""

import re
from pathlib import Path

from sqlalchemy import func, select

from core.audit import AuditEvent
from tests.factories import make_open_exam

ROOT = Path(__file__).resolve().parents[2]
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def _state_changing_rules(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & STATE_CHANGING):
            values = {name: min(getattr(c, "items", None) or ["1"]) for name, c in rule._converters.items()}
            yield rule, method, rule.build(values, append_unknown=False)[1]


def test_every_state_change_without_a_csrf_token_is_refused(client, auth, db, app):
    """Generated from the URL map: a new form or JSON endpoint is covered as soon as it exists. A system admin
    (who may do nearly everything) sends each without the token, as a forged cross-site request would."""
    auth.login_as("system_admin")
    events = db.session.scalar(select(func.count(AuditEvent.id)))
    wrong, checked = [], 0
    for _rule, method, path in _state_changing_rules(app):
        for kwargs in ({"data": {"x": "1"}}, {"json": {"x": 1}}):
            response = client.open(path, method=method, headers={"Accept": "application/json"}, **kwargs)
            checked += 1
            body = response.get_json(silent=True) or {}
            if response.status_code != 400 or body.get("error", {}).get("code") != "csrf":
                wrong.append((method, path, response.status_code))
    assert wrong == [] and checked > 100
    assert db.session.scalar(select(func.count(AuditEvent.id))) == events  # nothing was done


def test_a_token_from_another_session_is_refused(client, auth, db, app):
    auth.login_as("org_admin")
    other = app.test_client()
    foreign = other.csrf_token()  # a valid token, of the attacker's own session
    response = client.post("/admin/units/new", data={"csrf_token": foreign, "name": "伪造单位"})
    assert response.status_code == 400


def _csp(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.partition(" ")[2] for part in policy.split("; ")}


def test_every_kind_of_response_carries_the_security_headers(client, auth, db):
    exam, user = make_open_exam(code="HDR1", qtypes=("single",))
    db.session.commit()
    auth.login(user.username)
    attempt = client.post("/api/v1/exams/HDR1/attempts", json={}, headers={"X-CSRFToken": client.csrf_token()})
    responses = {
        "page": client.get("/"),
        "exam page": client.get(f"/my/attempts/{attempt.get_json()['id']}"),
        "json": client.get("/api/v1/exams"),
        "not found": client.get("/no/such/page"),
        "static": client.get("/static/js/exam.js"),
    }
    for kind, response in responses.items():
        csp = _csp(response)
        assert csp["default-src"] == "'self'", kind
        assert "script-src" not in csp and "unsafe" not in response.headers["Content-Security-Policy"], kind
        assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'", kind
        assert csp["base-uri"] == "'self'" and csp["form-action"] == "'self'", kind
        assert response.headers["X-Content-Type-Options"] == "nosniff", kind
        assert response.headers["X-Frame-Options"] == "DENY", kind
        assert response.headers["Referrer-Policy"] == "same-origin", kind
        response.close()
    assert responses["page"].headers["Cache-Control"] == "no-store"  # personal data is never cached


#: An executable inline script (a <script> with no src that is not a data block), an event-handler attribute, or a
#: javascript: URL: each would need 'unsafe-inline' in the CSP, which the app never sends.
_EVENTS = (
    "abort|blur|change|click|dblclick|error|focus|focusin|focusout|input|invalid|keydown|keypress|keyup|load|"
    "mouse[a-z]+|pointer[a-z]+|touch[a-z]+|drag[a-z]*|drop|paste|copy|cut|contextmenu|wheel|reset|resize|scroll|"
    "select|submit|unload|beforeunload|pageshow|pagehide|toggle|animation[a-z]+|transition[a-z]+|message|storage"
)
_INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>|\son(?:" + _EVENTS + r")\s*=|javascript:",
    re.IGNORECASE,
)


def test_no_template_holds_inline_script():
    offenders = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if _INLINE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:80]}")
    assert offenders == []
    assert _INLINE.search('<button onclick="go()">') and _INLINE.search("<script>alert(1)</script>")
    assert not _INLINE.search('<script type="application/json" id="exam-state">{}</script>')


def test_the_rendered_exam_page_runs_no_inline_script(client, auth, db):
    exam, user = make_open_exam(code="HDR2", qtypes=("single", "essay"))
    db.session.commit()
    auth.login(user.username)
    attempt = client.post("/api/v1/exams/HDR2/attempts", json={}, headers={"X-CSRFToken": client.csrf_token()})
    html = client.get(f"/my/attempts/{attempt.get_json()['id']}").get_data(as_text=True)
    assert "<script" in html and not _INLINE.search(html)
    state = re.search(r'<script type="application/json" id="exam-state">(.*?)</script>', html, re.S).group(1)
    assert "</" not in state  # the JSON data block cannot close its own tag (tojson escapes < > &)


def test_the_session_cookie_is_httponly_lax_and_secure_behind_tls(client, db, app):
    from tests.factories import PASSWORD, make_user

    make_user(username="C9001")
    db.session.commit()
    app.config["SESSION_COOKIE_SECURE"] = True  # what production runs with (QE_COOKIE_SECURE, on by default)
    response = client.post_form("/login", {"username": "C9001", "password": PASSWORD}, base_url="https://localhost")
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("qe_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
