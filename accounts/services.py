"""Account, unit and cadre rules. Functions flush and never commit; the request or CLI command commits once."""

import hashlib
import ipaddress
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from accounts import identity
from accounts.models import (
    ApiToken,
    Cadre,
    CadreStatus,
    Education,
    Gender,
    LoginAttempt,
    LoginSession,
    PoliticalStatus,
    Rank,
    RoleAssignment,
    Unit,
    UnitKind,
    User,
)
from accounts.personal import mask_phone
from core import audit, events
from core.errors import DomainError
from core.extensions import db
from core.models import MAX_INT, tree_order
from core.policy import SYSTEM_ROLES, Role, can, can_grant_role, has_district_scope

USERNAME_RE = re.compile(r"\A[A-Za-z0-9_.-]{2,32}\Z")  # \Z: "$" would let a trailing newline through
PHONE_RE = re.compile(r"^[0-9+\- ]{0,20}$")
# Letters and digits that cannot be mistaken for each other when read aloud or off a printout.
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # noqa: S105
MIN_PASSWORD_LENGTH = 8
#: Passwords at the top of every leaked-password list that our length and letters-and-digits rules let through
#: (compared without letter case): the first ones any guesser tries.
_COMMON_PASSWORDS_TEXT = """
    password1 password12 password123 passw0rd p@ssw0rd p@ssword1 pass1234 qwerty123 qwerty12 qwer1234 qwe12345
    qweasd123 1qaz2wsx 1q2w3e4r 1q2w3e4r5t q1w2e3r4 q1w2e3r4t5 zaq12wsx abc12345 abcd1234 abc123456 abc123abc
    a1234567 a12345678 a123456789 aa123456 aa12345678 1234qwer 123qwe123 123456abc 12345abc asdf1234 asd12345
    zxcv1234 zxcvbnm1 admin123 admin1234 admin888 administrator1 root1234 test1234 test12345 welcome1 welcome123
    letmein1 iloveyou1 changeme1 woaini1314 woaini520 5201314a a5201314 qq123456 abcdefg1 sunshine1 monkey123
    dragon123 football1 baseball1 princess1 superman1 computer1 internet1 china123 beijing2008 user1234
"""
COMMON_PASSWORDS = frozenset(_COMMON_PASSWORDS_TEXT.split())


# ---------------------------------------------------------------- passwords and login


def generate_initial_password(length: int = 12) -> str:
    """A random one-time password with at least one letter and one digit, that the strength estimator also finds
    strong (about one 10-character draw in 20,000, such as "Vvrn4zY4zY", repeats itself enough to score lower).
    Hashed with config.ONE_TIME_PASSWORD_HASH_METHOD: 12 characters of 55 are about 69 bits."""
    while True:
        pw = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))
        if any(c.isdigit() for c in pw) and any(c.isalpha() for c in pw) and _score(pw, []) >= MIN_PASSWORD_SCORE:
            return pw


#: zxcvbn's score a new password must reach. 3 means about 10^8 guesses or more: "safely unguessable, moderate
#: protection from an offline slow-hash attack" in zxcvbn's own terms. Chosen passwords are scrypt (slow on purpose) and
#: logins are throttled, so 3 holds against a stolen database for long enough to reset every password; 4 (10^10)
#: would refuse most passwords people can remember and push them to write them down.
MIN_PASSWORD_SCORE = 3
#: zxcvbn refuses to judge longer passwords (its running time grows with the length); it judges their first part.
_ZXCVBN_MAX_LENGTH = 72


def personal_words(user=None, *, username: str = "", name: str = "", birth_date: date | None = None) -> list[str]:
    """What a guesser who knows the person tries first: their name (and its pinyin, full and initials), username,
    employee number and birth date in the usual spellings (1990, 19900101, 900101, 0101, 1990-01-01)."""
    if user is not None:
        username = username or user.username
        name = name or user.name
        cadre = getattr(user, "cadre", None)
        if cadre is not None:
            birth_date = birth_date or cadre.birth_date
    words = [username, name]
    if name:
        pinyin = _pinyin()
        words += [pinyin.get_pinyin(name, ""), pinyin.get_initials(name, "").lower()]
    if birth_date:
        d = birth_date
        words += [f"{d:%Y}", f"{d:%Y%m%d}", f"{d:%y%m%d}", f"{d:%m%d}", f"{d:%Y-%m-%d}", f"{d:%d%m%Y}"]
    return [w.strip().lower() for w in words if w and w.strip()]


