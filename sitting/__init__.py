"""The sitting (考务): rooms, an exam's sessions and seats, admission tickets, check-in, the proctors' console,
incidents and decisions, and the sitting record. Above the exam engine, which it reaches through plain functions
(exam.adjustments) and one start check it registers (sitting.checkin)."""

from flask import Blueprint

bp = Blueprint("sitting", __name__, url_prefix="/sitting")

from sitting import (  # noqa: E402,F401
    console_views,  # the proctor's console (监考台)
    models,  # the tables belong to the schema
    services,  # registers the proctors' places with core.policy
)
