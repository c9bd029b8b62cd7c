"""Accounts: users, roles, login sessions, the unit tree and cadre profiles."""

from flask import Blueprint

bp = Blueprint("accounts", __name__)

from accounts import (  # noqa: E402,F401
    audit_targets,  # the audit page's names
    jobs,  # the import jobs
    photo_views,  # the profile photos' routes on bp
    views,  # routes on bp
)