@cache
def _pinyin():
    from xpinyin import Pinyin

    return Pinyin()


def _strength_reason(result: dict) -> str:
    """Why zxcvbn finds a password weak, in words we translate (its own feedback is English only): the part of the
    password that makes it guessable, as zxcvbn's own feedback picks it (the longest match)."""
    sequence = result["sequence"]
    if any(m.get("dictionary_name") == "user_inputs" for m in sequence):
        return _("It is built from your own name, username, employee number or birth date.")
    longest = max(sequence, key=lambda m: len(m["token"]), default=None)
    pattern = longest["pattern"] if longest else "bruteforce"
    if pattern == "dictionary":
        name = longest.get("dictionary_name")
        if name == "passwords":
            return _("It is, or is close to, a commonly used password.")
        if name in {"surnames", "male_names", "female_names"}:
            return _("It is built from a common name.")
        return _("It is built from a common word.")
    reasons = {
        "spatial": _("It follows a pattern of keys on the keyboard."),
        "repeat": _("It repeats characters or groups of characters (like “aaa” or “1212”)."),
        "sequence": _("It contains a sequence (like “abc” or “6543”)."),
        "regex": _("It contains a year, which is easy to guess."),
        "date": _("It contains a date, which is easy to guess."),
    }
    return reasons.get(pattern, _("It is too short or too simple."))


def _strength(password: str, words: list[str]) -> dict:
    from zxcvbn import zxcvbn  # its dictionaries load on first use, not when the app starts

    return zxcvbn(password[:_ZXCVBN_MAX_LENGTH], user_inputs=words)


def _score(password: str, words: list[str]) -> int:
    return _strength(password, words)["score"]


def _mostly_personal(password: str, words: list[str]) -> bool:
    """Is the password its owner's own data with fewer than four characters of anything else?"""
    rest = password.lower()
    for word in sorted(words, key=len, reverse=True):
        if len(word) >= 2:
            rest = rest.replace(word, "")
    return len(rest) < 4


def password_problems(password: str, username: str, personal: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Why a new password is not acceptable (empty list when it is). `personal`: personal_words() of its owner."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(_("The password must be at least %(n)d characters long.", n=MIN_PASSWORD_LENGTH))
    if not (re.search(r"[A-Za-z]", password) and re.search(r"[0-9]", password)):
        problems.append(_("The password must contain both letters and digits."))
    if password.lower() == username.lower():
        problems.append(_("The password must not be the same as the username."))
    elif password.lower() in COMMON_PASSWORDS:
        problems.append(_("This password is too common; choose one that is harder to guess."))
    if not problems:
        words = [username.lower(), *personal]
        result = _strength(password, words)
        if _mostly_personal(password, words):  # zxcvbn lets "zs19900101x" through: two of them and a letter
            reason = _("It is built from your own name, username, employee number or birth date.")
        elif result["score"] < MIN_PASSWORD_SCORE:
            reason = _strength_reason(result)
        else:
            reason = None
        if reason:
            problems.append(
                _("This password is easy to guess: %(reason)s", reason=reason)
                + " "
                + _(
                    "Use a longer one, such as a few unrelated words with digits or symbols between them, "
                    "that has nothing to do with you."
                )
            )
    return problems


def normalise_username(username: str) -> str:
    return (username or "").strip()


@cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(16))


def _dummy_password_check(password: str) -> None:
    check_password_hash(_dummy_hash(), password)


def ip_key(ip: str | None) -> str:
    """The address a login attempt counts against; an IPv6 client counts by its /64, which one host controls."""
    try:
        addr = ipaddress.ip_address(ip or "")
    except ValueError:
        return (ip or "unknown")[:64]
    if addr.version == 6:
        if addr.ipv4_mapped:
            return str(addr.ipv4_mapped)
        return str(ipaddress.ip_network(f"{addr}/64", strict=False))
    return str(addr)


