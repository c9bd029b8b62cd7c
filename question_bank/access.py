"""What each question is open to in practice, as the bank's pages show it. The rule lives in practice.pool, above
question_bank, which registers it here at import: question_bank never imports practice (the domain lines)."""

from collections.abc import Callable
from datetime import datetime

from flask_babel import lazy_pgettext

#: `fn(question_ids, now) -> {question id: access}`, registered by practice (practice.pool.question_access).
_practice_access: Callable[[list[int], datetime], dict[int, str]] | None = None

#: What the badge adds to a question's use when practice does not serve it now ("exam_only", "practice" and
#: "inactive" need no word: the use and the status say it).
PRACTICE_NOTES = {
    "held": lazy_pgettext("practice access", "held by an exam ahead"),
    "closed": lazy_pgettext("practice access", "bank not open for practice"),
}


def register_practice_access(fn: Callable[[list[int], datetime], dict[int, str]]) -> None:
    global _practice_access
    _practice_access = fn


def practice_access(question_ids, now: datetime) -> dict[int, str]:
    """What each question is open to now: "exam_only", "practice", "held", "closed" or "inactive"; empty when no
    practice package is installed."""
    ids = list(question_ids)
    if _practice_access is None or not ids:
        return {}
    return _practice_access(ids, now)
