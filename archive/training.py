"""Training classes (培训班): defining a class, enrolling cadres (by hand, by rules over profiles, from an .xlsx
list), recording attendance once for the class, and the figures per year and unit.

Recording attendance writes a `training` entry in the archive of every participant who attended (wholly or in
part), and a later correction revises those entries with its reason; the entries cannot be changed otherwise.
"""

from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from accounts.models import LEADING_RANKS, Cadre, Unit, User
from accounts.queries import profile_conditions
from archive import figures, records
from archive.models import (
    ArchiveEntry,
    Attendance,
    ClassType,
    Completion,
    EntryKind,
    EntryStatus,
    HourKind,
    TrainingClass,
    TrainingEnrolment,
)
from core import audit
from core.errors import DomainError
from core.extensions import db
from core.imports import ImportIssue
from core.policy import can, has_district_scope, scope_filter
from core.spreadsheets import read_uploaded_sheet

CLASS_FIELDS = ("code", "name", "organiser", "place", "class_type", "hour_kind", "starts_on", "ends_on", "hours",
                "spending", "unit_id")  # fmt: skip
MAX_ENROLMENT_ROWS = 5000


def class_problems(values: dict) -> list[tuple[str, str]]:
    problems = []

    def check(name, ok, message):
        if not ok:
            problems.append((name, message))

    code = values.get("code")
    check("code", isinstance(code, str) and 0 < len(code) <= 32 and code.replace("-", "").replace("_", "").isalnum(),
          _("The code is 1 to 32 letters, digits, - or _."))  # fmt: skip
    for name, limit in (("name", 200), ("organiser", 200), ("place", 200)):
        value = values.get(name)
        check(
            name,
            isinstance(value, str) and 0 < len(value.strip()) <= limit,
            _("Required, at most %(n)d characters.", n=limit),
        )
    check("class_type", values.get("class_type") in set(ClassType), _("Choose one of the options."))
    check(
        "hour_kind", values.get("hour_kind") in (HourKind.OFF_JOB, HourKind.ROTATIONAL), _("Choose one of the options.")
    )
    starts, ends = values.get("starts_on"), values.get("ends_on")
    check("starts_on", isinstance(starts, date), _("Give a date."))
    check("ends_on", isinstance(ends, date), _("Give a date."))
    if isinstance(starts, date) and isinstance(ends, date):
        check("ends_on", ends >= starts, _("The end is before the start."))
    hours = values.get("hours")
    check("hours", isinstance(hours, int | float) and 0 < hours <= records.MAX_HOURS,
          _("Hours: more than 0, at most %(n)d.", n=records.MAX_HOURS))  # fmt: skip
    spending = values.get("spending")
    check("spending", isinstance(spending, int | float) and 0 <= spending < 10**9, _("Spending is a sum in yuan."))
    return problems


def _refuse(problems):
    if problems:
        raise DomainError(" ".join(m for _f, m in problems), code="bad_class", problems=problems)


def _organiser_unit(actor, unit_id) -> Unit:
    unit = db.session.get(Unit, unit_id) if isinstance(unit_id, int) else None
    if unit is None or not can(actor, "training.manage", unit):
        _refuse([("unit_id", _("Choose a unit you administer."))])
    return unit


def create_class(actor, values: dict, now: datetime) -> TrainingClass:
    values = {name: values.get(name) for name in CLASS_FIELDS}
    for name in ("code", "name", "organiser", "place"):
        if isinstance(values[name], str):
            values[name] = values[name].strip()
    values["spending"] = values["spending"] or 0
    _refuse(class_problems(values))
    unit = _organiser_unit(actor, values.pop("unit_id"))
    records.check_open(values["starts_on"].year)
    if db.session.scalar(select(TrainingClass.id).where(TrainingClass.code == values["code"])):
        _refuse([("code", _("A class with this code exists already."))])
    values["hours"], values["spending"] = float(values["hours"]), float(values["spending"])
    klass = TrainingClass(unit=unit, year=values["starts_on"].year, created_by_id=actor.id, created_at=now, **values)
    db.session.add(klass)
    db.session.flush()
    audit.record("training.created", actor=actor, target=f"class:{klass.code}", at=now)
    return klass