def _recent_failures(column, value: str, now: datetime) -> int:
    window = timedelta(seconds=current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"])
    return db.session.scalar(
        select(func.count(LoginAttempt.id)).where(
            column == value,
            LoginAttempt.succeeded.is_(False),
            LoginAttempt.throttled.is_(False),
            LoginAttempt.at > now - window,
        )
    )


def login_locked(username: str, ip: str, now: datetime, pending: int = 0) -> bool:
    """Has the account or the address used up its failures? `pending` attempts already recorded for this try are
    counted as failures too (see begin_login_attempt)."""
    cfg = current_app.config
    return (
        _recent_failures(LoginAttempt.username, username.lower(), now) - pending
        >= cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
        or _recent_failures(LoginAttempt.ip, ip_key(ip), now) - pending >= cfg["LOGIN_MAX_FAILURES_PER_IP"]
    )


def begin_login_attempt(username: str, ip: str, now: datetime) -> LoginAttempt:
    """Record a login attempt before its password is checked, as a failure until it succeeds.

    The caller commits it before calling authenticate(): parallel guesses then see each other, so a burst of
    requests cannot get more password checks than the limit allows.
    """
    attempt = LoginAttempt(
        username=normalise_username(username).lower()[:64], ip=ip_key(ip), succeeded=False, throttled=False, at=now
    )
    db.session.add(attempt)
    db.session.flush()
    return attempt


def authenticate(attempt: LoginAttempt, username: str, password: str, now: datetime) -> User:
    """Check a login recorded by begin_login_attempt. Raises DomainError for a throttled account or address, or
    bad credentials.

    While throttled even the right password is refused, or throttling would only slow guessing, not stop it.
    Throttled attempts do not count as failures, so a lock ends one window after the last real failure.
    """
    username = normalise_username(username)
    if login_locked(attempt.username, attempt.ip, now, pending=1):
        attempt.throttled = True
        audit.record("login.throttled", target=username[:128], at=now)
        minutes = current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"] // 60
        raise DomainError(
            _("Too many failed logins. Please try again in %(minutes)d minutes.", minutes=minutes),
            code="login_throttled",
            status=429,
        )
    user = db.session.scalar(select(User).where(func.lower(User.username) == attempt.username))
    if user is None:
        _dummy_password_check(password)  # same cost as a real check: timing does not reveal which usernames exist
        password_ok = False
    else:
        password_ok = user.check_password(password)
        if user.password_hash.startswith(current_app.config["ONE_TIME_PASSWORD_HASH_METHOD"] + "$"):
            _dummy_password_check(password)  # a one-time password's fast hash: timing does not tell it either
    if user is not None and user.system:
        password_ok = False  # another system's account: it reaches the admin API with its tokens, never the web
    if not (password_ok and user.active):
        audit.record("login.failed", target=username[:128], actor=user, at=now)
        if password_ok:
            raise DomainError(_("This account has been deactivated."), code="account_inactive", status=200)
        raise DomainError(_("Wrong username or password."), code="bad_credentials", status=200)
    attempt.succeeded = True
    return user


def _hash_key(key: str) -> str:
    """Login sessions are stored by the SHA-256 of their key: a copy of the table lets nobody in."""
    return hashlib.sha256(key.encode()).hexdigest()


def start_session(user: User, ip: str | None, user_agent: str | None, now: datetime) -> LoginSession:
    """Create a new login session with a fresh random key (the session id is never reused across logins)."""
    key = secrets.token_urlsafe(32)
    ls = LoginSession(
        key=_hash_key(key), user=user, created_at=now, last_seen_at=now, ip=ip, user_agent=(user_agent or "")[:255]
    )
    db.session.add(ls)
    user.last_login_at = now
    user.session_key = key
    audit.record("login.succeeded", actor=user, target=f"user:{user.id}", at=now)
    db.session.flush()
    return ls


def load_session_user(key: str, now: datetime) -> User | None:
    """The user of a live login session, or None (ended, unknown, expired, or the account is deactivated).

    A session lasts at most SESSION_MAX_HOURS, and ends after SESSION_IDLE_MINUTES without a request.
    """
    ls = db.session.scalar(
        select(LoginSession).where(LoginSession.key == _hash_key(key), LoginSession.ended_at.is_(None))
    )
    if ls is None or not ls.user.active:
        return None
    cfg = current_app.config
    last_seen = ls.last_seen_at or ls.created_at
    if now - ls.created_at > timedelta(hours=cfg["SESSION_MAX_HOURS"]) or now - last_seen > timedelta(
        minutes=cfg["SESSION_IDLE_MINUTES"]
    ):
        ls.ended_at = now
        return None
    if now - last_seen > timedelta(seconds=60):  # at most one write a minute per session
        ls.last_seen_at = now
    ls.user.session_key = key
    return ls.user


def end_session(key: str | None, now: datetime) -> None:
    if key:
        db.session.execute(
            update(LoginSession)
            .where(LoginSession.key == _hash_key(key), LoginSession.ended_at.is_(None))
            .values(ended_at=now)
        )


def end_all_sessions(user: User, now: datetime, except_key: str | None = None) -> None:
    stmt = update(LoginSession).where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
    if except_key:
        stmt = stmt.where(LoginSession.key != _hash_key(except_key))
    db.session.execute(stmt.values(ended_at=now))


def prune_login_records(before: datetime) -> tuple[int, int]:
    """Delete login attempts, and sessions ended or started, before `before`; returns how many of each."""
    attempts = db.session.execute(delete(LoginAttempt).where(LoginAttempt.at < before)).rowcount
    sessions = db.session.execute(
        delete(LoginSession).where(or_(LoginSession.ended_at < before, LoginSession.created_at < before))
    ).rowcount
    return attempts, sessions


TOKEN_PREFIX = "qe_"  # noqa: S105  (a visible marker, not a secret)


def new_token(user: User, name: str, now: datetime, **columns) -> tuple[str, ApiToken]:
    """A new token of `user` (its value, returned once, and its row, which keeps only the SHA-256), unaudited:
    each caller records what kind of token it made."""
    if user.system and not columns.get("scopes"):
        raise DomainError(_("A system account's tokens carry scopes: use flask accounts system-token."),
                          code="system_account")  # fmt: skip
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user=user, name=(name or "API")[:100], token_hash=_hash_key(token), created_at=now, **columns)
    db.session.add(row)
    return token, row


