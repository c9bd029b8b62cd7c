"""API identities kept per process (accounts.identity): a known token costs no query, every change that ends or
alters a token's access moves the auth epoch in its own transaction, another process stops answering within a
second, the request's User is the real one, and a token's last use is written only by write requests."""

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from accounts import identity, services
from accounts.identity import IdentityCache
from accounts.models import ApiToken, RoleAssignment, User
from core.extensions import db as database
from core.models import now_utc
from core.policy import Role
from tests.factories import PASSWORD, make_cadre, make_open_exam, make_user


class Clock:
    """A process's monotonic clock, stepped by hand."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


@contextmanager
def statements():
    sent: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        sent.append(" ".join(statement.split())[:200])

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(database.engine, "before_cursor_execute", record)


@contextmanager
def process(app, cache: IdentityCache):
    """Serve the block's requests as the process that owns `cache` (each gunicorn worker has its own)."""
    before = app.extensions.get("auth_identities")
    app.extensions["auth_identities"] = cache
    try:
        yield
    finally:
        app.extensions["auth_identities"] = before


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_a_known_token_costs_no_query(app, db):
    user = make_user(roles=(Role.CADRE,))
    token = services.create_api_token(user, "t", now_utc())
    db.session.commit()
    app.extensions["auth_identities"] = IdentityCache(clock=Clock())
    with statements() as first:
        found = services.load_token(token, now_utc())
    assert found.user_id == user.id and not found.api_only
    assert len(first) == 2 and "auth_epoch" in first[0] and "api_tokens" in first[1], first
    with statements() as again:
        assert services.load_token(token, now_utc()) == found
    assert again == []
    assert services.load_token("qe_unknown", now_utc()) is None
    assert services.load_token("not-a-token", now_utc()) is None


def _revoke(user, token):
    services.revoke_api_token(user, database.session.scalar(select(ApiToken.id)), now_utc())


def _deactivate(user, token):
    admin = make_user(roles=(Role.ORG_ADMIN,))
    services.set_cadre_active(admin, user.cadre, False, now_utc())


def _reset_password(user, token):
    admin = make_user(roles=(Role.ORG_ADMIN,))
    services.reset_password(admin, user, now_utc())


@pytest.mark.parametrize("end_access", [_revoke, _deactivate, _reset_password])
def test_an_ended_access_is_refused_by_another_process_within_a_second(app, client, db, end_access):
    user = make_cadre().user
    token = services.create_api_token(user, "t", now_utc())
    db.session.commit()
    clock_a, clock_b = Clock(), Clock()
    a, b = IdentityCache(clock=clock_a), IdentityCache(clock=clock_b)
    for cache in (a, b):
        with process(app, cache):
            assert client.get("/api/v1/exams", headers=bearer(token)).status_code == 200
    with process(app, a):  # the change is made (and committed) in process A
        end_access(db.session.get(User, user.id), token)
        db.session.commit()
        assert client.get("/api/v1/exams", headers=bearer(token)).status_code == 401  # there, at once
    with process(app, b):
        # Within its second B has not read the epoch again and may still answer from memory: the documented
        # window (accounts.identity). Nothing else is cached, so the request itself reads today's data.
        clock_b.t = 0.5
        assert client.get("/api/v1/exams", headers=bearer(token)).status_code == 200
        clock_b.t = 1.0  # its second is up: it reads the epoch, sees it moved, forgets, and asks the database
        assert client.get("/api/v1/exams", headers=bearer(token)).status_code == 401


def test_an_identity_read_while_the_epoch_moves_is_not_kept(app, db):
    user = make_user(roles=(Role.CADRE,))
    token = services.create_api_token(user, "t", now_utc())
    db.session.commit()
    clock = Clock()
    cache = IdentityCache(clock=clock)
    epochs = iter([1, 2])
    found, generation = cache.lookup("h", lambda: next(epochs))
    assert found is None
    clock.t = 1.0
    cache.lookup("other", lambda: next(epochs))  # another thread's check: the epoch moved meanwhile
    identity_ = identity.TokenIdentity(1, user.id, False, False, None)
    cache.keep("h", identity_, generation)
    assert cache.lookup("h", lambda: 2)[0] is None
    cache.keep("h", identity_, cache.lookup("h", lambda: 2)[1])
    assert cache.lookup("h", lambda: 2)[0] is identity_
    del token


