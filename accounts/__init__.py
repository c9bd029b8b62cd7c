"""Accounts: users, roles, login sessions, the unit tree and cadre profiles."""

from flask import Blueprint

bp = Blueprint("accounts", __name__)

from accounts import audit_targets, jobs, views  # noqa: E402,F401  (routes on bp; audit_targets: the audit page's names; jobs: the import jobs)
