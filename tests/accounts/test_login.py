"""Login, logout, sessions, throttling, password change and forced change."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from accounts import services
from accounts.models import LoginAttempt, LoginSession, User
from core.audit import AuditEvent
from core.errors import DomainError
from core.models import now_utc
from tests.factories import PASSWORD, make_cadre, make_user


def test_login_page_is_chinese_by_default(client):
    html = client.get("/login").get_data(as_text=True)
    assert "登录" in html
    assert 'lang="zh-CN"' in html


def test_login_and_logout(client, auth, db):
    user = make_user(username="A1001")
    db.session.commit()
    response = auth.login("A1001")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    key = db.session.scalar(select(LoginSession.key).where(LoginSession.user_id == user.id))
    assert key
    auth.logout()
    assert client.get("/").status_code == 302  # back to the login page
    ended = db.session.scalar(select(LoginSession.ended_at).where(LoginSession.key == key))
    assert ended is not None


def test_wrong_password_is_refused_and_recorded(client, auth, db):
    make_user(username="A1002")
    db.session.commit()
    response = auth.login("A1002", "not-the-password")
    assert response.status_code == 200
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    attempts = db.session.scalars(select(LoginAttempt)).all()
    assert [a.succeeded for a in attempts] == [False]
    assert db.session.scalar(select(AuditEvent.action)) == "login.failed"


def test_session_key_rotates_at_every_login(client, auth, db):
    user = make_user(username="A1003")
    db.session.commit()
    auth.login("A1003")
    auth.logout()
    auth.login("A1003")
    keys = db.session.scalars(select(LoginSession.key).where(LoginSession.user_id == user.id)).all()
    assert len(set(keys)) == 2


def test_logged_out_cookie_cannot_be_replayed(client, auth, db, app):
    make_user(username="A1004")
    db.session.commit()
    auth.login("A1004")
    stolen = client.get_cookie("qe_session").value
    auth.logout()
    other = app.test_client()
    other.set_cookie("qe_session", stolen)
    assert other.get("/").status_code == 302


def test_throttling_after_five_failures_per_account(client, auth, db, app):
    make_user(username="A1005")
    db.session.commit()
    for _ in range(5):
        assert auth.login("A1005", "wrong").status_code == 200
    response = auth.login("A1005")  # even the right password is refused now
    assert response.status_code == 429
    assert "登录失败次数过多" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "login.throttled")) is not None


def test_throttle_window_expires(app, db):
    now = now_utc()
    for minutes in (20, 19, 18, 17, 16):
        db.session.add(
            LoginAttempt(username="a1006", ip="10.0.0.1", succeeded=False, at=now - timedelta(minutes=minutes))
        )
    assert not services.login_locked("a1006", "10.0.0.1", now)  # all five are older than 15 minutes
    assert services.login_locked("a1006", "10.0.0.1", now - timedelta(minutes=10))  # ten minutes ago they were not


def test_throttled_attempts_do_not_extend_the_lock(app, db):
    now = now_utc()
    for _ in range(5):
        db.session.add(LoginAttempt(username="a1013", ip="10.0.0.2", succeeded=False, at=now - timedelta(minutes=14)))
    for _ in range(10):
        db.session.add(LoginAttempt(username="a1013", ip="10.0.0.2", succeeded=False, throttled=True, at=now))
    assert services.login_locked("a1013", "10.0.0.2", now)
    assert not services.login_locked("a1013", "10.0.0.2", now + timedelta(minutes=2))


def test_parallel_attempts_count_before_their_password_is_checked(app, db):
    """Attempts in flight (recorded, not yet decided) count: a burst gets no more password checks than the limit."""
    make_user(username="A1014")
    now = now_utc()
    in_flight = [services.begin_login_attempt("A1014", "10.0.0.3", now) for _ in range(5)]
    attempt = services.begin_login_attempt("A1014", "10.0.0.3", now)
    with pytest.raises(DomainError) as exc:
        services.authenticate(attempt, "A1014", PASSWORD, now)
    assert exc.value.code == "login_throttled" and attempt.throttled
    assert all(not a.succeeded for a in in_flight)


def test_ipv6_clients_count_by_their_64_network():
    assert services.ip_key("2001:db8:1:2:aaaa::1") == services.ip_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert services.ip_key("::ffff:10.1.2.3") == "10.1.2.3"
    assert services.ip_key("10.1.2.3") == "10.1.2.3"


def test_throttling_per_address(app, db):
    now = now_utc()
    limit = app.config["LOGIN_MAX_FAILURES_PER_IP"]
    for i in range(limit):
        db.session.add(LoginAttempt(username=f"x{i}", ip="10.9.9.9", succeeded=False, at=now))
    assert services.login_locked("someone-else", "10.9.9.9", now)
    assert not services.login_locked("someone-else", "10.9.9.8", now)


def test_username_is_case_insensitive(client, auth, db):
    make_user(username="QE2001")
    db.session.commit()
    assert auth.login("qe2001").status_code == 302


def test_deactivated_account_cannot_log_in(client, auth, db):
    make_user(username="A1007", active=False)
    db.session.commit()
    response = auth.login("A1007")
    assert response.status_code == 200
    assert "停用" in response.get_data(as_text=True)


def test_deactivation_ends_live_sessions(client, auth, db, app):
    admin = make_user(roles=("system_admin",))
    cadre = make_cadre()
    db.session.commit()
    auth.login(cadre.user.username)
    assert client.get("/").status_code == 200
    services.set_cadre_active(admin, cadre, False, now_utc())
    db.session.commit()
    assert client.get("/").status_code == 302
    sessions = db.session.scalars(select(LoginSession).where(LoginSession.user_id == cadre.user_id)).all()
    assert sessions and all(s.ended_at is not None for s in sessions)


def test_session_keys_are_stored_hashed(client, auth, db):
    user = make_user(username="A1015")
    db.session.commit()
    auth.login("A1015")
    cookie_key = db.session.scalar(select(LoginSession.key).where(LoginSession.user_id == user.id))
    with client.session_transaction() as sess:
        raw = sess["_user_id"]
    assert raw != cookie_key and len(cookie_key) == 64


def test_sessions_expire_when_idle_or_old(client, auth, db, app):
    user = make_user(username="A1016")
    db.session.commit()
    auth.login("A1016")
    assert client.get("/").status_code == 200
    ls = db.session.scalar(select(LoginSession).where(LoginSession.user_id == user.id))
    ls.last_seen_at = now_utc() - timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
    db.session.commit()
    assert client.get("/").status_code == 302  # idle too long
    auth.login("A1016")
    ls = db.session.scalar(select(LoginSession).where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None)))
    ls.created_at = now_utc() - timedelta(hours=app.config["SESSION_MAX_HOURS"] + 1)
    db.session.commit()
    assert client.get("/").status_code == 302  # too old, however active


def test_forced_password_change_at_first_login(client, auth, db):
    make_user(username="A1008", must_change_password=True)
    db.session.commit()
    response = auth.login("A1008")
    assert response.headers["Location"] == "/account/password"
    assert client.get("/").headers["Location"] == "/account/password"
    assert client.get("/admin/cadres").status_code == 302
    response = client.post_form(
        "/account/password", {"current": PASSWORD, "new": "Kestrel-42-bloom", "confirm": "Kestrel-42-bloom"}
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    user = db.session.scalar(select(User).where(User.username == "A1008"))
    db.session.refresh(user)
    assert not user.must_change_password and user.check_password("Kestrel-42-bloom")


def test_weak_new_password_is_refused_with_reason(client, auth, db):
    make_user(username="A1009")
    db.session.commit()
    auth.login("A1009")
    response = client.post_form("/account/password", {"current": PASSWORD, "new": "short", "confirm": "short"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "至少" in html and "字母和数字" in html


def test_password_change_logs_out_other_sessions(client, auth, db, app):
    make_user(username="A1010")
    db.session.commit()
    other = app.test_client()
    other.post_form("/login", {"username": "A1010", "password": PASSWORD})
    assert other.get("/").status_code == 200
    auth.login("A1010")
    client.post_form(
        "/account/password", {"current": PASSWORD, "new": "Harbor-19-violet", "confirm": "Harbor-19-violet"}
    )
    assert client.get("/").status_code == 200
    assert other.get("/").status_code == 302


def test_open_redirect_after_login_is_refused(client, db):
    make_user(username="A1011")
    db.session.commit()
    response = client.post_form("/login?next=https://evil.example/", {"username": "A1011", "password": PASSWORD})
    assert response.headers["Location"] == "/"
    client.post_form("/logout")
    response = client.post_form("/login?next=/admin/units", {"username": "A1011", "password": PASSWORD})
    assert response.headers["Location"] == "/admin/units"


def test_session_cookie_flags(client, db):
    make_user(username="A1012")
    db.session.commit()
    response = client.post_form("/login", {"username": "A1012", "password": PASSWORD})
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("qe_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_security_headers(client):
    response = client.get("/login")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_prune_login_records(runner, db):
    old = now_utc() - timedelta(days=100)
    user = make_user()
    db.session.add(LoginAttempt(username="x", ip="1.1.1.1", succeeded=False, at=old))
    db.session.add(LoginAttempt(username="x", ip="1.1.1.1", succeeded=False, at=now_utc()))
    db.session.add(LoginSession(key="k-old", user=user, created_at=old, ended_at=old))
    db.session.add(LoginSession(key="k-abandoned", user=user, created_at=old))
    db.session.add(LoginSession(key="k-live", user=user, created_at=now_utc()))
    db.session.commit()
    result = runner.invoke(args=["accounts", "prune-logins", "--days", "90"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count(LoginAttempt.id))) == 1
    assert set(db.session.scalars(select(LoginSession.key))) == {"k-live"}
