"""Attacks on login and sessions: a planted session cookie, forged and replayed cookies, cookies without their
flags, guessing passwords around the throttle, weak passwords wherever one is chosen, and stolen API tokens."""

import hashlib
import re
from functools import cache

import pytest
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from accounts.models import ApiToken, LoginSession, User
from accounts.services import COMMON_PASSWORDS, generate_initial_password, password_problems
from tests.factories import PASSWORD, make_cadre, make_user


@cache
def _cheap_hash() -> str:
    """PASSWORD hashed the way TestConfig hashes (the factories' scrypt hash costs 0.2 s a check: these tests
    check dozens)."""
    return generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


def _user(username):
    user = make_user(username=username)
    user.password_hash = _cheap_hash()
    return user


def _session_cookie(client) -> str | None:
    cookie = client.get_cookie("qe_session")
    return cookie.value if cookie else None


def _csrf_of(client) -> str:
    html = client.get("/", follow_redirects=True).get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


# ---------------------------------------------------------------- session fixation and replay


def test_a_planted_session_cookie_is_worth_nothing_after_the_victim_logs_in(app, db):
    """The attacker opens the login page, plants their (anonymous) session cookie and its CSRF token in the
    victim's browser, and waits for the victim to log in."""
    make_user(username="V1001")
    db.session.commit()
    attacker, victim = app.test_client(), app.test_client()
    attacker.get("/login")
    planted, planted_csrf = _session_cookie(attacker), attacker.csrf_token()
    victim.set_cookie("qe_session", planted)
    assert victim.post("/login", data={"csrf_token": planted_csrf, "username": "V1001", "password": PASSWORD}
                       ).status_code == 302  # fmt: skip
    assert _session_cookie(victim) != planted  # the session was replaced at login
    assert attacker.get("/").status_code == 302  # the planted cookie is still nobody's
    # The token the attacker knows no longer passes for the victim's: a forged form in the victim's name fails.
    forged = victim.post("/account/tokens", data={"csrf_token": planted_csrf, "name": "attacker"})
    assert forged.status_code == 400
    assert db.session.scalar(select(func.count(ApiToken.id))) == 0


def test_a_replayed_cookie_dies_with_its_login_session(app, db, auth, client):
    """Cookies copied while logged in stop working once that login ends, whichever way it ends: logging out
    (tests/accounts covers it), a password reset by an admin, or a new password set elsewhere."""
    from accounts import services
    from core.models import now_utc

    cadre = make_cadre()
    admin = make_user(roles=("org_admin",))
    db.session.commit()
    auth.login(cadre.employee_number)
    stolen = _session_cookie(client)
    thief = app.test_client()
    thief.set_cookie("qe_session", stolen)
    assert thief.get("/").status_code == 200
    services.reset_password(admin, db.session.get(User, cadre.user_id), now_utc())
    db.session.commit()
    assert thief.get("/").status_code == 302 and client.get("/").status_code == 302


def test_a_cookie_naming_a_user_or_a_stored_key_lets_nobody_in(app, db, client, auth):
    """Someone who can sign cookies (a leaked SECRET_KEY) and read the database (a leaked backup) still cannot
    log in: the session holds a random key, stored only as its SHA-256, never the user's id."""
    user = make_user(username="V1003", roles=("system_admin",))
    db.session.commit()
    auth.login("V1003")
    stored = db.session.scalar(select(LoginSession.key).where(LoginSession.user_id == user.id))
    for forged in (str(user.id), stored, "V1003", hashlib.sha256(stored.encode()).hexdigest()):
        other = app.test_client()
        with other.session_transaction() as sess:
            sess["_user_id"] = forged
            sess["_fresh"] = True
        assert other.get("/").status_code == 302, forged
    assert client.get("/").status_code == 200  # the real session is fine


def test_a_tampered_cookie_is_ignored(app, db, client, auth):
    make_user(username="V1004")
    db.session.commit()
    auth.login("V1004")
    value = _session_cookie(client)
    payload, _sep, signature = value.rpartition(".")
    other = app.test_client()
    other.set_cookie("qe_session", payload + "." + signature[::-1])
    assert other.get("/").status_code == 302


def test_every_cookie_the_app_sets_is_httponly_and_lax(app, db, client, auth):
    """Not only the login response's (tests/security/test_headers_and_csrf): the anonymous one, after a failed
    login, a language change and logout; and no other cookie (a remember-me token) is ever set."""
    make_user(username="V1005")
    db.session.commit()
    responses = [client.get("/login"), auth.login("V1005", "wrong-password"), auth.login("V1005"),
                 client.post_form("/language", {"locale": "en", "next": "/"}), auth.logout()]  # fmt: skip
    cookies = [h for r in responses for h in r.headers.getlist("Set-Cookie")]
    assert cookies
    for cookie in cookies:
        assert cookie.startswith("qe_session="), cookie
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie, cookie


