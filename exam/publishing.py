"""Publishing an exam: checked, published, and its papers prepared."""

from datetime import datetime

from flask_babel import gettext as _

from core import audit
from core.errors import DomainError
from exam.models import Exam, ExamStatus
from exam.papers import check_pools, prepare_papers


def publish(actor, exam: Exam, now: datetime, *, draw: bool = True) -> int:
    """Check the exam, publish it and prepare the papers in this transaction; returns how many papers were drawn.
    With `draw=False` the caller has them drawn by the job (exam.jobs.prepare_later, or `run_here` on the command
    line), and 0 is returned."""
    if exam.status != ExamStatus.DRAFT:
        raise DomainError(_("Only a draft exam can be published."), code="bad_transition")
    problems = check_pools(exam)
    if problems:
        raise DomainError(" ".join(problems), code="exam_incomplete")
    exam.status, exam.published_at = ExamStatus.PUBLISHED, now
    audit.record("exam.published", actor=actor, target=f"exam:{exam.code}", at=now)
    return prepare_papers(exam, now) if draw else 0