def update_class(actor, klass: TrainingClass, values: dict, reason: str, now: datetime) -> list[str]:
    """Change a class; once attendance is recorded, its participants' entries are revised with `reason`."""
    check_authority(actor, klass)
    records.check_open(klass.year)
    current = {name: getattr(klass, name) for name in CLASS_FIELDS}
    new = {**current, **{k: v for k, v in values.items() if k in CLASS_FIELDS}}
    for name in ("name", "organiser", "place"):
        if isinstance(new[name], str):
            new[name] = new[name].strip()
    new["spending"] = new["spending"] or 0
    _refuse(class_problems(new))
    if new["code"] != klass.code:
        _refuse([("code", _("The code of a class does not change."))])
    if new["unit_id"] != klass.unit_id:
        _organiser_unit(actor, new["unit_id"])
    records.check_open(new["starts_on"].year)
    changed = sorted(n for n in CLASS_FIELDS if new[n] != current[n])
    if not changed:
        return []
    reason = records._reason(reason, required=klass.recorded_at is not None)
    for name in changed:
        setattr(klass, name, float(new[name]) if name in ("hours", "spending") else new[name])
    klass.year = klass.starts_on.year
    audit.record("training.updated", actor=actor, target=f"class:{klass.code}", at=now,
                 detail={n: [str(current[n]), str(new[n])] for n in changed} | {"reason": reason})  # fmt: skip
    db.session.flush()
    if klass.recorded_at is not None:
        for enrolment in klass.enrolments:
            _write_entry(actor, klass, enrolment, reason, now)
    db.session.flush()
    return changed


# ---------------------------------------------------------------- enrolment


def _enrol(actor, klass: TrainingClass, users: list[User], source: str, now: datetime) -> int:
    records.check_open(klass.year)
    existing = set(db.session.scalars(select(TrainingEnrolment.user_id).where(TrainingEnrolment.class_id == klass.id)))
    added = 0
    for user in users:
        if user.id in existing:
            continue
        existing.add(user.id)
        db.session.add(TrainingEnrolment(class_id=klass.id, user_id=user.id, source=source, enrolled_at=now,
                                         enrolled_by_id=actor.id))  # fmt: skip
        added += 1
    try:
        db.session.flush()
    except IntegrityError:  # someone enrolled the same person at the same moment
        db.session.rollback()
        raise DomainError(_("The class changed meanwhile; please try again."), code="conflict", status=409) from None
    if added:
        audit.record("training.enrolled", actor=actor, target=f"class:{klass.code}", at=now,
                     detail={"source": source, "added": added})  # fmt: skip
    return added


def _keeps(actor) -> list:
    """SQL conditions over Cadre/Unit: cadres whose archives the actor keeps (their scope; leading cadres only for
    the organisation department). A class writes its participants' archives, so it enrols only these."""
    conditions = [scope_filter(actor, Unit.path)]
    if not has_district_scope(actor):
        conditions.append(Cadre.rank.not_in(LEADING_RANKS))
    return conditions


def check_authority(actor, klass: TrainingClass) -> None:
    """Refuse unless the actor keeps the archive of every participant (a district admin may have enrolled people
    beyond a unit admin's authority, or a participant may have moved on)."""
    if has_district_scope(actor):
        return
    cadres = db.session.scalars(
        select(Cadre).join(TrainingEnrolment, TrainingEnrolment.user_id == Cadre.user_id)
        .where(TrainingEnrolment.class_id == klass.id)
    )  # fmt: skip
    if not all(can(actor, "archive.manage", c) for c in cadres):
        message = _("This class has participants whose archives the organisation department keeps: it manages "
                    "the class.")  # fmt: skip
        raise DomainError(message, code="forbidden", status=403)


def _cadres_by_number(actor, numbers: list[str]) -> tuple[dict[str, User], set[str]]:
    """The serving cadres whose archives the actor keeps with these employee numbers, and the numbers not found."""
    wanted = {n.strip().lower() for n in numbers if n and n.strip()}
    rows = db.session.execute(
        select(func.lower(User.username), User)
        .join(Cadre, Cadre.user_id == User.id)
        .join(Unit, Cadre.unit_id == Unit.id)
        .where(
            func.lower(User.username).in_(wanted),
            User.active.is_(True),
            Cadre.status == "serving",
            *_keeps(actor),
        )
    ).all()
    found = dict(rows)
    return found, wanted - set(found)


def enrol_by_numbers(actor, klass: TrainingClass, numbers: list[str], now: datetime) -> int:
    found, missing = _cadres_by_number(actor, numbers)
    if missing:
        raise DomainError(_("Not serving cadres you administer: %(n)s. Nobody was enrolled.",
                            n=", ".join(sorted(missing))), code="unknown_cadres")  # fmt: skip
    if not found:
        raise DomainError(_("Give at least one employee number."), code="empty")
    return _enrol(actor, klass, list(found.values()), "hand", now)


