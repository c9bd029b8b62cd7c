"""Reports: rankings of candidates and units, statistics and item analysis per exam, score reports and slips,
exports, a cadre's exam history and the district's qualification progress."""

from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")

from reports import (  # noqa: E402,F401
    dashboard,  # the home page's figures, registered with accounts.home
    exports,  # the jobs "reports.export" and "reports.slips"
    jobs,  # the item analysis and the kept ranking as jobs, registered with the job engine
    models,  # the table belongs to the schema
    ranking,
    standing,  # the result page's standing, registered with exam.result_page
    views,  # views register on bp
)