# ---------------------------------------------------------------- throttling


def _login(client, username, password, ip, **headers):
    return client.post_form("/login", {"username": username, "password": password},
                            environ_base={"REMOTE_ADDR": ip}, headers=headers)  # fmt: skip


def test_guessing_across_many_usernames_from_one_address_is_throttled(app, db):
    """One password tried against every account (password spraying): the address is locked after 20 failures,
    even for an account that never failed and its right password; another address is not."""
    limit = app.config["LOGIN_MAX_FAILURES_PER_IP"]
    users = [_user(f"S{i:04d}") for i in range(limit + 1)]
    db.session.commit()
    client = app.test_client()
    for user in users[:limit]:
        assert _login(client, user.username, "Spring2026", "203.0.113.7").status_code == 200
    response = _login(client, users[-1].username, PASSWORD, "203.0.113.7")
    assert response.status_code == 429 and client.get("/").status_code == 302
    # A forged X-Forwarded-For does not make a new address: no proxy is trusted unless QE_TRUSTED_PROXIES says so.
    response = _login(client, users[-1].username, PASSWORD, "203.0.113.7", **{"X-Forwarded-For": "198.51.100.9"})
    assert response.status_code == 429
    assert _login(app.test_client(), users[-1].username, PASSWORD, "198.51.100.2").status_code == 302


def test_the_account_lock_cannot_be_dodged(app, db):
    """Five wrong guesses at one account lock it: changing the username's letter case or padding it, or moving to
    another address does not help."""
    _user("T1001")
    db.session.commit()
    client = app.test_client()
    for i, name in enumerate(["T1001", "t1001", " T1001", "T1001 ", "t1001"]):
        assert _login(client, name, f"guess{i}x1", "203.0.113.8").status_code == 200
    for name, ip, headers in [
        ("T1001", "203.0.113.8", {}),
        ("t1001 ", "203.0.113.8", {}),
        ("T1001", "192.0.2.44", {}),  # a new address: the account itself is locked
    ]:
        response = _login(client, name, PASSWORD, ip, **headers)
        assert response.status_code == 429, (name, ip, headers)
    assert client.get("/").status_code == 302


# ---------------------------------------------------------------- the password policy

WEAK = {
    "too short": "Ab1",
    "all digits": "1234567890",
    "all letters": "abcdefghij",
    "the username": "zhang2026",
    "the username, other case": "ZHANG2026",
    "common": "password1",
    "common, other case": "Passw0rd",
    "common (Chinese sites)": "woaini1314",
}


def test_the_policy_names_each_weakness():
    for why, password in WEAK.items():
        assert password_problems(password, "zhang2026"), why
    assert password_problems("Tz7-qualexam", "zhang2026") == []
    assert all(not password_problems(generate_initial_password(), "zhang2026") for _ in range(200))
    assert all(re.search(r"[a-z]", p) and re.search(r"\d", p) and len(p) >= 8 for p in COMMON_PASSWORDS)


@pytest.mark.parametrize("why", sorted(WEAK))
def test_a_weak_password_is_refused_when_changing_it(client, db, why):
    """In English, so the test holds whatever the catalogue says: the page names what is wrong."""
    user = _user("zhang2026")
    db.session.commit()
    client.post_form("/login", {"username": "zhang2026", "password": PASSWORD})
    client.post_form("/language", {"locale": "en", "next": "/"})
    weak = WEAK[why]
    response = client.post_form("/account/password", {"current": PASSWORD, "new": weak, "confirm": weak})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "has-error" in html, why
    assert re.search(r"at least \d+ characters|letters and digits|same as the username|too common", html), why
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password(PASSWORD), why


def test_a_weak_password_is_refused_for_the_first_admin(runner, db):
    for why, weak in WEAK.items():
        result = runner.invoke(args=["accounts", "create-admin", "zhang2026", "--password-stdin"], input=weak + "\n")
        assert result.exit_code != 0, why
    assert db.session.scalar(select(func.count(User.id))) == 0
    result = runner.invoke(args=["accounts", "create-admin", "zhang2026", "--password-stdin"], input="Tz7-qe-root\n")
    assert result.exit_code == 0, result.output


# ---------------------------------------------------------------- API tokens