def create_api_token(user: User, name: str, now: datetime) -> str:
    """A new personal API token for `user`; returned once, stored only as its SHA-256. Like a session, it is
    refused (403 password_change_required) while the account must still change its one-time password."""
    token, _row = new_token(user, name, now)
    audit.record("token.created", actor=user, target=f"user:{user.id}", detail={"name": name}, at=now)
    db.session.flush()
    return token


def create_api_only_token(actor: User, user: User, name: str, now: datetime) -> str:
    """A token an administrator (`actor`) mints on purpose for scripts: it reaches the JSON API only, and does so
    even while `user` must still change the one-time password (an imported cadre). Audited as its own action,
    with who minted it. It is revoked with the others when the password changes or is reset."""
    token, _row = new_token(user, name, now, api_only=True)
    detail = {"name": name, "must_change_password": user.must_change_password}
    audit.record("token.created_api_only", actor=actor, target=f"user:{user.id}", detail=detail, at=now)
    db.session.flush()
    return token


def _token_detail(token: ApiToken, reason: str) -> dict:
    return {"token": token.id, "name": token.name, "created_at": token.created_at.isoformat(), "reason": reason}


def revoke_api_token(user: User, token_id: int | None, now: datetime) -> None:
    """Revoke one of `user`'s own tokens (audited); another's token, or no token, is "no such token"."""
    token = db.session.get(ApiToken, token_id) if isinstance(token_id, int) and 0 < token_id <= MAX_INT else None
    if token is None or token.user_id != user.id:
        raise DomainError(_("No such token."), code="not_found", status=404)
    if token.revoked_at is None:  # revoking twice keeps the first time
        token.revoked_at = now
        audit.record(
            "token.revoked", actor=user, target=f"user:{token.user_id}", detail=_token_detail(token, "owner"), at=now
        )
    db.session.flush()


def revoke_all_api_tokens(actor: User | None, user: User, reason: str, now: datetime) -> int:
    """Revoke every live token of `user`, each audited with `reason` ("password.changed", "password.reset"):
    a token is a password's equal, so it must not outlive the password it was made under. Returns how many."""
    tokens = list(
        db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)))
    )
    for token in tokens:
        token.revoked_at = now
        audit.record(
            "token.revoked", actor=actor, target=f"user:{user.id}", detail=_token_detail(token, reason), at=now
        )
    db.session.flush()
    return len(tokens)


@cache
def _token_query():
    """Built once per process: building the query costs more than running it."""
    return (
        select(
            ApiToken.id,
            ApiToken.api_only,
            ApiToken.last_used_at,
            User.id,
            User.must_change_password,
            User.locale,
            ApiToken.scopes,
        )
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None), User.active)
    )


