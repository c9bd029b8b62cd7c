"""Practice time counted as in-service self-study (在职自学), up to the district's yearly cap, as archive entries
the cadre confirms (and a keeper of the archive reviews, like any self-study they add).

The rule for practice time: each practice answer counts the time since the cadre's previous answer in the same
session (or since the session began), at most ANSWER_MAX_SECONDS, so that a session left open counts nothing
while idle; a mock exam counts the time from its start to its hand-in, at most its duration. Hours are offered in
half hours, rounded down."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select

from accounts.models import Cadre
from archive import records
from archive.models import ArchiveEntry, EntryKind, EntryStatus
from core.errors import DomainError
from core.extensions import db
from core.models import LOCAL_ZONE, local_today
from practice.models import HourClaim, Mode, PracticeAnswer, PracticeSession

ANSWER_MAX_SECONDS = 300


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    start = datetime(year, 1, 1, tzinfo=LOCAL_ZONE)
    return start, datetime(year + 1, 1, 1, tzinfo=LOCAL_ZONE)


def practised_seconds(user_id: int, year: int) -> tuple[float, int]:
    """The practice time of the (local) year by the rule above, and the number of answers."""
    start, end = _year_bounds(year)
    rows = db.session.execute(
        select(PracticeAnswer.session_id, PracticeAnswer.answered_at, PracticeSession.mode,
               PracticeSession.started_at, PracticeSession.deadline_at)
        .join(PracticeSession, PracticeSession.id == PracticeAnswer.session_id)
        .where(PracticeAnswer.user_id == user_id, PracticeAnswer.answered_at >= start, PracticeAnswer.answered_at < end)
        .order_by(PracticeAnswer.session_id, PracticeAnswer.answered_at, PracticeAnswer.id)
    ).all()  # fmt: skip
    total, previous, mocks = 0.0, {}, set()
    for row in rows:
        if row.mode == Mode.MOCK:
            if row.session_id not in mocks:  # every answer of a mock comes at its hand-in
                mocks.add(row.session_id)
                allowed = (row.deadline_at - row.started_at).total_seconds() if row.deadline_at else 0
                total += max(0.0, min((row.answered_at - row.started_at).total_seconds(), allowed))
            continue
        since = previous.get(row.session_id, row.started_at)
        total += max(0.0, min((row.answered_at - since).total_seconds(), ANSWER_MAX_SECONDS))
        previous[row.session_id] = row.answered_at
    return total, len(rows)


def claimed_hours(user_id: int, year: int) -> float:
    """Hours of the year's practice already put into the archive (entries neither removed nor turned down)."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(HourClaim.hours), 0))
        .join(ArchiveEntry, ArchiveEntry.id == HourClaim.entry_id)
        .where(
            HourClaim.user_id == user_id,
            HourClaim.year == year,
            ArchiveEntry.deleted_at.is_(None),
            ArchiveEntry.status != EntryStatus.REJECTED,
        )
    )
    return float(total or 0)


@dataclass(frozen=True)
class Offer:
    year: int
    practised_hours: float  # by the rule, unrounded
    answers: int
    cap: float
    claimed: float
    offered: float  # what a confirmation would add now (half hours, within the cap)


def offer(user, now: datetime) -> Offer | None:
    """This year's offer to the cadre, or None when practice does not count this year (no cap set, a closed year,
    or no cadre profile)."""
    year = local_today(now).year
    row = records.archive_year(year)
    if user.cadre is None or row is None or not row.practice_hours_cap or row.closed_at is not None:
        return None
    seconds, answers = practised_seconds(user.id, year)
    hours = seconds / 3600
    cap = float(row.practice_hours_cap)
    claimed = claimed_hours(user.id, year)
    offered = max(0.0, math.floor(min(hours, cap) * 2) / 2 - claimed)
    return Offer(year, hours, answers, cap, claimed, offered)


def claim(user, now: datetime) -> ArchiveEntry:
    """Put the hours on offer into the cadre's archive as a self-study entry of their own (waiting for review)."""
    found = offer(user, now)
    if found is None or found.offered < 0.5:
        raise DomainError(_("There are no practice hours to add to your archive now."), code="nothing_to_claim",
                          status=409)  # fmt: skip
    cadre = db.session.scalar(select(Cadre).where(Cadre.user_id == user.id))
    first = db.session.scalar(
        select(func.min(PracticeAnswer.answered_at)).where(
            PracticeAnswer.user_id == user.id, PracticeAnswer.answered_at >= _year_bounds(found.year)[0]
        )
    )
    starts = max(first.astimezone(LOCAL_ZONE).date(), local_today(now) - timedelta(days=366))
    evidence = _(
        "Online practice in QualExam (以考促学): %(n)d answers, %(h).1f hours by the rule (each answer counts the "
        "time since the previous one, at most 5 minutes; a mock exam its time, at most its duration).",
        n=found.answers, h=found.practised_hours,
    )  # fmt: skip
    raw = {"title": _("Online practice (以考促学)"), "starts_on": starts, "hours": found.offered, "evidence": evidence}
    entry = records.add_entry(user, cadre, EntryKind.SELF_STUDY, raw, now)
    db.session.add(HourClaim(user_id=user.id, year=found.year, entry_id=entry.id, hours=found.offered, claimed_at=now))
    db.session.flush()
    return entry
