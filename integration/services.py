"""What the admin API reads and writes, as plain functions over the domains' services: the payloads it answers,
the cadre and unit upserts (idempotent by code and employee number), the lists in the caller's scope."""

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import func, select

from accounts import personal
from accounts import services as accounts
from accounts.models import Cadre, CadreStatus, Unit, User
from archive import qualifications, queries
from archive.models import EntryKind, ExamResultRecord
from core import audit
from core.errors import DomainError
from core.extensions import db
from core.policy import can, scope_filter
from exam.models import Exam, ExamStatus
from reports import ranking
from results import lifecycle

#: The most rows one page of a list answers.
MAX_PER_PAGE = 500


def plain_text(value: str, longest: int) -> bool:
    """Text a code or a name may be: not empty, at most `longest` characters, no control character or lone
    surrogate (which no database column stores)."""
    return (
        0 < len(value) <= longest
        and value == value.strip()
        and not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value)
    )


def iso(value) -> str | None:
    return None if value is None else value.isoformat()


# ---------------------------------------------------------------- units


def unit_payload(unit: Unit) -> dict:
    return {"code": unit.code, "name": unit.name, "kind": unit.kind, "parent": unit.parent.code if unit.parent else "",
            "sort_order": unit.sort_order, "active": unit.is_active}  # fmt: skip


def units(viewer) -> list[Unit]:
    return accounts.units_in_scope(viewer)


def unit_by_code(code: str) -> Unit | None:
    return db.session.scalar(select(Unit).where(Unit.code == code)) if plain_text(code, 32) else None


def upsert_unit(actor, code: str, body: dict, now: datetime) -> tuple[Unit, bool, bool]:
    """Create the unit with this code, or bring it to `body` (name, kind, parent's code or "", sort order): returns
    (unit, created, changed). Audited when it creates or changes anything."""
    if not plain_text(code, 32):
        raise DomainError(_("A unit code is 1 to 32 characters, without control characters."), code="bad_unit")
    name = body["name"].strip()
    if not plain_text(name, 100):
        raise DomainError(_("A unit name is 1 to 100 characters, without control characters."), code="bad_unit")
    parent = None
    if body.get("parent"):
        parent = unit_by_code(body["parent"])
        if parent is None:
            raise DomainError(_("No unit has the code %(code)s.", code=body["parent"]), code="unknown_unit")
    sort_order = body.get("sort_order", 0)
    unit = unit_by_code(code)
    if unit is None:
        return accounts.add_unit(actor, code, name, body["kind"], parent, now, sort_order), True, False
    before = unit_payload(unit)
    accounts.update_unit(unit, name=name, kind=body["kind"], parent=parent, sort_order=sort_order)
    changes = accounts.profile_changes(before, unit_payload(unit))
    if changes:
        audit.record("unit.updated", actor=actor, target=f"unit:{unit.id}", detail=changes, at=now)
    return unit, False, bool(changes)


# ---------------------------------------------------------------- cadres


def cadre_payload(cadre: Cadre, full: bool) -> dict:
    """A cadre's profile; the ID and phone numbers in full only when `full` (the caller audits it)."""
    return {
        "employee_number": cadre.employee_number, "name": cadre.name, "gender": cadre.gender,
        "birth_date": iso(cadre.birth_date), "unit": cadre.unit.code, "unit_name": cadre.unit.name,
        "rank": cadre.rank, "position": cadre.position, "education": cadre.education,
        "political_status": cadre.political_status, "status": cadre.status, "active": cadre.user.active,
        "phone": (cadre.phone or "") if full else personal.mask_phone(cadre.phone),
        "id_number": (cadre.id_number or "") if full else personal.mask_id_number(cadre.id_number),
        "numbers_masked": not full, "updated_at": iso(cadre.updated_at),
    }  # fmt: skip


def cadre_payloads(viewer, cadres: list[Cadre], may_read_numbers: bool, now: datetime) -> list[dict]:
    """Payloads of `cadres`: the numbers in full where the token may read them (`may_read_numbers`) and the account
    keeps the profile (personal.may_reveal), as on the pages; one audit event names every profile shown so."""
    out, shown = [], []
    for cadre in cadres:
        full = may_read_numbers and personal.may_reveal(viewer, cadre)
        out.append(cadre_payload(cadre, full))
        if full and (cadre.id_number or cadre.phone):
            shown.append(cadre.user_id)
    if shown:
        target = f"user:{shown[0]}" if len(shown) == 1 else None
        audit.record("cadre.personal_viewed", actor=viewer, target=target,
                     detail={"fields": ["id_number", "phone"], "via": "api", "users": shown}, at=now)  # fmt: skip
    return out


