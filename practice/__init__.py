"""以考促学: practice by chapter and knowledge point with feedback at once, and each cadre's wrong-answer book.
Above exam (it reads the formal exams to keep their questions out of practice: practice.pool), never below it:
no formal exam, ranking, statistic or archive record reads a practice table."""

from flask import Blueprint

bp = Blueprint("practice", __name__, url_prefix="/practice")

from practice import (  # noqa: E402,F401
    models,  # the tables belong to the schema
    pool,
    views,  # the pages
)
from question_bank.access import register_practice_access  # noqa: E402

register_practice_access(pool.question_access)  # the bank's pages show what practice serves, by its one rule


@bp.app_context_processor
def _practice_labels():
    return {"practice_mode_labels": models.MODE_LABELS}