def test_a_token_is_shown_once_stored_hashed_and_dies_when_revoked(client, auth, db, app):
    user = auth.login_as("cadre")
    made = client.post_form("/account/tokens", {"name": "脚本"}).get_data(as_text=True)
    token = re.search(r"<code>(qe_[^<]+)</code>", made).group(1)
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/exams", headers=bearer).status_code == 200
    # Never again on a page: the token list, the dashboard, and the audit log an admin reads.
    for url in ("/account/tokens", "/"):
        assert token not in client.get(url).get_data(as_text=True), url
    admin = app.test_client()
    admin_user = make_user(roles=("system_admin",))
    db.session.commit()
    admin.post_form("/login", {"username": admin_user.username, "password": PASSWORD})
    assert token not in admin.get("/admin/audit").get_data(as_text=True)
    # Stored as its SHA-256 only: no column of the row holds it.
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr({c.name: getattr(row, c.name) for c in ApiToken.__table__.columns})
    # Someone else cannot revoke it (nor learn it exists), the owner can, and it stops at once.
    stranger = app.test_client()
    other = make_user()
    db.session.commit()
    stranger.post_form("/login", {"username": other.username, "password": PASSWORD})
    assert stranger.post_form("/account/tokens", {"revoke": row.id}).status_code == 404
    assert client.get("/api/v1/exams", headers=bearer).status_code == 200
    client.post_form("/account/tokens", {"revoke": row.id})
    assert client.get("/api/v1/exams", headers=bearer).status_code == 401
    assert client.get("/api/v1/exams", headers={"Authorization": f"Bearer {row.token_hash}"}).status_code == 401


def _make_token(client) -> dict:
    made = client.post_form("/account/tokens", {"name": "脚本"}).get_data(as_text=True)
    return {"Authorization": "Bearer " + re.search(r"<code>(qe_[^<]+)</code>", made).group(1)}


def _revocations(db, user):
    from core.audit import AuditEvent

    query = select(AuditEvent).where(AuditEvent.action == "token.revoked", AuditEvent.target == f"user:{user.id}")
    return list(db.session.scalars(query.order_by(AuditEvent.id)))


def test_changing_ones_password_revokes_every_token(client, auth, db):
    """A token is as good as the password: whoever changes a (perhaps stolen) password ends the tokens made
    under it. The owner is a cadre who is also a grader: the roles combine."""
    user = auth.login_as("cadre", roles=("cadre", "grader"))
    bearers = [_make_token(client), _make_token(client)]
    for bearer in bearers:
        assert client.get("/api/v1/exams", headers=bearer).status_code == 200
    new = "Quartz-84-meadow"
    response = client.post_form("/account/password", {"current": PASSWORD, "new": new, "confirm": new})
    assert response.status_code == 302
    for bearer in bearers:
        assert client.get("/api/v1/exams", headers=bearer).status_code == 401
    events = _revocations(db, user)
    assert len(events) == 2 and all(e.actor_id == user.id and e.detail["reason"] == "password.changed" for e in events)
    assert {e.detail["name"] for e in events} == {"脚本"}
    # A token made after the change works.
    assert client.get("/api/v1/exams", headers=_make_token(client)).status_code == 200


def test_an_admin_reset_revokes_every_token_for_good(client, auth, db, app):
    """Before: the reset only forced a password change, and the old token worked again once the owner set one."""
    owner = auth.login_as("cadre")
    bearer = _make_token(client)
    assert client.get("/api/v1/exams", headers=bearer).status_code == 200
    admin_client = app.test_client()
    admin = make_user(roles=("org_admin", "cadre"))  # an admin who is also a cadre
    make_cadre(user=admin)
    db.session.commit()
    admin_client.post_form("/login", {"username": admin.username, "password": PASSWORD})
    html = admin_client.post_form(f"/admin/users/{owner.id}/reset-password").get_data(as_text=True)
    one_time = re.search(r'<p class="secret"[^>]*><code>([^<]+)</code>', html).group(1)
    assert client.get("/api/v1/exams", headers=bearer).status_code == 401
    (event,) = _revocations(db, owner)
    assert event.actor_id == admin.id and event.detail["reason"] == "password.reset"
    # The owner logs in with the one-time password and sets a new one: the old token stays dead.
    fresh = app.test_client()
    assert fresh.post_form("/login", {"username": owner.username, "password": one_time}).status_code == 302
    new = "Quartz-84-meadow"
    response = fresh.post_form("/account/password", {"current": one_time, "new": new, "confirm": new})
    assert response.status_code == 302
    assert client.get("/api/v1/exams", headers=bearer).status_code == 401


# ---------------------------------------------------------------- password strength (zxcvbn)

#: The review's examples for 张三 (username Z1001, born 1990-01-01), and passwords made of his own data.
GUESSABLE = {
    "a repeat with a digit": "aaaaaaa1",
    "digits and a letter": "11111111a",
    "name in pinyin and birth year": "zhangsan1990",
    "the username twice": "Z1001Z1001",
    "the username and a word": "z1001abc",
    "initials and birth date": "zs19900101x",
    "birth date, short form": "zs900101ab",
    "a keyboard row": "qwertyuiop1",
    "a sequence": "abcdefgh12345",
}
STRONG = ["Tz7-qualexam", "demo2026qe", "Kestrel-42-bloom", "Lantern-58-test", "k9 river moth lamp 7"]


