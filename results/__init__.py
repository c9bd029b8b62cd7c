"""The score lifecycle (成绩生命周期) of official exams: marked → checked (复核) → approved (审批) → public notice
(公示) → final (归档), the notices and their PDFs, the public check of a notice's serial, and the working-day
calendar. Above exam and archive, which it reaches through hooks they offer (exam.definition's release check,
exam.visibility's rule, archive.services' final rule). Appeals during the notice (results.appeals) and formal
corrections of final results (results.corrections) change marks through exam.marking.set_final_mark."""

from flask import Blueprint

bp = Blueprint("results", __name__, url_prefix="/results")
verify_bp = Blueprint("notice_verify", __name__, url_prefix="/verify/notice")

from results import (  # noqa: E402,F401
    appeal_views,  # the appeal and correction pages
    appeals,  # registers the count of open appeals with the lifecycle
    audit_targets,  # the audit page's words for the lifecycle's details
    home,  # the candidate's results' states on the home page and the result page
    jobs,  # the periodic finalizer
    lifecycle,  # registers the hooks with exam, archive and core.policy
    models,  # the tables belong to the schema
    views,  # the pages
)