def load_token(token: str, now: datetime) -> identity.TokenIdentity | None:
    """Who a live API token of an active user speaks for, or None. Every API request starts here: a token this
    process knows costs no round trip (accounts.identity: revocations reach it within a second), another one
    query. The use is noted for the token's last_used_at, which a later write request records."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    token_hash = _hash_key(token)
    kept = identity.cache()
    found, generation = kept.lookup(token_hash, identity.read_epoch)
    stored = None
    if found is None:
        row = db.session.execute(_token_query(), {"token_hash": token_hash}).first()
        if row is None:
            return None
        token_id, api_only, stored, user_id, must_change_password, locale, scopes = row
        found = identity.TokenIdentity(
            token_id,
            user_id,
            api_only,
            must_change_password,
            locale,
            None if scopes is None else frozenset(scopes.split()),
        )
        kept.keep(token_hash, found, generation)
    kept.note_use(found.token_id, now, stored)
    return found


def load_token_user(token: str, now: datetime) -> User | None:
    """The active user a live API token belongs to, or None."""
    found = load_token(token, now)
    return identity.attach_user(found) if found is not None else None


def change_password(user: User, current: str, new: str, now: datetime) -> None:
    """Change one's own password; other sessions of the user are logged out."""
    if not user.check_password(current):
        raise DomainError(_("The current password is wrong."), code="bad_password")
    if current == new:
        raise DomainError(_("The new password must differ from the current one."), code="same_password")
    problems = password_problems(new, user.username, personal_words(user))
    if problems:
        raise DomainError(" ".join(problems), code="weak_password")
    user.set_password(new)
    user.must_change_password = False
    user.password_changed_at = now
    end_all_sessions(user, now, except_key=user.session_key)
    revoke_all_api_tokens(user, user, "password.changed", now)
    audit.record("password.changed", actor=user, target=f"user:{user.id}", at=now)
    db.session.flush()


def reset_password(actor: User, user: User, now: datetime) -> str:
    """Give `user` a new one-time password (returned once), to be changed at next login; ends their sessions."""
    if not can(actor, "account.reset_password", user):
        raise DomainError(_("You may not reset this account's password."), code="forbidden", status=403)
    if user.system:
        raise DomainError(_("A system account has no password: it uses its tokens."), code="system_account")
    password = generate_initial_password()
    user.set_password(password, one_time=True)
    user.must_change_password = True
    user.password_changed_at = now
    end_all_sessions(user, now)
    revoke_all_api_tokens(actor, user, "password.reset", now)
    audit.record("password.reset", actor=actor, target=f"user:{user.id}", at=now)
    db.session.flush()
    return password


def create_admin(username: str, password: str, name: str | None, now: datetime) -> User:
    """The first system administrator of an install (CLI). The password is the operator's own: no forced change."""
    username = normalise_username(username)
    if not USERNAME_RE.match(username):
        raise DomainError(_("A username is 2 to 32 letters, digits, '.', '_' or '-'."), code="bad_username")
    if db.session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        raise DomainError(_("The username %(u)s is already taken.", u=username), code="duplicate_username")
    problems = password_problems(password, username, personal_words(username=username, name=name or ""))
    if problems:
        raise DomainError(" ".join(problems), code="weak_password")
    user = User(username=username, name=name or username, must_change_password=False, password_changed_at=now)
    user.set_password(password)
    user.roles.append(RoleAssignment(role=Role.SYSTEM_ADMIN))
    db.session.add(user)
    audit.record("admin.created", target=username, at=now)
    db.session.flush()
    return user


def set_locale(user, locale: str) -> None:
    if locale not in current_app.config["LANGUAGES"]:
        raise DomainError(_("Unknown language."), code="bad_locale")
    if user.is_authenticated:
        user.locale = locale


# ---------------------------------------------------------------- roles


def grant_role(actor: User, user: User, role: Role, unit: Unit | None = None) -> RoleAssignment:
    if not can_grant_role(actor, role, user.role_names):
        raise DomainError(_("You may not grant this role."), code="forbidden", status=403)
    if (role == Role.UNIT_ADMIN) != (unit is not None):
        raise DomainError(_("A unit administrator needs a unit; other roles take none."), code="bad_role_unit")
    if user.system and role not in SYSTEM_ROLES:
        raise DomainError(_("A system account holds an administrator's role only."), code="bad_role")
    for existing in user.roles:
        if existing.role == role and existing.unit_id == (unit.id if unit else None):
            return existing
    assignment = RoleAssignment(role=role, unit=unit)
    user.roles.append(assignment)
    audit.record("role.granted", actor=actor, target=f"user:{user.id}", detail={"role": role, "unit": unit and unit.id})
    db.session.flush()
    return assignment


