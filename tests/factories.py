"""Factories: plain functions with keyword overrides. They add and flush; the test commits when a request must see
the rows."""

from datetime import date
from functools import cache
from itertools import count

from werkzeug.security import generate_password_hash

from accounts.models import Cadre, RoleAssignment, Unit, User
from accounts.services import create_unit
from core.extensions import db
from core.policy import Role

PASSWORD = "Passw0rd-test"
_seq = count(1)


@cache
def _password_hash() -> str:
    # scrypt is slow on purpose; hash the shared test password once per run.
    return generate_password_hash(PASSWORD)


def make_unit(name=None, parent=None, code=None, kind="department") -> Unit:
    n = next(_seq)
    return create_unit(code or f"U{n}", name or f"单位{n}", kind, parent)


def make_user(username=None, name=None, roles=(), must_change_password=False, active=True, unit=None) -> User:
    n = next(_seq)
    user = User(
        username=username or f"u{n:05d}",
        name=name or f"用户{n}",
        password_hash=_password_hash(),
        must_change_password=must_change_password,
        active=active,
    )
    for role in roles:
        user.roles.append(RoleAssignment(role=role, unit=unit if role == Role.UNIT_ADMIN else None))
    db.session.add(user)
    db.session.flush()
    return user


def make_cadre(unit=None, birth_date=date(1995, 6, 1), rank="staff", user=None, **user_kwargs) -> Cadre:
    unit = unit or make_unit()
    user = user or make_user(roles=user_kwargs.pop("roles", (Role.CADRE,)), **user_kwargs)
    cadre = Cadre(
        user=user,
        unit=unit,
        gender="female",
        birth_date=birth_date,
        rank=rank,
        position="科员",
        education="bachelor",
        political_status="cpc_member",
        phone="13900000000",
    )
    db.session.add(cadre)
    db.session.flush()
    return cadre


def make_user_with_role(role, unit=None, **kwargs) -> User:
    """A user holding `role`; a unit admin administers `unit` (a new one unless given)."""
    role = Role(role)
    if role == Role.UNIT_ADMIN:
        unit = unit or make_unit()
        user = make_user(roles=(role,), unit=unit, **kwargs)
        make_cadre(unit=unit, user=user)
        return user
    if role == Role.CADRE:
        return make_cadre(unit=unit, **kwargs).user
    return make_user(roles=(role,), **kwargs)
