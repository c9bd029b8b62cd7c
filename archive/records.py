"""Archive entries: the kinds and their fields, adding, correcting, removing and reviewing, and the years.

Every write makes an `ArchiveRevision` (who, when, why, the values after it); a removal is a soft delete with a
reason; an entry that a training class wrote changes only through the class; a closed year changes no more.
Functions take `now`, flush and never commit, like every service.
"""

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy import select

from accounts.models import EDUCATION_ORDER, Cadre, Education
from archive import figures
from archive.models import (
    ArchiveEntry,
    ArchiveRevision,
    ArchiveYear,
    ClassType,
    Completion,
    DegreeStatus,
    EntryKind,
    EntryStatus,
    HourKind,
)
from core import audit
from core.errors import DomainError
from core.extensions import db
from core.models import local_today
from core.policy import can, is_archive_owner

MAX_HOURS = 2000
REASON_MAX = 500


@dataclass(frozen=True)
class Field:
    name: str
    label: object
    kind: str = "text"  # text, longtext, date, hours, choice
    required: bool = True
    choices: tuple = ()
    max_length: int = 200


#: The fields of each kind of entry, in the order forms show them. `title`, `starts_on`, `ends_on` and `hours` are
#: columns of the entry; the others go to its details.
KIND_FIELDS: dict[str, tuple[Field, ...]] = {
    EntryKind.DEGREE: (
        Field("institution", _l("Institution")),
        Field("major", _l("Major")),
        Field(
            "level",
            _l("Level"),
            "choice",
            choices=(Education.DOCTORATE, Education.MASTER, Education.BACHELOR, Education.COLLEGE),
        ),  # fmt: skip
        Field("study_mode", _l("Mode of study"), "choice", choices=("full_time", "part_time")),
        Field("degree_status", _l("Status"), "choice", choices=tuple(DegreeStatus)),
        Field("starts_on", _l("Start date"), "date"),
        Field("ends_on", _l("End (or expected end)"), "date", required=False),
    ),
    EntryKind.TRAINING: (
        Field("title", _l("Class")),
        Field("organiser", _l("Organiser")),
        Field("place", _l("Place")),
        Field("class_type", lazy_pgettext("training class", "Type"), "choice", choices=tuple(ClassType)),
        Field("hour_kind", _l("Counts as"), "choice", choices=(HourKind.OFF_JOB, HourKind.ROTATIONAL)),
        Field("starts_on", _l("Start date"), "date"),
        Field("ends_on", _l("End"), "date"),
        Field("hours", _l("Hours"), "hours"),
        Field("completion", _l("Completion"), "choice", choices=(Completion.COMPLETED, Completion.NOT_COMPLETED)),
    ),
    EntryKind.COLLECTIVE: (
        Field("title", _l("Topic")),
        Field("organiser", _l("Organised by"), max_length=200),
        Field("starts_on", _l("Date"), "date"),
        Field("hours", _l("Hours"), "hours"),
    ),
    EntryKind.SELF_STUDY: (
        Field("title", _l("What was studied")),
        Field("starts_on", _l("Date (or start)"), "date"),
        Field("hours", _l("Hours"), "hours"),
        Field("evidence", _l("Evidence"), "longtext", max_length=2000),
    ),
}
_COLUMNS = ("title", "starts_on", "ends_on", "hours")
CHOICE_LABELS = {"full_time": _l("Full-time"), "part_time": _l("Part-time")}
#: Kinds an admin adds by hand (training classes held here come from their class).
ADMIN_KINDS = (EntryKind.DEGREE, EntryKind.TRAINING, EntryKind.COLLECTIVE, EntryKind.SELF_STUDY)
#: Kinds the cadre adds to their own archive; a reviewer accepts them.
OWNER_KINDS = (EntryKind.SELF_STUDY,)


# ---------------------------------------------------------------- years


def archive_year(year: int) -> ArchiveYear | None:
    return db.session.get(ArchiveYear, year)


def year_closed(year: int) -> bool:
    row = archive_year(year)
    return bool(row and row.closed_at)


def check_open(year: int) -> None:
    if year_closed(year):
        raise DomainError(_("The year %(y)d is closed: its archive can no longer change.", y=year), code="year_closed")


