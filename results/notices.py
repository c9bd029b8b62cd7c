"""The public notice (公示) of an official exam's results: the list (name, unit as at the close, scores by part,
total, pass or fail) published to its scope for a number of working days, with the appeal deadline and how to
appeal; a revision gets a new serial and supersedes the old notice, which is kept. The PDF carries the serial and a
QR code of the public verification page."""

import io
import secrets
from datetime import datetime

import segno
from flask import current_app, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from archive.qualifications import CODE_ALPHABET
from core import audit, policy
from core.errors import DomainError
from core.extensions import db
from core.models import LOCAL_ZONE
from core.pdf import Pdf
from exam import roster
from exam.models import Answer, Attempt, AttemptStatus, ExamSection, PaperItem
from results import calendar, lifecycle
from results.models import Notice, OfficialExam, Scope, State


def _units_at_close(exam, now: datetime) -> dict[int, tuple[str, str | None]]:
    """user id -> (unit name, unit path) as at the close: the frozen roster (exam.roster)."""
    return {e.user_id: (e.unit_name or "", e.unit_path) for e in roster.entries(exam, now)}


def _best_attempts(exam) -> list[Attempt]:
    """Each candidate's attempt that counts: the best score, the earliest of equals (a voided one counts last)."""
    ended = db.session.scalars(
        select(Attempt).where(Attempt.exam_id == exam.id, Attempt.status != AttemptStatus.IN_PROGRESS)
    ).all()
    best: dict[int, Attempt] = {}
    for a in sorted(ended, key=lambda a: (a.voided_at is not None, -(a.score or 0), a.number)):
        best.setdefault(a.user_id, a)
    return list(best.values())


def notice_rows(exam, now: datetime) -> tuple[list[str], list[dict]]:
    """(section titles, rows) of the notice list, by total (best first), then name."""
    sections = list(db.session.scalars(select(ExamSection).where(ExamSection.exam_id == exam.id)
                                       .order_by(ExamSection.position)))  # fmt: skip
    attempts = _best_attempts(exam)
    points = db.session.execute(
        select(Attempt.id, PaperItem.section_id, func.coalesce(func.sum(Answer.points), 0))
        .join(PaperItem, PaperItem.paper_id == Attempt.paper_id)
        .outerjoin(Answer, (Answer.attempt_id == Attempt.id) & (Answer.position == PaperItem.position))
        .where(Attempt.id.in_([a.id for a in attempts]))
        .group_by(Attempt.id, PaperItem.section_id)
    ).all()
    by_attempt: dict[int, dict[int, float]] = {}
    for attempt_id, section_id, total in points:
        by_attempt.setdefault(attempt_id, {})[section_id] = float(total)
    frozen = _units_at_close(exam, now)
    rows = []
    for a in attempts:
        unit = a.user.cadre.unit if a.user.cadre is not None else None
        name, path = frozen.get(a.user_id) or ((unit.name, unit.path) if unit is not None else ("", None))
        voided = a.voided_at is not None
        rows.append({
            "user_id": a.user_id, "name": a.user.name, "unit": name, "unit_path": path,
            "parts": [by_attempt.get(a.id, {}).get(s.id, 0.0) for s in sections],
            "total": float(a.score or 0), "passed": bool(a.passed) and not voided, "voided": voided,
        })  # fmt: skip
    rows.sort(key=lambda r: (-r["total"], r["name"]))
    return [s.title for s in sections], rows


def _serial(exam, version: int) -> str:
    token = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{exam.code}-{version:02d}-{token}"


def _write(actor, exam, row: OfficialExam, now: datetime, *, days: int, scope: str, reason: str | None) -> Notice:
    if scope not in set(Scope):
        raise DomainError(_("Choose who sees the notice."), code="bad_scope")
    if not 1 <= int(days) <= 30:
        raise DomainError(_("A notice lasts from 1 to 30 working days."), code="bad_days")
    previous = lifecycle.current_notice(exam)
    version = (db.session.scalar(select(func.max(Notice.version)).where(Notice.exam_id == exam.id)) or 0) + 1
    parts, rows = notice_rows(exam, now)
    notice = Notice(exam_id=exam.id, serial=_serial(exam, version), version=version, scope=scope, days=int(days),
                    published_at=now, ends_at=calendar.end_of_working_days(now, int(days)),
                    published_by_id=getattr(actor, "id", None), revision_reason=reason, parts=parts, rows=rows,
                    appeal_how=row.appeal_how)  # fmt: skip
    if previous is not None:
        previous.superseded_at = now
    db.session.add(notice)
    row.scope, row.notice_days = scope, int(days)
    db.session.flush()
    audit.record("results.notice_published", actor=actor, target=f"exam:{exam.code}",
                 detail={"serial": notice.serial, "version": version, "days": notice.days, "scope": scope,
                         "reason": reason, "superseded": previous.serial if previous else None},
                 at=now)  # fmt: skip
    return notice