def enrol_by_rules(actor, klass: TrainingClass, rules: dict, age_on: date, now: datetime) -> int:
    """Every serving cadre whose archive the actor keeps who matches the rules (units with sub-units, ranks,
    political status, under an age)."""
    max_age = rules.get("max_age")
    if max_age is not None and not 18 <= max_age <= 70:  # a year before 1 would not even be a date
        raise DomainError(_("The age limit is 18 to 70 years."), code="bad_age")
    users = list(db.session.scalars(
        select(User).join(Cadre, Cadre.user_id == User.id).join(Unit, Cadre.unit_id == Unit.id)
        .where(*profile_conditions(rules, age_on), *_keeps(actor)).order_by(Unit.path, User.username)
    ))  # fmt: skip
    if not users:
        raise DomainError(_("Nobody you administer matches these rules."), code="empty")
    return _enrol(actor, klass, users, "rules", now)


def enrol_from_sheet(actor, klass: TrainingClass, data: bytes, now: datetime) -> tuple[int, list[ImportIssue]]:
    """Enrol the employee numbers in the first column of an .xlsx (under a header row); all or nothing, with a
    message for every row at fault."""
    rows, issues = read_uploaded_sheet(data, MAX_ENROLMENT_ROWS)
    if issues:
        return 0, issues
    numbers = []
    for row_no, values in rows[1:]:
        value = values[0] if values else None
        if value is None or str(value).strip() == "":
            continue
        numbers.append((row_no, str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)))
    if not numbers:
        return 0, [ImportIssue(None, None, None, _("The sheet has no employee numbers under its header row."))]
    found, missing = _cadres_by_number(actor, [n for _r, n in numbers])
    issues = [ImportIssue(row_no, "A", None, _("No serving cadre you administer has the number %(n)s.", n=number))
              for row_no, number in numbers if number.strip().lower() in missing]  # fmt: skip
    if issues:
        return 0, issues
    return _enrol(actor, klass, list(found.values()), "xlsx", now), []


def remove_enrolment(actor, enrolment: TrainingEnrolment, now: datetime) -> None:
    klass = enrolment.training_class
    check_authority(actor, klass)
    records.check_open(klass.year)
    if db.session.scalar(select(ArchiveEntry.id).where(ArchiveEntry.enrolment_id == enrolment.id)):
        raise DomainError(_("Attendance is recorded for this person: record them as absent instead."),
                          code="recorded")  # fmt: skip
    db.session.delete(enrolment)
    audit.record("training.unenrolled", actor=actor, target=f"class:{klass.code}",
                 detail={"user": enrolment.user_id}, at=now)  # fmt: skip
    db.session.flush()


# ---------------------------------------------------------------- attendance


def record_attendance(actor, klass: TrainingClass, rows: dict[int, dict], reason: str, now: datetime) -> int:
    """Record attendance for the class: rows are {enrolment id: {"attendance", "hours", "completion", "comment"}}.
    Writes or revises the training entry of every participant; a change after the first recording needs a reason.
    Returns how many participants' records changed."""
    check_authority(actor, klass)
    records.check_open(klass.year)
    by_id = {e.id: e for e in klass.enrolments}
    problems = []
    for ident, row in rows.items():
        enrolment = by_id.get(ident)
        if enrolment is None:
            raise DomainError(_("Unknown participant."), code="unknown_enrolment")
        name = enrolment.user.name
        if row.get("attendance") not in set(Attendance):
            problems.append((ident, _("%(n)s: choose the attendance.", n=name)))
        if row.get("completion", Completion.PENDING) not in set(Completion):
            problems.append((ident, _("%(n)s: choose the result.", n=name)))
        hours = row.get("hours")
        if hours is not None and not (isinstance(hours, int | float) and 0 <= hours <= float(klass.hours)):
            problems.append((ident, _("%(n)s: hours are 0 to the class's %(h)s.", n=name, h=f"{klass.hours:g}")))
        if len(row.get("comment") or "") > 500:
            problems.append((ident, _("%(n)s: the comment is at most 500 characters.", n=name)))
    if problems:
        raise DomainError(" ".join(m for _i, m in problems), code="bad_attendance", problems=problems)
    first = klass.recorded_at is None
    reason = records._reason(reason, required=not first)
    changes = []
    for ident, row in rows.items():
        enrolment = by_id[ident]
        new = (row["attendance"], None if row.get("hours") is None else float(row["hours"]),
               row.get("completion", Completion.PENDING), (row.get("comment") or "").strip())  # fmt: skip
        old = (enrolment.attendance, enrolment.hours, enrolment.completion, enrolment.comment)
        enrolment.attendance, enrolment.hours, enrolment.completion, enrolment.comment = new
        if _write_entry(actor, klass, enrolment, reason, now) or new != old:
            changes.append({"user": enrolment.user_id, "old": list(old), "new": list(new)})
    klass.recorded_at = klass.recorded_at or now
    audit.record("training.attendance", actor=actor, target=f"class:{klass.code}", at=now,
                 detail={"reason": reason, "changes": changes})  # fmt: skip
    changed = len(changes)
    db.session.flush()
    return changed


