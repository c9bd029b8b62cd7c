"""Question banks: banks, categories, versioned questions, import/export formats (built in a later issue)."""

from flask import Blueprint

bp = Blueprint("question_bank", __name__, url_prefix="/banks")

from question_bank import audit_targets, jobs, views  # noqa: E402,F401  (routes on bp; audit_targets: the audit page's names; jobs: the import job)
