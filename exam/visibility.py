"""When a candidate may see their score and the keys."""

from datetime import datetime

from exam.attempts import grace
from exam.models import Attempt, AttemptStatus, ExamStatus

#: Rules a package above exam registers: `rule(attempt, now)` answers True or False to decide the score's
#: visibility, or None to leave it to the release policy (results.lifecycle: an official exam's score shows only
#: once its public notice is published).
_rules: list = []


def register_rule(rule) -> None:
    if rule not in _rules:
        _rules.append(rule)


def review_visible(attempt: Attempt, now: datetime) -> bool:
    """May the candidate see the keys (and explanations, as the review policy says) now? Only once nobody can
    still be answering: when results were released by hand, or when the window has closed and its network grace
    has passed. A score may come sooner (the release policy); the keys never while others sit the exam."""
    exam = attempt.exam
    if not result_visible(attempt, now):
        return False
    return exam.status == ExamStatus.RELEASED or now >= exam.closes_at + grace()


def result_visible(attempt: Attempt, now: datetime) -> bool:
    """May the candidate see their score now (the exam's release policy)?"""
    exam = attempt.exam
    if attempt.status == AttemptStatus.IN_PROGRESS:
        return False
    for rule in _rules:
        verdict = rule(attempt, now)
        if verdict is not None:
            return verdict
    if exam.status == ExamStatus.RELEASED:
        return True
    if exam.release_policy == "immediate":
        return True
    return exam.release_policy == "after_close" and now >= exam.closes_at