# ---------------------------------------------------------------- what moves the epoch, in its own transaction


def _grant(user, admin):
    services.grant_role(admin, user, Role.GRADER)


def _take_role(user, admin):
    services.revoke_role(admin, next(r for r in user.roles if r.role == Role.CADRE))


def _change_password(user, admin):
    services.change_password(user, PASSWORD, "Granite-63-owl", now_utc())


def _language(user, admin):
    services.set_locale(user, "en")


def _delete_token(user, admin):
    database.session.delete(database.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id)))


def _revoke_all(user, admin):
    services.revoke_all_api_tokens(admin, user, "password.reset", now_utc())


def _deactivate_by(user, admin):
    services.set_cadre_active(admin, user.cadre, False, now_utc())


def _reset_by(user, admin):
    services.reset_password(admin, user, now_utc())


CHANGES = [_revoke_all, _delete_token, _deactivate_by, _reset_by, _change_password, _grant, _take_role, _language]


@pytest.mark.parametrize("change", CHANGES, ids=lambda f: f.__name__.strip("_"))
def test_every_change_of_access_moves_the_epoch_in_its_own_transaction(app, db, change):
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    user = make_cadre().user
    services.create_api_token(user, "t", now_utc())
    db.session.commit()
    before = identity.read_epoch()
    change(db.session.get(User, user.id), db.session.get(User, admin.id))
    db.session.flush()
    assert identity.read_epoch() != before  # moved by the flush, inside the transaction
    db.session.rollback()
    assert identity.read_epoch() == before  # and undone with it
    change(db.session.get(User, user.id), db.session.get(User, admin.id))
    db.session.commit()
    assert identity.read_epoch() != before


def test_what_changes_no_access_leaves_the_epoch_alone(app, client, db):
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    exam, cadre = make_open_exam(code="EP1")
    db.session.commit()
    before = identity.read_epoch()
    # New accounts and their first roles (an import makes thousands), new tokens, an exam sat through the API.
    make_cadre()
    make_user(roles=(Role.AUTHOR, Role.CADRE))
    token = services.create_api_token(db.session.get(User, cadre.id), "t", now_utc())
    db.session.commit()
    paper = client.post("/api/v1/exams/EP1/attempts", headers=bearer(token), json={}).get_json()
    response = client.put(
        f"/api/v1/attempts/{paper['id']}/answers/1", headers=bearer(token), json={"value": 0, "seq": 1}
    )
    assert response.status_code == 200
    assert client.post(f"/api/v1/attempts/{paper['id']}/submit", headers=bearer(token)).status_code == 200
    assert identity.read_epoch() == before
    del admin


# ---------------------------------------------------------------- the request's User


def test_the_request_gets_the_real_user_loaded_only_when_more_is_asked(app, db):
    cadre_user = make_cadre().user
    token = services.create_api_token(cadre_user, "t", now_utc())
    db.session.commit()
    user_id, name, username = cadre_user.id, cadre_user.name, cadre_user.username
    found = services.load_token(token, now_utc())
    db.session.expunge_all()  # a new request's session: nothing loaded yet
    with statements() as sent:
        user = identity.attach_user(found)
        assert (user.id, user.is_active, user.must_change_password, user.locale) == (user_id, True, False, None)
        assert user.is_authenticated and user.get_id() is None
    assert sent == []
    assert isinstance(user, User) and db.session.get(User, user_id) is user  # the session's own, for every service
    with statements() as sent:
        assert user.name == name and user.username == username
    assert len(sent) == 1, sent  # every other column at once
    assert user.role_names == {Role.CADRE} and user.cadre is not None and user.unit_path == user.cadre.unit.path


def test_a_cadre_with_combined_roles_gets_the_same_answers_by_token_as_by_session(app, client, auth, db):
    """Every page without a parameter, by a cadre who also authors, grades and administers the district: the
    token (an ordinary one, which reaches the web) answers as the session does, from the first request and from
    the process's memory."""
    user = make_cadre(roles=(Role.CADRE, Role.AUTHOR, Role.GRADER, Role.ORG_ADMIN)).user
    token = services.create_api_token(user, "t", now_utc())
    db.session.commit()
    urls = sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.arguments and rule.endpoint not in ("static", "accounts.login")
    )
    assert len(urls) > 40
    by_token = {url: client.get(url, headers=bearer(token)).status_code for url in urls}
    again = {url: client.get(url, headers=bearer(token)).status_code for url in urls}
    auth.login(user.username)
    by_session = {url: client.get(url).status_code for url in urls}
    assert by_token == by_session == again
    assert by_session["/admin/cadres"] == 200 and by_session["/api/v1/exams"] == 200


