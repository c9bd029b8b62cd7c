"""The policy module in isolation: roles, scope and rank rules."""

from types import SimpleNamespace

import pytest

from core.policy import Role, can, can_grant_role, in_scope, known_actions


def person(*roles, scopes=()):
    return SimpleNamespace(is_authenticated=True, role_names=frozenset(roles), unit_scope_paths=tuple(scopes))


def target(path, *roles):
    return SimpleNamespace(unit_path=path, account_roles=frozenset(roles))


def test_unknown_action_is_a_programming_error():
    with pytest.raises(KeyError):
        can(person(Role.SYSTEM_ADMIN), "no.such.action")


def test_anonymous_can_do_nothing():
    anon = SimpleNamespace(is_authenticated=False, role_names=frozenset(), unit_scope_paths=())
    assert not any(can(anon, action) for action in known_actions())


def test_cadre_has_no_admin_action():
    assert not any(can(person(Role.CADRE), action) for action in known_actions())


def test_unit_admin_scope_is_a_subtree():
    admin = person(Role.UNIT_ADMIN, scopes=["/1/4/"])
    assert in_scope(admin, "/1/4/") and in_scope(admin, "/1/4/9/")
    assert not in_scope(admin, "/1/40/")  # a sibling whose id merely starts the same way
    assert not in_scope(admin, "/1/")
    assert can(admin, "cadre.manage", target("/1/4/9/", Role.CADRE))
    assert not can(admin, "cadre.manage", target("/1/5/", Role.CADRE))


def test_nobody_but_a_system_admin_manages_an_equal_or_higher_account():
    unit_admin = person(Role.UNIT_ADMIN, scopes=["/1/"])
    org_admin = person(Role.ORG_ADMIN)
    assert not can(unit_admin, "account.reset_password", target("/1/2/", Role.ORG_ADMIN, Role.CADRE))
    assert not can(unit_admin, "account.reset_password", target("/1/2/", Role.UNIT_ADMIN))
    assert can(unit_admin, "cadre.view", target("/1/2/", Role.ORG_ADMIN))  # seeing is not managing
    assert not can(org_admin, "account.reset_password", target(None, Role.SYSTEM_ADMIN))
    assert not can(org_admin, "account.reset_password", target(None, Role.ORG_ADMIN))
    assert can(person(Role.SYSTEM_ADMIN), "account.reset_password", target(None, Role.SYSTEM_ADMIN))


def test_only_system_admins_grant_system_admin():
    assert not can_grant_role(person(Role.ORG_ADMIN), Role.SYSTEM_ADMIN)
    assert can_grant_role(person(Role.ORG_ADMIN), Role.UNIT_ADMIN)
    assert can_grant_role(person(Role.SYSTEM_ADMIN), Role.SYSTEM_ADMIN)
    assert not can_grant_role(person(Role.UNIT_ADMIN, scopes=["/1/"]), Role.CADRE)
