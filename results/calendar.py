"""The working-day calendar: Monday to Friday work, Saturday and Sunday do not, except the days kept here —
public holidays on weekdays (not working) and adjusted working days (调休) on weekends (working)."""

from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from core import audit
from core.errors import DomainError
from core.extensions import db
from core.models import LOCAL_ZONE
from results.models import CalendarDay, DayKind


def _exceptions(start: date, end: date) -> dict[date, str]:
    rows = db.session.execute(
        select(CalendarDay.day, CalendarDay.kind).where(CalendarDay.day >= start, CalendarDay.day <= end)
    ).all()
    return {day: kind for day, kind in rows}


def is_working_day(day: date, exceptions: dict[date, str] | None = None) -> bool:
    kind = (_exceptions(day, day) if exceptions is None else exceptions).get(day)
    if kind == DayKind.HOLIDAY:
        return False
    if kind == DayKind.WORKDAY:
        return True
    return day.weekday() < 5


def add_working_days(start: date, n: int) -> date:
    """The n-th working day after `start` (`start` itself does not count; n >= 1)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    loaded_to, exceptions = start, {}
    day, left = start, n
    while left:
        day += timedelta(days=1)
        if day > loaded_to:  # the kept days, read a stretch at a time
            loaded_to = day + timedelta(days=2 * n + 60)
            exceptions.update(_exceptions(day, loaded_to))
        if is_working_day(day, exceptions):
            left -= 1
    return day


def end_of_working_days(now: datetime, n: int) -> datetime:
    """When a period of n working days starting the day after `now` (local) ends: midnight after its last day,
    local time, as UTC."""
    from core.models import local_today

    last = add_working_days(local_today(now), n)
    return datetime.combine(last + timedelta(days=1), time(0), tzinfo=LOCAL_ZONE).astimezone(now.tzinfo)


def days(year: int | None = None) -> list[CalendarDay]:
    query = select(CalendarDay).order_by(CalendarDay.day)
    if year is not None:
        query = query.where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
    return list(db.session.scalars(query))


def add_day(actor, day: date, kind: str, name: str, now: datetime) -> CalendarDay:
    """Keep a public holiday (on a weekday) or an adjusted working day (on a weekend); one entry per day."""
    if kind not in set(DayKind):
        raise DomainError(_("Choose a holiday or an adjusted working day."), code="bad_kind")
    if kind == DayKind.HOLIDAY and day.weekday() >= 5:
        raise DomainError(_("A weekend day is not a working day anyway."), code="weekend_holiday",
                          problems=[("day", _("A weekend day is not a working day anyway."))])  # fmt: skip
    if kind == DayKind.WORKDAY and day.weekday() < 5:
        raise DomainError(_("An adjusted working day falls on a weekend."), code="weekday_workday",
                          problems=[("day", _("An adjusted working day falls on a weekend."))])  # fmt: skip
    if db.session.scalar(select(CalendarDay.id).where(CalendarDay.day == day)) is not None:
        raise DomainError(_("That day is already in the calendar."), code="duplicate_day",
                          problems=[("day", _("That day is already in the calendar."))])  # fmt: skip
    entry = CalendarDay(day=day, kind=kind, name=name.strip()[:100])
    db.session.add(entry)
    db.session.flush()
    audit.record("calendar.day_added", actor=actor, target=f"calendar:{day.isoformat()}",
                 detail={"kind": kind, "name": entry.name}, at=now)  # fmt: skip
    return entry


def remove_day(actor, entry: CalendarDay, now: datetime) -> None:
    audit.record("calendar.day_removed", actor=actor, target=f"calendar:{entry.day.isoformat()}",
                 detail={"kind": entry.kind, "name": entry.name}, at=now)  # fmt: skip
    db.session.delete(entry)
    db.session.flush()