def cadre_by_number(viewer, number: str) -> Cadre | None:
    """The cadre with this employee number, if the viewer may read their profile (else None: as for nobody)."""
    if not accounts.USERNAME_RE.fullmatch(number or ""):
        return None
    cadre = db.session.scalar(
        select(Cadre).join(User, User.id == Cadre.user_id).where(func.lower(User.username) == number.lower())
    )
    return cadre if cadre is not None and can(viewer, "cadre.view", cadre) else None


@dataclass(frozen=True)
class CadreFilter:
    unit: Unit | None = None
    updated_since: datetime | None = None


def cadres_query(viewer, filters: CadreFilter):
    stmt = (
        select(Cadre).join(User, User.id == Cadre.user_id).join(Unit, Unit.id == Cadre.unit_id)
        .where(scope_filter(viewer, Unit.path)).order_by(User.username)
    )  # fmt: skip
    if filters.unit is not None:
        stmt = stmt.where(Unit.path.startswith(filters.unit.path, autoescape=True))
    if filters.updated_since is not None:
        stmt = stmt.where(Cadre.updated_at >= filters.updated_since)
    return stmt


def page_of(stmt, page: int, per_page: int) -> tuple[list, int]:
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = list(db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    return rows, total


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DomainError(_("%(field)s: not a date (YYYY-MM-DD).", field=field), code="invalid_cadre",
                          problems=((field, _("Not a date."),),)) from None  # fmt: skip


def upsert_cadre(actor, number: str, body: dict, now: datetime) -> tuple[Cadre, bool, bool, str | None]:
    """Create the cadre with this employee number, or bring their profile to `body`: returns (cadre, created,
    changed, one-time password of a new account). Optional fields left out keep what is kept (phone, ID number,
    status, whether the account is active); "" clears a phone or an ID number. Every write goes through the
    accounts services, checked and audited as the pages' are; all or nothing."""
    if not accounts.USERNAME_RE.fullmatch(number or ""):
        raise DomainError(_("An employee number is 2 to 32 letters, digits, '.', '_' or '-'."), code="invalid_cadre")
    unit = unit_by_code(body["unit"])
    if unit is None:
        raise DomainError(_("No unit has the code %(code)s.", code=body["unit"]), code="unknown_unit")
    user = db.session.scalar(select(User).where(func.lower(User.username) == number.lower()))
    cadre = user.cadre if user is not None else None
    if user is not None and cadre is None:
        raise DomainError(_("The employee number %(n)s belongs to an account without a cadre profile.", n=number),
                          code="duplicate_number", status=409)  # fmt: skip
    if cadre is not None and not can(actor, "cadre.manage", cadre):
        raise DomainError(_("The employee number %(n)s belongs to a cadre outside your scope.", n=number),
                          code="duplicate_number", status=409)  # fmt: skip
    data = accounts.CadreData(
        employee_number=number, name=body["name"], gender=body["gender"],
        birth_date=_day(body["birth_date"], "birth_date"), unit=unit, rank=body["rank"],
        position=body.get("position", ""), education=body["education"], political_status=body["political_status"],
        phone=body.get("phone", (cadre.phone if cadre else "") or ""),
        status=body.get("status") or (cadre.status if cadre else CadreStatus.SERVING),
    )  # fmt: skip
    for field, value, longest in (("name", data.name.strip(), 64), ("position", data.position.strip(), 100)):
        if value and not plain_text(value, longest):
            raise DomainError(_("%(field)s: at most %(n)d characters, without control characters.", field=field,
                                n=longest), code="invalid_cadre", problems=((field, ""),))  # fmt: skip
    password = None
    if cadre is None:
        cadre, password = accounts.create_cadre(actor, data, now)
        changed = True
    else:
        changed = bool(accounts.update_cadres(actor, [(cadre, data)], now))
    if "id_number" in body:
        changed |= bool(personal.set_id_numbers([(cadre, body["id_number"] or None)], actor=actor, now=now))
    if "active" in body and body["active"] != cadre.user.active:
        accounts.set_cadre_active(actor, cadre, body["active"], now)
        changed = True
    return cadre, password is not None, changed, password


# ---------------------------------------------------------------- exams and results


def exam_payload(exam: Exam, now: datetime) -> dict:
    state = lifecycle.state(exam, now)
    return {
        "code": exam.code, "title": exam.title, "subject": exam.subject, "status": exam.status,
        "phase": exam.phase(now), "opens_at": iso(exam.opens_at), "closes_at": iso(exam.closes_at),
        "duration_minutes": exam.duration_minutes, "pass_mark": float(exam.pass_mark),
        "qualification_part": exam.qualification_part, "qualification_cycle": exam.qualification_cycle,
        "official_state": None if state is None else str(state),
    }  # fmt: skip


def exams() -> list[Exam]:
    """Every exam published to candidates (drafts are the authors' business), newest first."""
    return list(db.session.scalars(
        select(Exam).where(Exam.status != ExamStatus.DRAFT).order_by(Exam.opens_at.desc(), Exam.code)
    ))  # fmt: skip


def exam_by_code(code: str) -> Exam | None:
    if not plain_text(code, 32):
        return None
    return db.session.scalar(select(Exam).where(Exam.code == code, Exam.status != ExamStatus.DRAFT))


def results_query(viewer, exam: Exam, now: datetime):
    """(record, employee number, name, unit code) of the exam's attempts by candidates in the viewer's scope, by
    their unit at the exam (its frozen roster once closed) as the ranking pages count them."""
    stmt = select(ExamResultRecord, User.username, User.name, Unit.code).join(User, User.id == ExamResultRecord.user_id)
    stmt = ranking.unit_of_person(exam, stmt, ExamResultRecord.user_id, ranking.frozen(exam, now))
    stmt = stmt.where(ExamResultRecord.exam_id == exam.id, *ranking.unit_conditions(viewer, ranking.NO_FILTERS))
    return stmt.order_by(User.username, ExamResultRecord.attempt_number)


def result_payload(record: ExamResultRecord) -> dict:
    """One attempt's result: the score and the pass only once final (an official exam's results once approved and
    past their notice; another exam's once fully marked), never a provisional mark."""
    final = bool(record.final)
    return {
        "exam": record.exam_code, "attempt_number": record.attempt_number, "sat_on": iso(record.sat_on),
        "final": final, "score": float(record.score) if final and record.score is not None else None,
        "total_points": float(record.total_points), "pass_mark": float(record.pass_mark),
        "passed": record.passed if final else None, "voided": bool(record.voided),
        "time_used_seconds": record.time_used_seconds,
    }  # fmt: skip


def results_page(viewer, exam: Exam, now: datetime, page: int, per_page: int) -> tuple[list[dict], int]:
    stmt = results_query(viewer, exam, now)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    items = [{"employee_number": number, "name": name, "unit": unit_code, **result_payload(record)}
             for record, number, name, unit_code in rows]  # fmt: skip
    return items, total


# ---------------------------------------------------------------- archives and qualifications


def archive_summary(cadre: Cadre, now: datetime) -> dict:
    """A cadre's learning archive in figures, year by year (hours by kind against the year's minimum, the
    assessment), their degree education and their exam results, as the archive page shows them to an admin."""
    timeline = queries.timeline(cadre, False, now)
    years = [
        {"year": row["year"], "required_hours": row["required"], "total_hours": row["total"], "hours": row["hours"],
         "closed": row["closed"], "assessment": row["assessment"].grade if row["assessment"] else None}
        for row in timeline
    ]  # fmt: skip
    results = [result_payload(record) for row in timeline for record in row["results"]]
    entries = [e for row in timeline for e in row["entries"] if e.kind == EntryKind.DEGREE]
    degrees = [{"title": e.title, "starts_on": iso(e.starts_on), "ends_on": iso(e.ends_on)}
               for e in sorted(entries, key=lambda e: (e.starts_on, e.id))]  # fmt: skip
    return {"employee_number": cadre.employee_number, "education": cadre.education, "years": years,
            "degrees": degrees, "results": results}  # fmt: skip


def qualification_payload(row) -> dict:
    return {
        "cycle": row.cycle, "code": row.code, "granted_on": iso(row.granted_on), "valid_until": iso(row.valid_until),
        "revoked": row.revoked_at is not None, "revoke_reason": row.revoke_reason or "",
        "political_exam": row.political_result.exam_code if row.political_result else None,
        "job_exam": row.job_result.exam_code if row.job_result else None,
    }  # fmt: skip


def qualifications_of(cadre: Cadre) -> list[dict]:
    return [qualification_payload(row) for row in qualifications.of_user(cadre.user_id)]


def in_units(viewer, unit: Unit) -> bool:
    """Is the unit within what the viewer administers?"""
    return can(viewer, "unit.view", unit)