def enrolment_hours(klass: TrainingClass, enrolment: TrainingEnrolment) -> float:
    if enrolment.attendance == Attendance.ABSENT or enrolment.attendance == Attendance.ENROLLED:
        return 0.0
    return float(klass.hours if enrolment.hours is None else enrolment.hours)


def _write_entry(actor, klass: TrainingClass, enrolment: TrainingEnrolment, reason: str, now: datetime) -> bool:
    """Bring the participant's training entry in line with the class and their attendance; True if it changed."""
    entry = db.session.scalar(select(ArchiveEntry).where(ArchiveEntry.enrolment_id == enrolment.id))
    old_year = entry.year if entry is not None else klass.year
    changed = _sync_entry(actor, klass, enrolment, entry, reason, now)
    if changed:
        figures.refresh(enrolment.user_id, old_year, klass.year)
    return changed


def _sync_entry(actor, klass, enrolment, entry, reason: str, now: datetime) -> bool:
    attended = enrolment.attendance in (Attendance.ATTENDED, Attendance.PARTIAL)
    if not attended:
        if entry is None or entry.deleted_at is not None:
            return False
        entry.deleted_at = now
        records._revise(entry, "removed", actor, reason or _("Recorded as absent."), now)
        return True
    values = {
        "title": klass.name, "starts_on": klass.starts_on, "ends_on": klass.ends_on, "year": klass.year,
        "hours": enrolment_hours(klass, enrolment), "hour_kind": klass.hour_kind,
        "details": {"organiser": klass.organiser, "place": klass.place, "class_type": klass.class_type,
                    "completion": enrolment.completion, "attendance": enrolment.attendance, "class": klass.code},
    }  # fmt: skip
    if entry is None:
        entry = ArchiveEntry(user_id=enrolment.user_id, kind=EntryKind.TRAINING, enrolment_id=enrolment.id,
                             status=EntryStatus.ACCEPTED, created_at=now, created_by_id=actor.id, revision=0,
                             **values)  # fmt: skip
        db.session.add(entry)
        db.session.flush()
        records._revise(entry, "class", actor, reason, now)
        return True
    before = records.snapshot(entry)
    records._apply(entry, values)
    entry.deleted_at = None
    if records.snapshot(entry) == before:
        return False
    records._revise(entry, "class", actor, reason, now)
    return True


# ---------------------------------------------------------------- figures


def class_figures(viewer, year: int) -> list[dict]:
    """Per organising unit in the viewer's scope, for a year: classes held (期), participations (人次, attended wholly
    or in part), participant hours and spending."""
    attended = TrainingEnrolment.attendance.in_((Attendance.ATTENDED, Attendance.PARTIAL))
    per_class = (
        select(TrainingEnrolment.class_id,
               func.count().filter(attended).label("people"),
               func.coalesce(func.sum(func.coalesce(TrainingEnrolment.hours, TrainingClass.hours)).filter(attended), 0)
               .label("hours"))
        .join(TrainingClass, TrainingClass.id == TrainingEnrolment.class_id)
        .where(TrainingClass.year == year)
        .group_by(TrainingEnrolment.class_id)
        .subquery()
    )  # fmt: skip
    rows = db.session.execute(
        select(Unit, func.count(TrainingClass.id), func.coalesce(func.sum(per_class.c.people), 0),
               func.coalesce(func.sum(per_class.c.hours), 0), func.coalesce(func.sum(TrainingClass.spending), 0))
        .join(TrainingClass, TrainingClass.unit_id == Unit.id)
        .outerjoin(per_class, per_class.c.class_id == TrainingClass.id)
        .where(TrainingClass.year == year, scope_filter(viewer, Unit.path))
        .group_by(Unit.id)
        .order_by(Unit.path)
    ).all()  # fmt: skip
    return [{"unit": u, "classes": c, "people": int(p), "hours": float(h), "spending": float(s)}
            for u, c, p, h, s in rows]  # fmt: skip