def _hours_value(hours) -> bool:
    return isinstance(hours, int | float) and not isinstance(hours, bool) and 0 <= hours <= MAX_HOURS


def set_required_hours(actor, year: int, hours, now: datetime, practice_cap=None) -> ArchiveYear:
    """The hours every cadre should reach in the year, and (when given) the hours of online practice a cadre may
    count as self-study (以考促学)."""
    if not _hours_value(hours):
        raise DomainError(_("The required hours are 0 to %(n)d.", n=MAX_HOURS), code="bad_hours")
    if practice_cap is not None and not _hours_value(practice_cap):
        raise DomainError(_("The practice hours are 0 to %(n)d.", n=MAX_HOURS), code="bad_hours")
    check_open(year)
    row = archive_year(year) or ArchiveYear(year=year)
    old, old_cap = row.required_hours, row.practice_hours_cap
    row.required_hours = float(hours)
    detail = {"old": old, "new": float(hours)}
    if practice_cap is not None:
        row.practice_hours_cap = float(practice_cap)
        detail.update(practice_old=old_cap, practice_new=float(practice_cap))
    db.session.add(row)
    audit.record("archive.year.hours", actor=actor, target=f"year:{year}", detail=detail, at=now)
    db.session.flush()
    return row


def close_year(actor, year: int, now: datetime) -> ArchiveYear:
    """Close a year: from now on nothing of it changes (entries, classes, notes, plans, assessments)."""
    check_open(year)
    if year > local_today(now).year:
        raise DomainError(_("A year can be closed only once it has begun."), code="year_future")
    row = archive_year(year) or ArchiveYear(year=year, required_hours=0)
    row.closed_at, row.closed_by_id = now, actor.id
    db.session.add(row)
    audit.record("archive.year.closed", actor=actor, target=f"year:{year}", at=now)
    db.session.flush()
    return row


# ---------------------------------------------------------------- values


def _reason(reason: str | None, required: bool) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise DomainError(_("Say why (the reason is kept in the history)."), code="reason_required",
                          problems=[("reason", _("Say why (the reason is kept in the history)."))])  # fmt: skip
    if len(reason) > REASON_MAX:
        message = _("The reason is at most %(n)d characters.", n=REASON_MAX)
        raise DomainError(message, code="bad_reason", problems=[("reason", message)])
    return reason


def entry_values(kind: str, raw: dict) -> dict:
    """The entry's columns and details from raw field values (strings, dates, numbers), checked against its kind.
    Raises DomainError naming every field at fault."""
    if kind not in KIND_FIELDS:
        raise DomainError(_("Unknown kind of record."), code="bad_kind")
    problems, clean = [], {}
    for f in KIND_FIELDS[kind]:
        value = raw.get(f.name)
        if isinstance(value, str):
            value = value.strip()
        if value in (None, ""):
            if f.required:
                problems.append((f.name, _("Required.")))
            clean[f.name] = None
            continue
        if f.kind == "date":
            if isinstance(value, str):
                try:
                    value = date.fromisoformat(value)
                except ValueError:
                    value = None
            if not isinstance(value, date) or not 1950 <= value.year <= 2100:
                problems.append((f.name, _("Give a date.")))
                continue
        elif f.kind == "hours":
            try:
                value = float(value)
            except (TypeError, ValueError):
                value = -1
            if not 0 < value <= MAX_HOURS:
                problems.append((f.name, _("Hours: more than 0, at most %(n)d.", n=MAX_HOURS)))
                continue
        elif f.kind == "choice":
            if value not in {str(c) for c in f.choices}:
                problems.append((f.name, _("Choose one of the options.")))
                continue
        elif not isinstance(value, str) or len(value) > f.max_length:
            problems.append((f.name, _("At most %(n)d characters.", n=f.max_length)))
            continue
        clean[f.name] = value
    starts, ends = clean.get("starts_on"), clean.get("ends_on")
    if isinstance(starts, date) and isinstance(ends, date) and ends < starts:
        problems.append(("ends_on", _("The end is before the start.")))
    if kind == EntryKind.DEGREE and clean.get("degree_status") == DegreeStatus.GRADUATED and not ends:
        problems.append(("ends_on", _("Give the date of graduation.")))
    if problems:
        raise DomainError(" ".join(m for _f, m in problems), code="bad_entry", problems=problems)
    if kind == EntryKind.DEGREE:
        clean["title"] = f"{clean['institution']} {clean['major']}"
        clean["hours"] = 0.0
    hour_kind = {EntryKind.DEGREE: None, EntryKind.COLLECTIVE: HourKind.COLLECTIVE,
                 EntryKind.SELF_STUDY: HourKind.SELF_STUDY}.get(kind, clean.get("hour_kind"))  # fmt: skip
    details = {k: v for k, v in clean.items() if k not in _COLUMNS and k != "hour_kind" and v is not None}
    return {"title": clean["title"], "starts_on": clean["starts_on"], "ends_on": clean.get("ends_on"),
            "hours": clean.get("hours") or 0.0, "hour_kind": hour_kind, "year": clean["starts_on"].year,
            "details": details}  # fmt: skip


