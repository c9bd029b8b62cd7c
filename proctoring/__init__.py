"""Proctoring in the browser (issue 25): per exam, a watermark on the paper, full screen with a limit on leaving
it, an inactivity warning, camera snapshots with the candidate's consent (kept for a set time, their viewing
audited) and the networks a start may come from. Above the exam engine (its timeline takes the page's signals
through exam.timeline.register_reported_kinds; its start takes one more check) and beside the sitting (whose
proctors see the snapshots of their rooms)."""

from flask import Blueprint

bp = Blueprint("proctoring", __name__, url_prefix="/proctoring")

from proctoring import (  # noqa: E402,F401
    api,  # the snapshots' upload (the exam page's JSON API)
    jobs,  # the snapshots' retention (a periodic job)
    models,  # the tables belong to the schema
    services,  # the start check (networks, camera)
    signals,  # the page's signals registered with the exam's timeline
    views,  # the settings page, an attempt's snapshots
)
