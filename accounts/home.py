"""What the home page shows beyond the account itself, contributed by the packages above accounts (a person's
exams, the admins' figures): accounts imports none of them, so each registers a provider here at import, as
exam registers its conflicts of interest with core.policy."""

from collections.abc import Callable
from datetime import datetime

_providers: list[Callable[[object, datetime], dict]] = []


def register(provider: Callable[[object, datetime], dict]) -> None:
    """`provider(user, now)` returns template values for the home page."""
    if provider not in _providers:
        _providers.append(provider)


def values(user, now: datetime) -> dict:
    out: dict = {}
    for provider in _providers:
        out.update(provider(user, now))
    return out