def snapshot(entry: ArchiveEntry) -> dict:
    return {
        "title": entry.title, "year": entry.year, "starts_on": entry.starts_on.isoformat(),
        "ends_on": entry.ends_on.isoformat() if entry.ends_on else None, "hours": float(entry.hours),
        "hour_kind": entry.hour_kind, "status": entry.status, "details": dict(entry.details or {}),
        "removed": entry.deleted_at is not None,
    }  # fmt: skip


def _revise(entry: ArchiveEntry, action: str, actor, reason: str, now: datetime) -> ArchiveRevision:
    number = (entry.revision or 0) + 1
    entry.revision = number
    revision = ArchiveRevision(entry=entry, number=number, action=action, values=snapshot(entry), reason=reason,
                               actor_id=getattr(actor, "id", None), at=now)  # fmt: skip
    db.session.add(revision)
    return revision


def _apply(entry: ArchiveEntry, values: dict) -> None:
    for name, value in values.items():
        setattr(entry, name, value)


# ---------------------------------------------------------------- writes


def may_add(actor, cadre: Cadre, kind: str) -> bool:
    """The cadre adds self-study to their own archive (even when they administer it); a keeper adds any kind."""
    if is_archive_owner(actor, cadre):
        return kind in OWNER_KINDS
    return can(actor, "archive.manage", cadre) and kind in ADMIN_KINDS


def add_entry(actor, cadre: Cadre, kind: str, raw: dict, now: datetime) -> ArchiveEntry:
    """A new entry in a cadre's archive. An admin's is accepted at once; the cadre's own waits for a reviewer."""
    if not may_add(actor, cadre, kind):
        raise DomainError(_("You may not add this kind of record here."), code="forbidden", status=403)
    values = entry_values(kind, raw)
    check_open(values["year"])
    manager = can(actor, "archive.manage", cadre) and not is_archive_owner(actor, cadre)
    entry = ArchiveEntry(user_id=cadre.user_id, kind=kind, created_at=now, created_by_id=actor.id,
                         status=EntryStatus.ACCEPTED if manager else EntryStatus.PENDING, revision=0)  # fmt: skip
    _apply(entry, values)
    db.session.add(entry)
    db.session.flush()
    _revise(entry, "created", actor, "", now)
    if manager:
        _raise_profile_education(actor, cadre, entry, now)
    figures.refresh(cadre.user_id, entry.year)
    return entry


def closed_years(years) -> set[int]:
    """Which of these years are closed (one statement)."""
    years = set(years)
    if not years:
        return set()
    query = select(ArchiveYear.year).where(ArchiveYear.year.in_(years), ArchiveYear.closed_at.is_not(None))
    return set(db.session.scalars(query))


def add_entries(actor, items, now: datetime) -> list[ArchiveEntry]:
    """Many entries of many cadres at once, each as `add_entry` by a keeper writes it (accepted, with its first
    revision), in grouped statements (a batch import). `items`: (cadre, kind, raw values). All or none: the first
    refusal raises before anything is flushed."""
    prepared = []
    for cadre, kind, raw in items:
        if not may_add(actor, cadre, kind) or is_archive_owner(actor, cadre):
            raise DomainError(_("You may not add this kind of record here."), code="forbidden", status=403)
        prepared.append((cadre, kind, entry_values(kind, raw)))
    for year in sorted(closed_years(values["year"] for _c, _k, values in prepared))[:1]:
        check_open(year)
    entries = []
    for cadre, kind, values in prepared:
        entry = ArchiveEntry(user_id=cadre.user_id, kind=kind, created_at=now, created_by_id=actor.id,
                             status=EntryStatus.ACCEPTED, revision=0)  # fmt: skip
        _apply(entry, values)
        entries.append((cadre, entry))
    db.session.add_all([entry for _c, entry in entries])
    db.session.flush()
    for cadre, entry in entries:
        _revise(entry, "created", actor, "", now)
        _raise_profile_education(actor, cadre, entry, now)
    figures.refresh_many({(entry.user_id, entry.year) for _c, entry in entries})
    return [entry for _c, entry in entries]


