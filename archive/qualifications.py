"""Qualifications (任职资格): passing the political-theory and the job-knowledge qualification exams of one cycle
grants one, valid for a number of years, with a certificate anyone can verify by its code.

The exam engine calls `refresh` whenever it writes a result, in the same transaction: a pass that completes a
cycle grants the qualification; a regrade that undoes a pass revokes it (kept, with the reason).
"""

import secrets
from datetime import date, datetime

from flask import current_app, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from archive.models import ExamResultRecord, Qualification, QualificationPart
from core import audit
from core.errors import DomainError
from core.extensions import db

#: No 0/O, 1/I/L: the code is read off paper and typed.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 16


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def normalise_code(code: str) -> str:
    raw = "".join(ch for ch in (code or "").upper() if ch.isalnum())
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def verification_url(code: str) -> str:
    """The public address of a certificate's verification page, printed on it as text and as a QR code.

    Built from PUBLIC_URL (QE_PUBLIC_URL), never from the request's Host header: the client chooses that, so a
    holder could print a genuine certificate whose link and QR code lead to a look-alike site. Without PUBLIC_URL
    no certificate is issued, except in debug mode (development), where the request's own address is used."""
    base = current_app.config.get("PUBLIC_URL") or ""
    if not base:
        if not current_app.debug:
            raise DomainError(
                _(
                    "Certificates cannot be printed yet: the system's public address is not configured. "
                    "Please tell a system administrator: set QE_PUBLIC_URL (the address people use to reach this "
                    "system, such as https://ks.example.gov.cn) and restart the service."
                ),
                code="no_public_url",
                status=503,
            )
        base = request.host_url
    return base.rstrip("/") + url_for("verify.check", code=code)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _first_passes(user_id: int, cycle: str) -> dict[str, ExamResultRecord]:
    """The earliest final pass of each part of the cycle."""
    from exam.models import Exam

    rows = db.session.execute(
        select(Exam.qualification_part, ExamResultRecord)
        .join(Exam, Exam.id == ExamResultRecord.exam_id)
        .where(ExamResultRecord.user_id == user_id, Exam.qualification_cycle == cycle,
               ExamResultRecord.final.is_(True), ExamResultRecord.passed.is_(True),
               ExamResultRecord.voided.is_(False))
        .order_by(ExamResultRecord.sat_on, ExamResultRecord.id)
    ).all()  # fmt: skip
    passes: dict[str, ExamResultRecord] = {}
    for part, record in rows:
        passes.setdefault(part, record)
    return passes


def active(user_id: int, cycle: str) -> Qualification | None:
    return db.session.scalar(
        select(Qualification).where(Qualification.user_id == user_id, Qualification.cycle == cycle,
                                    Qualification.revoked_at.is_(None))
    )  # fmt: skip


def refresh(user_id: int, cycle: str | None, now: datetime) -> Qualification | None:
    """Grant or revoke the cycle's qualification to match the cadre's results; returns the active one, if any."""
    if not cycle:
        return None
    db.session.flush()
    passes = _first_passes(user_id, cycle)
    current = active(user_id, cycle)
    complete = all(part in passes for part in QualificationPart)
    if complete and current is None:
        political, job = passes[QualificationPart.POLITICAL_THEORY], passes[QualificationPart.JOB_KNOWLEDGE]
        granted_on = max(political.sat_on, job.sat_on)
        years = current_app.config.get("QUALIFICATION_VALID_YEARS", 3)
        current = Qualification(user_id=user_id, cycle=cycle, code=new_code(), granted_on=granted_on,
                                valid_until=_add_years(granted_on, years), political_result_id=political.id,
                                job_result_id=job.id, created_at=now)  # fmt: skip
        db.session.add(current)
        db.session.flush()
        audit.record("qualification.granted", target=f"user:{user_id}", detail={"cycle": cycle}, at=now)
    elif not complete and current is not None:
        voided = db.session.scalar(
            select(ExamResultRecord.id)
            .where(ExamResultRecord.id.in_([current.political_result_id, current.job_result_id]),
                   ExamResultRecord.voided.is_(True))
            .limit(1)
        )  # fmt: skip
        current.revoked_at = now
        current.revoke_reason = (
            "a qualifying result was voided by a decision on an incident"
            if voided is not None
            else "a qualifying result changed on regrading"
        )
        audit.record("qualification.revoked", target=f"user:{user_id}",
                     detail={"cycle": cycle, "reason": current.revoke_reason}, at=now)  # fmt: skip
        db.session.flush()
        current = None
    return current


def visible_to_holder(qualification: Qualification, now: datetime) -> bool:
    """The holder sees a qualification (and may print it) once both results it rests on are released to them."""
    from exam.models import Attempt
    from exam.visibility import result_visible

    if qualification.revoked_at is not None:
        return False
    for record in (qualification.political_result, qualification.job_result):
        if record is None:
            return False
        attempt = db.session.get(Attempt, record.attempt_id)
        if attempt is None or not result_visible(attempt, now):
            return False
    return True


def of_user(user_id: int) -> list[Qualification]:
    return list(db.session.scalars(
        select(Qualification).where(Qualification.user_id == user_id).order_by(Qualification.granted_on.desc())
    ))  # fmt: skip


def verify(code: str, now: datetime) -> Qualification | None:
    """The qualification with this code, if it exists, is in force and its holder has been told of it."""
    code = normalise_code(code)
    if len(code) != CODE_LENGTH + CODE_LENGTH // 4 - 1:
        return None
    found = db.session.scalar(select(Qualification).where(Qualification.code == code))
    if found is None or not visible_to_holder(found, now):
        return None
    return found