def publish(actor, exam, now: datetime, *, days: int, scope: str, revision_reason: str | None = None) -> Notice:
    """Publish the notice of approved results (the move to `notice`); the period is `days` working days from the
    day after today. Scores become visible to their candidates from now."""
    if actor is not None and not policy.can(actor, "results.manage"):
        raise DomainError(_("You may not do this."), code="forbidden", status=403)
    policy.refuse_own_results(actor, exam.id)
    row = lifecycle._lock(exam)
    lifecycle._refuse_order(State.APPROVED, exam, now)
    notice = _write(actor, exam, row, now, days=days, scope=scope, reason=revision_reason)
    lifecycle.mark_notice(actor, exam, row, now, notice.serial)
    return notice


def publish_revised(actor, exam, reason: str, now: datetime) -> Notice:
    """A revised notice of results in notice (after an appeal changed a mark, for example): a new serial and
    version, the old notice kept and marked superseded, the notice days started again. The state stays `notice`.
    For the appeals (and formal corrections): the caller has checked the actor's right to change the results."""
    if not (reason or "").strip():
        raise DomainError(_("Say why the notice is revised."), code="reason_required")
    row = lifecycle._lock(exam)
    lifecycle._refuse_order(State.NOTICE, exam, now)
    return _write(actor, exam, row, now, days=row.notice_days, scope=row.scope, reason=reason.strip())


def publish_correction(actor, exam, reason: str, now: datetime) -> Notice:
    """A revised notice of final results after a formal correction (results.corrections): a new serial and version,
    the old notice kept and marked superseded. The results stay final: no appeal opens again. The caller has
    checked the actor's right and the second person's approval."""
    if not (reason or "").strip():
        raise DomainError(_("Say why the notice is revised."), code="reason_required")
    row = lifecycle._lock(exam)
    lifecycle._refuse_order(State.FINAL, exam, now)
    return _write(actor, exam, row, now, days=row.notice_days, scope=row.scope, reason=reason.strip())


def notices(exam) -> list[Notice]:
    return list(db.session.scalars(select(Notice).where(Notice.exam_id == exam.id).order_by(Notice.version.desc())))


def by_serial(serial: str) -> Notice | None:
    return db.session.scalar(select(Notice).where(Notice.serial == (serial or "").strip()[:40]))


def appeal_deadline(exam) -> datetime | None:
    """Until when a candidate may appeal: the end of the current notice's period (None before a notice)."""
    notice = lifecycle.current_notice(exam)
    return notice.ends_at if notice is not None else None


def verification_url(serial: str) -> str:
    """The public address of a notice's verification page (as for certificates: PUBLIC_URL, never the Host
    header, except in debug mode)."""
    base = current_app.config.get("PUBLIC_URL") or ""
    if not base:
        if not current_app.debug:
            raise DomainError(_("Notices cannot be printed yet: the system's public address is not configured."),
                              code="no_public_url", status=503)  # fmt: skip
        base = request.host_url
    return base.rstrip("/") + url_for("notice_verify.check_serial", serial=serial)


def _local(at: datetime) -> str:
    return at.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M")


def notice_pdf(notice: Notice, verify_url: str) -> bytes:
    """The notice as an A4 PDF: title, serial, period and deadline, the list, how to appeal, and a QR code."""
    exam = notice.exam
    pdf = Pdf("landscape" if len(notice.parts) > 3 else "portrait")
    pdf.add_page()
    pdf.set_font("cjk", size=18)
    pdf.cell(0, 12, f"{exam.title} 成绩公示", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10)
    top = pdf.get_y()
    lines = [
        f"公示编号：{notice.serial}（第{notice.version}版）",
        f"公示期：{_local(notice.published_at)} 至 {_local(notice.ends_at)}（{notice.days}个工作日）",
        f"申诉截止：{_local(notice.ends_at)}",
    ]
    if notice.revision_reason:
        lines.append(f"修订原因：{notice.revision_reason}")
    if notice.superseded:
        lines.append(f"本公示已于{_local(notice.superseded_at)}被新版公示替代。")
    for line in lines:
        pdf.multi_cell(pdf.epw - 40, 6, line, new_x="LMARGIN", new_y="NEXT")
    qr = io.BytesIO()
    segno.make(verify_url, error="m").save(qr, kind="png", scale=5, border=2)
    qr.seek(0)
    pdf.image(qr, x=pdf.w - pdf.r_margin - 30, y=top, w=30)
    pdf.set_y(max(pdf.get_y(), top + 32))
    heading = ("序号", "姓名", "单位", *notice.parts, "总分", "结果")
    body = [
        (i, r["name"], r["unit"], *(f"{p:g}" for p in r["parts"]), f"{r['total']:g}",
         "无效" if r.get("voided") else "合格" if r["passed"] else "不合格")
        for i, r in enumerate(notice.rows, start=1)
    ]  # fmt: skip
    widths = (10, 22, 40, *([18] * len(notice.parts)), 16, 16)
    pdf.data_table([heading, *body], widths, tail=30)
    pdf.ln(4)
    pdf.multi_cell(0, 6, "申诉方式：" + (notice.appeal_how or "在公示期内登录考试系统，在本人成绩页提出申诉。"),
                   new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.multi_cell(0, 6, f"核验：{verify_url}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 10, "中共区委组织部", align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