def revoke_role(actor: User, assignment: RoleAssignment) -> None:
    role = Role(assignment.role)
    if not can_grant_role(actor, role, assignment.user.role_names):
        raise DomainError(_("You may not revoke this role."), code="forbidden", status=403)
    if role == Role.SYSTEM_ADMIN:
        remaining = db.session.scalar(
            select(func.count(RoleAssignment.id)).where(RoleAssignment.role == Role.SYSTEM_ADMIN)
        )
        if remaining <= 1:
            raise DomainError(_("The last system administrator cannot be removed."), code="last_admin")
    user = assignment.user
    user.roles.remove(assignment)
    audit.record("role.revoked", actor=actor, target=f"user:{user.id}", detail={"role": role})
    db.session.flush()


# ---------------------------------------------------------------- units


def create_unit(code: str, name: str, kind: str, parent: Unit | None, sort_order: int = 0) -> Unit:
    code, name = code.strip(), name.strip()
    if not code or not name:
        raise DomainError(_("A unit needs a code and a name."), code="bad_unit")
    if kind not in set(UnitKind):
        raise DomainError(_("Unknown unit kind."), code="bad_unit")
    if db.session.scalar(select(Unit.id).where(Unit.code == code)):
        raise DomainError(_("The unit code %(code)s is already in use.", code=code), code="duplicate_unit")
    unit = Unit(code=code, name=name, kind=kind, parent=parent, sort_order=sort_order, path="")
    db.session.add(unit)
    db.session.flush()  # the id is part of the path
    unit.path = (parent.path if parent else "/") + f"{unit.id}/"
    db.session.flush()
    return unit


def add_unit(actor: User, code: str, name: str, kind: str, parent: Unit | None, now: datetime, sort_order: int = 0):
    """create_unit for a person (the unit page, `flask units`): the creation is audited."""
    unit = create_unit(code, name, kind, parent, sort_order)
    detail = {"code": unit.code, "name": unit.name, "parent": parent.code if parent else None}
    audit.record("unit.created", actor=actor, target=f"unit:{unit.id}", detail=detail, at=now)
    return unit


#: Separators of a unit path written by hand ("区委/组织部"), ASCII or full-width.
UNIT_PATH_SEPARATORS = re.compile(r"\s*[/／]\s*")


def find_units_by_name_path(units: list[Unit], text: str) -> list[Unit]:
    """The units of `units` whose names from the top of the tree read `text` ("区委/组织部"); a single name with
    no separator matches that name anywhere in the tree. Several results mean the path is ambiguous."""
    parts = [p for p in UNIT_PATH_SEPARATORS.split(text.strip()) if p]
    if not parts:
        return []
    if len(parts) == 1:
        return [u for u in units if u.name == parts[0]]
    level = [u for u in units if u.parent_id is None and u.name == parts[0]]
    for part in parts[1:]:
        ids = {u.id for u in level}
        level = [u for u in units if u.parent_id in ids and u.name == part]
    return level


def find_unit(ref: str) -> Unit:
    """The unit named by `ref`: its code, or its path of names from the top ("区委/组织部"), or a name no other
    unit has. Raises a DomainError saying why when none or several match."""
    ref = ref.strip()
    unit = db.session.scalar(select(Unit).where(Unit.code == ref))
    if unit is not None:
        return unit
    found = find_units_by_name_path(list(db.session.scalars(select(Unit))), ref)
    if len(found) > 1:
        raise DomainError(_("Several units match “%(v)s”; use the unit code.", v=ref), code="ambiguous_unit")
    if not found:
        raise DomainError(_("No unit has the code or path “%(v)s”.", v=ref), code="unknown_unit")
    return found[0]


def update_unit(unit: Unit, *, name: str, kind: str, parent: Unit | None, sort_order: int) -> Unit:
    """Rename or move a unit; moving rewrites the paths of its whole subtree."""
    if parent is not None and parent.path.startswith(unit.path):
        raise DomainError(_("A unit cannot be moved under itself or its own sub-unit."), code="unit_cycle")
    if kind not in set(UnitKind):
        raise DomainError(_("Unknown unit kind."), code="bad_unit")
    unit.name, unit.kind, unit.sort_order = name.strip(), kind, sort_order
    if parent is not unit.parent:
        old_path = unit.path
        new_path = (parent.path if parent else "/") + f"{unit.id}/"
        unit.parent = parent
        for node in db.session.scalars(select(Unit).where(Unit.path.startswith(old_path, autoescape=True))):
            node.path = new_path + node.path[len(old_path) :]
    db.session.flush()
    return unit


