"""Accounts for other systems and their scoped tokens: what the admin API (integration/) is reached with.

A system account is a User flagged `system`: no password anyone knows, no web login, no cadre profile. It holds an
organisation-department admin's role (the whole district) or unit admins' roles (those units' subtrees), granted
as any role is, and nothing else. Each of its tokens carries scopes (core.policy.API_SCOPES): a request reaches an
operation only when the token has the operation's scope and the account's roles allow its action. Minting and
revoking are audited; what a token does is audited as the account's, as a person's actions are.
"""

import secrets
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select

from accounts.models import ApiToken, RoleAssignment, Unit, User
from accounts.services import USERNAME_RE, new_token, normalise_username
from core import audit
from core.errors import DomainError
from core.extensions import db
from core.models import MAX_INT
from core.policy import API_SCOPES, Role, can, can_grant_role


def parse_scopes(values) -> list[str]:
    """Scopes named one by one or space- or comma-separated, each known; in API_SCOPES' order, once each."""
    named = {part for value in values for part in str(value).replace(",", " ").split()}
    unknown = sorted(named - set(API_SCOPES))
    if unknown:
        raise DomainError(_("Unknown scope: %(s)s. Known scopes: %(known)s.", s=", ".join(unknown),
                            known=", ".join(API_SCOPES)), code="bad_scope")  # fmt: skip
    if not named:
        raise DomainError(_("A system token needs at least one scope."), code="bad_scope")
    return [scope for scope in API_SCOPES if scope in named]


def create_account(actor: User, username: str, name: str, units: list[Unit], now: datetime) -> User:
    """A system account: with no `units`, an organisation-department admin (the district); else a unit admin of
    each unit. The actor must be allowed to grant those roles."""
    if not can(actor, "system.manage"):
        raise DomainError(_("You may not manage system accounts."), code="forbidden", status=403)
    username = normalise_username(username)
    if not USERNAME_RE.match(username):
        raise DomainError(_("A username is 2 to 32 letters, digits, '.', '_' or '-'."), code="bad_username")
    if db.session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        raise DomainError(_("The username %(u)s is already taken.", u=username), code="duplicate_username")
    role = Role.UNIT_ADMIN if units else Role.ORG_ADMIN
    if not can_grant_role(actor, role):
        raise DomainError(_("You may not grant this role."), code="forbidden", status=403)
    # Nobody knows this password and none can be set: authenticate() refuses a system account whatever is typed.
    user = User(username=username, name=(name or username).strip()[:64], must_change_password=False, system=True,
                created_at=now)  # fmt: skip
    user.set_password(secrets.token_urlsafe(32))
    user.roles.extend(RoleAssignment(role=role, unit=unit) for unit in units or [None])
    db.session.add(user)
    db.session.flush()
    audit.record("system.account_created", actor=actor, target=f"user:{user.id}",
                 detail={"username": username, "role": role, "units": [u.code for u in units]}, at=now)  # fmt: skip
    return user


def mint_token(actor: User, account: User, name: str, scopes, now: datetime) -> str:
    """A token of the system `account` with these scopes; returned once, stored as its SHA-256, audited."""
    if not can(actor, "system.manage"):
        raise DomainError(_("You may not manage system accounts."), code="forbidden", status=403)
    if not account.system:
        raise DomainError(_("Scoped tokens belong to system accounts only."), code="not_system")
    scopes = parse_scopes(scopes)
    token, row = new_token(account, name or "system", now, scopes=" ".join(scopes))
    db.session.flush()
    audit.record("token.created_system", actor=actor, target=f"user:{account.id}",
                 detail={"token": row.id, "name": row.name, "scopes": scopes}, at=now)  # fmt: skip
    return token


def revoke_token(actor: User, token_id, now: datetime) -> ApiToken:
    """Revoke a system account's token (audited); no such token, or a person's, is "no such token"."""
    if not can(actor, "system.manage"):
        raise DomainError(_("You may not manage system accounts."), code="forbidden", status=403)
    token = db.session.get(ApiToken, token_id) if isinstance(token_id, int) and 0 < token_id <= MAX_INT else None
    if token is None or token.scopes is None:
        raise DomainError(_("No such token."), code="not_found", status=404)
    if token.revoked_at is None:
        token.revoked_at = now
        audit.record("token.revoked", actor=actor, target=f"user:{token.user_id}",
                     detail={"token": token.id, "name": token.name, "created_at": token.created_at.isoformat(),
                             "reason": "system"}, at=now)  # fmt: skip
    db.session.flush()
    return token


def set_active(actor: User, account: User, active: bool, now: datetime) -> None:
    """Disable a system account (every token of it stops within a second, kept for the record) or enable it again;
    audited."""
    if not can(actor, "system.manage"):
        raise DomainError(_("You may not manage system accounts."), code="forbidden", status=403)
    if not account.system:
        raise DomainError(_("No system account %(u)s.", u=account.username), code="not_found", status=404)
    if account.active != active:
        account.active = active
        audit.record("system.account_activated" if active else "system.account_deactivated", actor=actor,
                     target=f"user:{account.id}", detail={"active": [not active, active]}, at=now)  # fmt: skip
    db.session.flush()


def accounts() -> list[User]:
    return list(db.session.scalars(select(User).where(User.system.is_(True)).order_by(User.username)))


def tokens_of(account: User) -> list[ApiToken]:
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == account.id).order_by(ApiToken.created_at.desc(), ApiToken.id)
    ))  # fmt: skip


def find_account(username: str) -> User:
    user = db.session.scalar(select(User).where(func.lower(User.username) == normalise_username(username).lower()))
    if user is None or not user.system:
        raise DomainError(_("No system account %(u)s.", u=username), code="not_found", status=404)
    return user
