"""What the candidate's result page shows beyond the engine's own score and review, contributed by the packages
above exam (reports: the candidate's standing among the others): exam imports none of them, so each registers a
provider here at import, as they do with accounts.home for the home page."""

from collections.abc import Callable
from datetime import datetime

_providers: list[Callable[..., dict]] = []


def register(provider: Callable[..., dict]) -> None:
    """`provider(attempt, user, outcome, now)` returns template values for the result page (`outcome`: what
    exam.review.result gives, None while the score is not to be seen)."""
    if provider not in _providers:
        _providers.append(provider)


def values(attempt, user, outcome: dict | None, now: datetime) -> dict:
    out: dict = {}
    for provider in _providers:
        out.update(provider(attempt, user, outcome, now))
    return out