def unit_tree(root_paths: tuple[str, ...] | None = None) -> list[Unit]:
    """Units in tree order (depth-first, by sort order); limited to subtrees of `root_paths` when given."""
    ordered = tree_order(db.session.scalars(select(Unit)), lambda u: (u.sort_order, u.id))
    if root_paths is not None:
        ordered = [u for u in ordered if any(u.path.startswith(p) for p in root_paths)]
    return ordered


def units_in_scope(user) -> list[Unit]:
    return unit_tree(None if has_district_scope(user) else user.unit_scope_paths)


# ---------------------------------------------------------------- cadres


@dataclass
class CadreData:
    """Validated fields of a cadre; `unit` is a Unit."""

    employee_number: str
    name: str
    gender: str
    birth_date: date
    unit: Unit
    rank: str
    position: str
    education: str
    political_status: str
    phone: str = ""
    status: str = CadreStatus.SERVING


def cadre_data_problems(data: CadreData, today: date) -> list[str]:
    problems = []
    if not USERNAME_RE.match(data.employee_number or ""):
        problems.append(_("An employee number is 2 to 32 letters, digits, '.', '_' or '-'."))
    if not data.name.strip():
        problems.append(_("The name is required."))
    if len(data.name) > 64:
        problems.append(_("The name is too long (at most 64 characters)."))
    if data.birth_date > today or data.birth_date.year < 1900:
        problems.append(_("The birth date is not plausible."))
    for value, enum in (
        (data.gender, Gender),
        (data.rank, Rank),
        (data.education, Education),
        (data.political_status, PoliticalStatus),
        (data.status, CadreStatus),
    ):
        if value not in set(enum):
            problems.append(_("Unknown value: %(v)s", v=value))
    if not PHONE_RE.match(data.phone or ""):
        problems.append(_("The phone number may contain only digits, spaces, '+' and '-'."))
    return problems


def _check_cadre_write(actor: User, data: CadreData, today: date) -> None:
    if not can(actor, "cadre.manage", data.unit):
        raise DomainError(_("The unit is outside your scope."), code="forbidden", status=403)
    problems = cadre_data_problems(data, today)
    if problems:
        raise DomainError(" ".join(problems), code="invalid_cadre")


def create_cadre(actor: User, data: CadreData, now: datetime) -> tuple[Cadre, str]:
    """Create a cadre and their account with a one-time password (returned once, never stored in clear)."""
    return create_cadres(actor, [data], now)[0]


def create_cadres(actor: User, items: list[CadreData], now: datetime, progress=None) -> list[tuple[Cadre, str]]:
    """Create many cadres at once, each as `create_cadre` does (checked, audited), in one flush (a batch import).
    All or none: the first refusal raises before anything is flushed. Returns (cadre, one-time password) pairs, in
    the order of `items`. `progress(1)` is told of each cadre made (a job's progress bar)."""
    numbers = {}
    for data in items:
        _check_cadre_write(actor, data, now.date())
        number = data.employee_number.strip()
        if number.lower() in numbers:
            raise DomainError(_("The employee number %(n)s already exists.", n=number), code="duplicate_number")
        numbers[number.lower()] = number
    keys = list(numbers)
    for start in range(0, len(keys), 500):
        taken = db.session.scalar(select(User.username).where(func.lower(User.username).in_(keys[start : start + 500])))
        if taken is not None:
            raise DomainError(_("The employee number %(n)s already exists.", n=taken), code="duplicate_number")
    created = []
    for data in items:
        password = generate_initial_password()
        user = User(username=data.employee_number.strip(), name=data.name.strip(), must_change_password=True)
        user.set_password(password, one_time=True)
        user.roles.append(RoleAssignment(role=Role.CADRE))
        cadre = Cadre(user=user, created_at=now, updated_at=now)
        _apply(cadre, data)
        db.session.add(cadre)
        created.append((cadre, password))
        if progress:
            progress(1)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:  # a concurrent create of one of the numbers
        number = next(iter(numbers.values())) if len(numbers) == 1 else ""
        message = (_("The employee number %(n)s already exists.", n=number) if number
                   else _("An employee number of the batch was created meanwhile; nothing was created."))  # fmt: skip
        raise DomainError(message, code="duplicate_number") from exc
    for cadre, _password in created:
        audit.record("cadre.created", actor=actor, target=f"user:{cadre.user_id}", at=now)
    for cadre, _password in created:
        events.cadre_changed.send(cadre, actor=actor, now=now, kind="created", changes=None)
    return created