def _zhangsan(username="Z1001"):
    from datetime import date

    user = make_user(username=username, name="张三")
    user.password_hash = _cheap_hash()
    make_cadre(user=user, birth_date=date(1990, 1, 1))
    return user


def test_guessable_passwords_are_refused_with_the_reason_in_chinese(app, db):
    from accounts.services import personal_words

    user = _zhangsan()
    words = personal_words(user)
    assert {"zhangsan", "zs", "1990", "19900101", "900101", "z1001"} <= set(words)
    for why, password in GUESSABLE.items():
        problems = password_problems(password, user.username, words)
        assert problems, why
        assert re.search(r"[\u4e00-\u9fff]", problems[0]) and "容易被猜中" in problems[0], (why, problems)
    assert "本人" in password_problems("zhangsan1990", user.username, words)[0]
    for password in STRONG:
        assert password_problems(password, user.username, words) == [], password
    # A password longer than zxcvbn judges is judged by its first part, not refused with an error.
    assert password_problems("Tz7-qualexam" * 10, user.username, words) == []
    assert password_problems("a1" * 50, user.username, words)


def test_the_page_refuses_a_password_made_of_ones_own_name_and_birth_date(client, db):
    """The first-login change goes through the same page: a cadre who is also a grader."""
    user = _zhangsan()
    user.roles.append(__import__("accounts.models").models.RoleAssignment(role="grader"))
    user.must_change_password = True
    db.session.commit()
    client.post_form("/login", {"username": "Z1001", "password": PASSWORD})
    for weak in ("zhangsan1990", "aaaaaaa1", "11111111a", "Z1001Z1001"):
        response = client.post_form("/account/password", {"current": PASSWORD, "new": weak, "confirm": weak})
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and "容易被猜中" in html, weak
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password(PASSWORD)
    response = client.post_form("/account/password", {"current": PASSWORD, "new": STRONG[0], "confirm": STRONG[0]})
    assert response.status_code == 302


def test_the_first_admin_gets_no_guessable_password(runner, db):
    for weak in ("zhangsan1990", "aaaaaaa1", "11111111a", "zhangsan2026"):
        args = ["accounts", "create-admin", "zhangsan", "--name", "张三", "--password-stdin"]
        result = runner.invoke(args=args, input=weak + "\n")
        assert result.exit_code != 0 and "容易被猜中" in result.output, (weak, result.output)
    assert db.session.scalar(select(func.count(User.id))) == 0
    result = runner.invoke(args=["accounts", "create-admin", "zhangsan", "--password-stdin"], input="Tz7-qualexam\n")
    assert result.exit_code == 0, result.output


def test_the_demo_and_test_passwords_pass_the_policy(app):
    from demo.district import DEMO_PASSWORD

    assert password_problems(DEMO_PASSWORD, "zzb001") == []
    assert password_problems(PASSWORD, "u00001") == []


def test_a_one_time_password_that_scores_low_is_drawn_again(monkeypatch):
    """About one random draw in 20,000 repeats itself enough for zxcvbn to score it under the bar."""
    import accounts.services as services

    letters = iter("Vvrn4zY4zY" + "Tq7Hkm9WpR")
    monkeypatch.setattr(services.secrets, "choice", lambda _alphabet: next(letters))
    assert password_problems("Vvrn4zY4zY", "zhang2026")
    assert generate_initial_password(10) == "Tq7Hkm9WpR"


def test_a_login_costs_the_slow_hash_whatever_the_account_holds(app, db, monkeypatch):
    """An unknown name, a chosen password (scrypt) and a one-time password (a fast hash) each cost one slow hash at
    least, so the time a login takes tells neither which names exist nor which accounts still hold
    the password of a workbook handed out."""
    import accounts.services as services

    slow = []
    monkeypatch.setattr(services, "_dummy_password_check", lambda password: slow.append(password))
    chosen = make_user(username="chosen01")
    fresh = make_user(username="fresh01", must_change_password=True)
    one_time = services.generate_initial_password()
    fresh.set_password(one_time, one_time=True)
    db.session.commit()
    assert chosen.password_hash.startswith("scrypt:") and fresh.password_hash.startswith("pbkdf2:sha256:2000$")
    client = app.test_client()
    for username, password, n in (("nobody01", "x", 1), ("chosen01", "wrong-one", 0), ("fresh01", "wrong-one", 1),
                                  ("fresh01", one_time, 1)):  # fmt: skip
        slow.clear()
        _login(client, username, password, "203.0.113.9")
        assert len(slow) == n, (username, password)