def test_an_api_only_token_reaches_the_api_and_nothing_else_from_memory_too(app, client, db):
    root = make_user(roles=(Role.SYSTEM_ADMIN,))
    user = make_user(roles=(Role.CADRE, Role.ORG_ADMIN), must_change_password=True)
    token = services.create_api_only_token(root, user, "sync", now_utc())
    db.session.commit()
    for _ in range(2):  # the first request reads the token, the second answers from memory
        assert client.get("/api/v1/exams", headers=bearer(token)).status_code == 200
        page = client.get("/admin/cadres", headers={**bearer(token), "Accept": "application/json"})
        assert page.status_code == 401


# ---------------------------------------------------------------- last use, off the hot path


def _last_used(token_id):
    """As committed: read on a connection of its own."""
    with database.engine.connect() as conn:
        return conn.scalar(select(ApiToken.last_used_at).where(ApiToken.id == token_id))


def test_a_read_never_writes_the_last_use_and_a_write_request_does(app, client, db):
    exam, user = make_open_exam(code="LU1")
    token = services.create_api_token(user, "t", now_utc())
    db.session.commit()
    token_id = db.session.scalar(select(ApiToken.id))
    app.extensions["auth_identities"] = cache = IdentityCache(clock=Clock())
    with statements() as sent:
        assert client.get("/api/v1/exams", headers=bearer(token)).status_code == 200
    assert not [s for s in sent if s.startswith("UPDATE")], sent  # a read: nothing written for bookkeeping
    assert _last_used(token_id) is None
    read_at = now_utc()
    with statements() as sent:
        assert client.post("/api/v1/exams/LU1/attempts", headers=bearer(token), json={}).status_code == 200
    assert len([s for s in sent if s.startswith("UPDATE api_tokens")]) == 1  # with a request that commits anyway
    assert read_at - timedelta(seconds=5) < _last_used(token_id) <= read_at  # the use noted at the read
    assert cache.take_pending() == {}


def test_uses_are_noted_once_every_few_minutes_and_written_in_one_batch(app, db):
    users = [make_user(roles=(Role.CADRE,)) for _ in range(3)]
    for u in users:
        services.create_api_token(u, "t", now_utc())
    db.session.commit()
    ids = list(db.session.scalars(select(ApiToken.id).order_by(ApiToken.id)))
    clock = Clock()
    cache = IdentityCache(clock=clock)
    app.extensions["auth_identities"] = cache
    t0 = now_utc()
    for token_id in ids:
        cache.note_use(token_id, t0)
        cache.note_use(token_id, t0 + timedelta(minutes=4))  # within the five minutes: nothing new
    with statements() as sent:
        assert identity.write_last_used() == 3
    assert len(sent) == 1 and sent[0].startswith("UPDATE api_tokens"), sent  # one statement for all
    db.session.commit()
    assert [_last_used(i) for i in ids] == [t0] * 3
    cache.note_use(ids[0], t0 + timedelta(minutes=6))
    assert identity.write_last_used() == 0  # a minute has not passed since the last write
    clock.t = identity.LAST_USED_WRITE_SECONDS
    assert identity.write_last_used() == 1
    db.session.commit()
    assert _last_used(ids[0]) == t0 + timedelta(minutes=6)
    # A process that noted an older use (it read the token before another process wrote) writes no step back.
    other = IdentityCache(clock=Clock())
    app.extensions["auth_identities"] = other
    other.note_use(ids[0], t0 + timedelta(minutes=1))
    assert identity.write_last_used() == 1
    db.session.commit()
    assert _last_used(ids[0]) == t0 + timedelta(minutes=6)


def test_a_role_given_through_the_assignment_alone_moves_the_epoch(app, db):
    user = make_user(roles=(Role.CADRE,))
    db.session.commit()
    before = identity.read_epoch()
    db.session.add(RoleAssignment(user_id=user.id, role=Role.AUTHOR))
    db.session.commit()
    assert identity.read_epoch() != before
