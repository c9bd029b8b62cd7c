"""Exams: definitions, papers, attempts, timing, grading and the candidate JSON API."""

from flask import Blueprint

bp = Blueprint("exam", __name__, url_prefix="/exams")

from exam import (  # noqa: E402,F401
    audit_targets,  # the audit page's names for exam targets
    conflicts,  # registers the conflicts of interest with core.policy
    integrity,  # the guards of exam records
    jobs,  # drawing papers and the finalizer on the job engine
    marking,  # registers who marks, arbitrates and samples with core.policy
    models,  # the tables belong to the schema
    views,  # views register on bp
)


@bp.app_context_processor
def _exam_labels():
    return {
        "phase_labels": models.PHASE_LABELS,
        "paper_mode_labels": models.PAPER_MODE_LABELS,
        "mc_policy_labels": models.MC_POLICY_LABELS,
        "release_labels": models.RELEASE_LABELS,
        "review_labels": models.REVIEW_LABELS,
        "attempt_status_labels": models.ATTEMPT_STATUS_LABELS,
        "event_labels": models.EVENT_LABELS,
        "marking_mode_labels": models.MARKING_MODE_LABELS,
        "marking_role_labels": models.MARKING_ROLE_LABELS,
        "mark_kind_labels": models.MARK_KIND_LABELS,
    }
