"""Reports: rankings of candidates and units, statistics and item analysis per exam, score reports and slips,
exports, a cadre's exam history and the district's qualification progress."""

from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")

from reports import (  # noqa: E402,F401
    dashboard,  # the home page's figures, registered with accounts.home
    exports,  # the job "reports.export"
    models,  # the table belongs to the schema
    views,  # views register on bp
)
