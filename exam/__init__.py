"""Exams: definitions, papers, attempts, timing, grading and the candidate JSON API (built in a later issue)."""

from flask import Blueprint

bp = Blueprint("exam", __name__, url_prefix="/exams")

from exam import models, views  # noqa: E402,F401  (the tables belong to the schema; views register on bp)


@bp.app_context_processor
def _exam_labels():
    return {"phase_labels": models.PHASE_LABELS}