def update_cadre(actor: User, cadre: Cadre, data: CadreData, now: datetime) -> Cadre:
    """Edit a cadre's profile. The employee number (login name) does not change here."""
    update_cadres(actor, [(cadre, data)], now)
    return cadre


def update_cadres(actor: User, items, now: datetime) -> int:
    """Edit many profiles at once, each as `update_cadre` does (checked, audited with its changes), in one flush
    (a batch import). `items`: (cadre, data). All or none: the first refusal raises before anything is flushed.
    Returns how many profiles changed."""
    changed = []
    for cadre, data in items:
        if not can(actor, "cadre.manage", cadre):
            raise DomainError(_("This cadre is outside your scope."), code="forbidden", status=403)
        data.employee_number = cadre.employee_number
        _check_cadre_write(actor, data, now.date())
    for cadre, data in items:
        before, phone = profile_values(cadre), cadre.phone or ""
        _apply(cadre, data)
        changes = profile_changes(before, profile_values(cadre))
        if (cadre.phone or "") != phone and "phone" not in changes:  # the masks agree, the numbers do not
            changes["phone"] = [mask_phone(phone), mask_phone(cadre.phone)]
        if changes:  # saving the form unchanged is no event
            cadre.updated_at = now
            audit.record("cadre.updated", actor=actor, target=f"user:{cadre.user_id}", detail=changes, at=now)
            changed.append((cadre, changes))
    db.session.flush()
    for cadre, changes in changed:
        events.cadre_changed.send(cadre, actor=actor, now=now, kind="updated", changes=changes)
    return len(changed)


def set_cadre_active(actor: User, cadre: Cadre, active: bool, now: datetime) -> None:
    """Deactivate (no login, ends sessions) or reactivate a cadre's account. Records are kept either way."""
    if not can(actor, "cadre.manage", cadre):
        raise DomainError(_("This cadre is outside your scope."), code="forbidden", status=403)
    if cadre.user_id == actor.id and not active:
        raise DomainError(_("You cannot deactivate your own account."), code="self_deactivate")
    if cadre.user.active == active:
        return
    cadre.user.active = active
    cadre.updated_at = now  # who may sit an exam changed (reports re-count on the newest profile change)
    if not active:
        end_all_sessions(cadre.user, now)
    audit.record(
        "cadre.activated" if active else "cadre.deactivated",
        actor=actor,
        target=f"user:{cadre.user_id}",
        detail={"active": [not active, active]},
        at=now,
    )
    db.session.flush()
    events.cadre_changed.send(cadre, actor=actor, now=now, kind="activated" if active else "deactivated", changes=None)


def profile_values(cadre: Cadre) -> dict:
    """A cadre's profile as plain JSON values, for the audit log: every field that decides eligibility (unit, rank,
    birth date, political status, status) and the rest of the profile. Never a password."""
    unit = cadre.unit
    return {
        "name": cadre.user.name,
        "unit": f"{unit.code} {unit.name}" if unit is not None else None,
        "gender": cadre.gender,
        "birth_date": cadre.birth_date.isoformat() if cadre.birth_date else None,
        "rank": cadre.rank,
        "position": cadre.position,
        "education": cadre.education,
        "political_status": cadre.political_status,
        "phone": mask_phone(cadre.phone),  # the log keeps no phone number in clear
        "status": cadre.status,
    }


def profile_changes(before: dict, after: dict) -> dict:
    """{"field": [old, new]} for every field whose value differs."""
    return {key: [before.get(key), value] for key, value in after.items() if before.get(key) != value}


def _apply(cadre: Cadre, data: CadreData) -> None:
    cadre.user.name = data.name.strip()
    cadre.unit = data.unit
    cadre.gender = data.gender
    cadre.birth_date = data.birth_date
    cadre.rank = data.rank
    cadre.position = data.position.strip()
    cadre.education = data.education
    cadre.political_status = data.political_status
    cadre.phone = (data.phone or "").strip()
    cadre.status = data.status
