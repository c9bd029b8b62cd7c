"""Learning archives (干部学习档案): records and their revisions, training classes, required reading, study plans,
the annual assessment, qualifications and certificates; exam results are written here by the exam engine."""

from flask import Blueprint

bp = Blueprint("archive", __name__, url_prefix="/archive")

from archive import (  # noqa: E402,F401
    audit_targets,  # the audit page's names for archive targets
    models,  # the tables belong to the schema
    services,  # listens to core.events.attempt_finalized: every graded attempt's result is recorded
    views,  # views register on bp
)


def choice_label(value) -> str:
    """The label of a value an archive form offers (its own kinds and states, education levels, modes of study)."""
    from accounts.models import label as profile_label
    from archive.records import CHOICE_LABELS

    if value in CHOICE_LABELS:
        return str(CHOICE_LABELS[value])
    return models.label(value) if value in models.LABELS else profile_label(value)


@bp.app_context_processor
def _archive_labels():
    return {"archive_label": models.label, "review_label": models.review_label, "choice_label": choice_label}
