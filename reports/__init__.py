"""Reports: rankings, statistics, item analysis and exports (built in a later issue)."""

from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")
