"""The sitting (考务): rooms, an exam's sessions and seats, admission tickets, check-in, the proctors' console,
incidents and decisions, and the sitting record. Above the exam engine, which it reaches through plain functions
(exam.adjustments) and one start check it registers (sitting.checkin)."""

from flask import Blueprint

bp = Blueprint("sitting", __name__, url_prefix="/sitting")

from sitting import (  # noqa: E402,F401
    admin_views,  # the admins' pages: rooms, sessions, seats, proctors
    audit_targets,  # the audit page's names for rooms and the details' codes
    checkin,  # the start check and the absences' periodic job
    checkin_views,  # the door's pages
    console_views,  # the proctor's console (监考台)
    home,  # the candidate's seats and tickets on the home page
    incident_views,  # incidents and decisions, the sitting record's downloads
    jobs,  # the tickets' batch (a job kind)
    models,  # the tables belong to the schema
    services,  # registers the proctors' places with core.policy
    ticket_views,  # admission tickets, door lists and seat plans
)
