"""The kinds of long work, registered by the packages that own them (as `core.policy` hooks are).

A handler is a plain function of a `jobs.runner.Context`: it reads its parameters, reports progress, and does its
work in the context's database session. It does not commit its final step: the runner records the job's completion
in the same transaction, so a worker killed before that commit leaves nothing applied and the job is run again, and
a worker killed after it leaves the job done (never applied twice). Handlers that commit batches on the way
(drawing papers) make each batch idempotent instead.
"""

from collections.abc import Callable
from dataclasses import dataclass


class JobError(Exception):
    """A failure the person who started the job can act on (shown as the reason); the job is not retried."""


@dataclass(frozen=True)
class Kind:
    name: str
    handler: Callable
    #: Shown in the jobs list (a lazy string).
    label: object
    #: Whether a person may stop it half-way (its work is one transaction, or what it leaves is harmless).
    cancellable: bool = True
    #: `readable(user, job) -> bool`: may this person read the job's files now? Asked at every download, of the
    #: owner too, for files whose content depends on rights that can change (results under a conflict of interest).
    readable: Callable | None = None


@dataclass(frozen=True)
class Periodic:
    name: str
    func: Callable
    #: Run at most once per this many seconds, by one worker at a time in the whole installation.
    every: int


_kinds: dict[str, Kind] = {}
_periodic: dict[str, Periodic] = {}


def register(name: str, label, *, cancellable: bool = True, readable: Callable | None = None):
    """Decorator: `@register("reports.item-analysis", _l("Item analysis"))` on a handler."""

    def decorator(handler):
        _kinds[name] = Kind(name, handler, label, cancellable, readable)
        return handler

    return decorator


def periodic(name: str, every: int):
    """Decorator: `func(now)` runs from the sweep every `every` seconds, by one runner at a time."""

    def decorator(func):
        _periodic[name] = Periodic(name, func, every)
        return func

    return decorator


def kind(name: str) -> Kind | None:
    return _kinds.get(name)


def kinds() -> dict[str, Kind]:
    return dict(_kinds)


def periodic_work() -> list[Periodic]:
    return list(_periodic.values())