def _editable(actor, entry: ArchiveEntry, cadre: Cadre) -> None:
    if not can(actor, "archive.manage", cadre) or is_archive_owner(actor, cadre):
        raise DomainError(_("You may not change this archive."), code="forbidden", status=403)
    if entry.enrolment_id is not None:
        raise DomainError(_("This record comes from a training class: correct the class's attendance instead."),
                          code="class_entry")  # fmt: skip
    if entry.deleted_at is not None:
        raise DomainError(_("This record was removed."), code="removed")
    check_open(entry.year)


def correct_entry(actor, entry: ArchiveEntry, cadre: Cadre, raw: dict, reason: str, now: datetime) -> ArchiveEntry:
    """A correction: a new revision with the new values and the reason; the old values stay in the history."""
    _editable(actor, entry, cadre)
    reason = _reason(reason, required=True)
    values = entry_values(entry.kind, raw)
    check_open(values["year"])
    before = snapshot(entry)
    _apply(entry, values)
    if snapshot(entry) == before:
        raise DomainError(_("Nothing was changed."), code="unchanged")
    _revise(entry, "corrected", actor, reason, now)
    _raise_profile_education(actor, cadre, entry, now)
    figures.refresh(cadre.user_id, before["year"], entry.year)
    return entry


def remove_entry(actor, entry: ArchiveEntry, cadre: Cadre, reason: str, now: datetime) -> ArchiveEntry:
    """A removal: the entry stays, marked removed, with who, when and why; its hours no longer count."""
    _editable(actor, entry, cadre)
    reason = _reason(reason, required=True)
    entry.deleted_at = now
    _revise(entry, "removed", actor, reason, now)
    figures.refresh(cadre.user_id, entry.year)
    return entry


def review_entry(actor, entry: ArchiveEntry, cadre: Cadre, accept: bool, comment: str, now: datetime):
    """Accept or turn down a record the cadre added (self-study); a turned-down record needs a comment."""
    _editable(actor, entry, cadre)
    if entry.status != EntryStatus.PENDING:
        raise DomainError(_("This record is not waiting for review."), code="not_pending")
    comment = _reason(comment, required=not accept)
    entry.status = EntryStatus.ACCEPTED if accept else EntryStatus.REJECTED
    _revise(entry, "accepted" if accept else "rejected", actor, comment, now)
    figures.refresh(cadre.user_id, entry.year)
    return entry


def _raise_profile_education(actor, cadre: Cadre, entry: ArchiveEntry, now: datetime) -> None:
    """A graduated degree above the profile's education raises the profile (audited), so the district's education
    figures follow the archive."""
    details = entry.details or {}
    if entry.kind != EntryKind.DEGREE or details.get("degree_status") != DegreeStatus.GRADUATED:
        return
    level = details.get("level")
    if EDUCATION_ORDER.index(level) > EDUCATION_ORDER.index(cadre.education):
        audit.record("cadre.education", actor=actor, target=f"user:{cadre.user_id}",
                     detail={"old": cadre.education, "new": level, "entry": entry.id}, at=now)  # fmt: skip
        cadre.education = level


def entries_of(user_id: int, year: int | None = None, include_removed=True):
    query = select(ArchiveEntry).where(ArchiveEntry.user_id == user_id)
    if year is not None:
        query = query.where(ArchiveEntry.year == year)
    if not include_removed:
        query = query.where(ArchiveEntry.deleted_at.is_(None))
    return list(db.session.scalars(query.order_by(ArchiveEntry.year.desc(), ArchiveEntry.starts_on, ArchiveEntry.id)))
