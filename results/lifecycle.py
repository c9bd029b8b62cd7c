"""The lifecycle of an official exam's results: marking → marked → checked (复核) → approved (审批) → notice (公示)
→ final (归档). Each move is a plain function that refuses a move out of order (a DomainError, nothing changed),
writes a StateChange row and an audit event. Registers the hooks exam and archive offer: no release by hand, no
score before the notice, archive records final only once the results are."""

from collections.abc import Callable
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import event, select
from sqlalchemy.orm import Session as OrmSession

from archive import services as archive_services
from core import audit, events, policy
from core.errors import DomainError
from core.extensions import db
from exam import checks, definition, eligibility, scoring, visibility
from exam.models import Attempt, AttemptStatus, ExamStatus, Phase
from results.models import Notice, OfficialExam, Scope, State, StateChange

STATE_LABELS = {
    State.MARKING: _l("Marking"),
    State.MARKED: _l("Marked"),
    State.CHECKED: _l("Checked"),
    State.APPROVED: _l("Approved"),
    State.NOTICE: _l("Public notice"),
    State.FINAL: _l("Final"),
}
SCOPE_LABELS = {
    Scope.CANDIDATES: _l("The candidates"),
    Scope.UNITS: _l("The candidates' units"),
    Scope.DISTRICT: _l("The whole district"),
}

# ---------------------------------------------------------------- which exams


_CACHE = "results.official"


def official(exam) -> OfficialExam | None:
    """The exam's lifecycle row, when it is official. Kept in the session until its next commit or rollback: the
    score's visibility asks for every attempt of a list, most of them of exams that are not official."""
    cache = db.session.info.setdefault(_CACHE, {})
    if exam.id not in cache:
        cache[exam.id] = db.session.scalar(select(OfficialExam).where(OfficialExam.exam_id == exam.id))
    return cache[exam.id]


@event.listens_for(OrmSession, "after_commit")
@event.listens_for(OrmSession, "after_soft_rollback")
def _forget(session, *_args) -> None:
    session.info.pop(_CACHE, None)


def register(actor, exam, now: datetime, *, scope: str = Scope.CANDIDATES, days: int = 5,
             appeal_how: str = "") -> OfficialExam:  # fmt: skip
    """Put an exam under the lifecycle: only before it closes, and never one whose results were released."""
    if official(exam) is not None:
        raise DomainError(_("This exam is already official."), code="already_official")
    if exam.status == ExamStatus.RELEASED or exam.phase(now) == Phase.CLOSED:
        raise DomainError(_("An exam is made official before it closes."), code="too_late")
    if scope not in set(Scope):
        raise DomainError(_("Choose who sees the notice."), code="bad_scope")
    if not 1 <= int(days) <= 30:
        raise DomainError(_("A notice lasts from 1 to 30 working days."), code="bad_days")
    row = OfficialExam(exam_id=exam.id, stage=State.MARKING, scope=scope, notice_days=int(days),
                       appeal_how=(appeal_how or "").strip(), registered_by_id=getattr(actor, "id", None),
                       registered_at=now)  # fmt: skip
    db.session.add(row)
    db.session.flush()
    db.session.info.setdefault(_CACHE, {})[exam.id] = row
    # Attempts graded before the registration were archived final: from now on they are final with the exam's.
    archive_services.rewrite_results(exam, now)
    audit.record("results.registered", actor=actor, target=f"exam:{exam.code}",
                 detail={"scope": scope, "days": int(days)}, at=now)  # fmt: skip
    return row


# ---------------------------------------------------------------- the state


def _all_marked(exam, now: datetime) -> bool:
    """Closed, nobody still answering, every attempt fully graded. Whether one attempt is still open or waits for a
    grader, not how many (the candidate's result page asks: no count over the exam's attempts per request)."""
    if exam.phase(now) != Phase.CLOSED:
        return False
    waiting = select(Attempt.id).where(
        Attempt.exam_id == exam.id,
        (Attempt.status == AttemptStatus.IN_PROGRESS) | Attempt.fully_graded.is_(False),
    )
    return not db.session.scalar(select(waiting.exists()))


def state(exam, now: datetime) -> State | None:
    """The results' state now, or None for an exam that is not official. `marking` reads as `marked` once the
    exam has closed and every attempt is fully graded."""
    row = official(exam)
    if row is None:
        return None
    if row.stage == State.MARKING:
        return State.MARKED if _all_marked(exam, now) else State.MARKING
    return State(row.stage)


def _lock(exam) -> OfficialExam:
    row = db.session.scalar(select(OfficialExam).where(OfficialExam.exam_id == exam.id).with_for_update())
    if row is None:
        raise DomainError(_("This exam's results are not under the lifecycle."), code="not_official")
    return row


def _move(row: OfficialExam, exam, actor, to: State, now: datetime, note: str, **detail) -> None:
    current = state(exam, now)
    db.session.add(StateChange(exam_id=exam.id, from_state=current, to_state=to, actor_id=getattr(actor, "id", None),
                               at=now, note=note or ""))  # fmt: skip
    row.stage = State.MARKING if to == State.MARKED else to
    audit.record(_AUDIT_ACTIONS[to], actor=actor, target=f"exam:{exam.code}",
                 detail={"from": current, "to": to, **detail}, at=now)  # fmt: skip
    db.session.flush()


_AUDIT_ACTIONS = {
    State.MARKING: "results.sent_back",
    State.CHECKED: "results.checked",
    State.APPROVED: "results.approved",
    State.NOTICE: "results.notice",
    State.FINAL: "results.final",
}


def _refuse_order(expected: State, exam, now: datetime) -> None:
    current = state(exam, now)
    if current != expected:
        raise DomainError(
            _("This step needs the results %(expected)s; they are %(current)s.",
              expected=STATE_LABELS[expected], current=STATE_LABELS[current]),
            code="bad_transition",
        )  # fmt: skip


def _refuse_person(actor, action: str, exam) -> None:
    if actor is not None and not policy.can(actor, action):
        raise DomainError(_("You may not do this."), code="forbidden", status=403)
    policy.refuse_own_results(actor, exam.id)


# ---------------------------------------------------------------- the check (复核)


def check_report(exam, now: datetime) -> dict:
    """The check report as plain data (exam.checks' report: {"items": [{code, title, ok, count, rows}], …})."""
    return checks.check_report(exam, now).to_json()


def check(actor, exam, note: str, now: datetime, *, sample_note: str = "") -> OfficialExam:
    """Mark the results checked (复核): only once marked. The check report is kept as it stood."""
    _refuse_person(actor, "results.check", exam)
    row = _lock(exam)
    _refuse_order(State.MARKED, exam, now)
    row.check_report = check_report(exam, now)
    if sample_note.strip():
        row.check_report = {**row.check_report, "sample_note": sample_note.strip()}
    row.check_note, row.checked_by_id, row.checked_at = (note or "").strip(), getattr(actor, "id", None), now
    _move(row, exam, actor, State.CHECKED, now, row.check_note)
    return row


def approve(actor, exam, note: str, now: datetime) -> OfficialExam:
    """Approve (审批) checked results: by another person than the one who checked them (two-person rule)."""
    _refuse_person(actor, "results.approve", exam)
    row = _lock(exam)
    _refuse_order(State.CHECKED, exam, now)
    if actor is not None and row.checked_by_id == actor.id:
        raise DomainError(_("Results are approved by another person than the one who checked them."),
                          code="same_person")  # fmt: skip
    row.approve_note, row.approved_by_id, row.approved_at = (note or "").strip(), getattr(actor, "id", None), now
    _move(row, exam, actor, State.APPROVED, now, row.approve_note)
    return row


def send_back(actor, exam, reason: str, now: datetime) -> OfficialExam:
    """Send checked or approved results back to marking, with a reason (the checker or the approver): the check
    and the approval are undone, and the results must be checked again."""
    current = state(exam, now)
    _refuse_person(actor, "results.approve" if current == State.APPROVED else "results.check", exam)
    row = _lock(exam)
    if current not in (State.CHECKED, State.APPROVED):
        raise DomainError(_("Only checked or approved results can be sent back."), code="bad_transition")
    if not (reason or "").strip():
        raise DomainError(_("Say why the results go back."), code="reason_required",
                          problems=[("reason", _("Say why the results go back."))])  # fmt: skip
    row.checked_by_id = row.checked_at = row.approved_by_id = row.approved_at = None
    row.check_report, row.check_note, row.approve_note = None, "", ""
    _move(row, exam, actor, State.MARKING, now, reason.strip())
    return row


# ---------------------------------------------------------------- the notice and the end


def mark_notice(actor, exam, row: OfficialExam, now: datetime, note: str = "") -> None:
    """The move to `notice` (results.notices.publish calls it once the notice is written)."""
    _move(row, exam, actor, State.NOTICE, now, note)


_open_appeals: list[Callable] = []


def register_open_appeals(count: Callable) -> None:
    """`count(exam) -> int`: how many appeals of the exam are still open (the appeals package registers it). The
    results become final only when every registered count is 0."""
    if count not in _open_appeals:
        _open_appeals.append(count)


def open_appeals(exam) -> int:
    return sum(int(count(exam)) for count in _open_appeals)


def current_notice(exam) -> Notice | None:
    return db.session.scalar(
        select(Notice).where(Notice.exam_id == exam.id, Notice.superseded_at.is_(None)).order_by(Notice.version.desc())
    )


def finalize(exam, now: datetime, actor=None) -> OfficialExam:
    """Make the results final (归档): in notice, the current notice's period ended, no appeal open. The archive
    rewrites the exam's records (now final) on events.results_finalized, and the qualifications follow."""
    row = _lock(exam)
    _refuse_order(State.NOTICE, exam, now)
    notice = current_notice(exam)
    if notice is None or now < notice.ends_at:
        raise DomainError(_("The notice period has not ended yet."), code="notice_running")
    appeals = open_appeals(exam)
    if appeals:
        raise DomainError(_("%(n)d appeals are still open.", n=appeals), code="appeals_open")
    row.final_at = now
    _move(row, exam, actor, State.FINAL, now, "", serial=notice.serial)
    events.results_finalized.send(exam, now=now)
    return row


def due(now: datetime) -> list:
    """Exams in notice whose current notice has ended (finalize may still refuse one with an open appeal)."""
    from exam.models import Exam

    return list(
        db.session.scalars(
            select(Exam)
            .join(OfficialExam, OfficialExam.exam_id == Exam.id)
            .join(Notice, Notice.exam_id == Exam.id)
            .where(OfficialExam.stage == State.NOTICE, Notice.superseded_at.is_(None), Notice.ends_at <= now)
            .order_by(Exam.code)
        )
    )


def finalize_due(now: datetime) -> tuple[list[str], dict[str, str]]:
    """Finalize every exam that is due; returns the codes made final and, by code, why others were not."""
    done, held = [], {}
    for exam in due(now):
        try:
            with db.session.begin_nested():
                finalize(exam, now)
            done.append(exam.code)
        except DomainError as exc:
            held[exam.code] = exc.message
    return done, held


def history(exam) -> list[StateChange]:
    return list(db.session.scalars(select(StateChange).where(StateChange.exam_id == exam.id).order_by(StateChange.id)))


# ---------------------------------------------------------------- the hooks


def notice_published(exam) -> bool:
    row = official(exam)
    return row is not None and row.stage in (State.NOTICE, State.FINAL)


def _refuse_release(exam) -> None:
    if official(exam) is not None:
        raise DomainError(_("This exam is official: its results are released by the public notice."),
                          code="official_exam")  # fmt: skip


def _refuse_marks_change(exam) -> None:
    """Checked results change no more by grading, regrading or a key correction: before the notice they are sent
    back to marking, during it an appeal changes a mark, after it a formal correction."""
    row = official(exam)
    if row is not None and row.stage in (State.CHECKED, State.APPROVED, State.NOTICE, State.FINAL):
        raise DomainError(_("The results of this official exam are checked: a mark changes only by sending them "
                            "back to marking, by an appeal during the notice, or by a formal correction once final."),
                          code="results_locked")  # fmt: skip


def _score_rule(attempt, now: datetime) -> bool | None:
    """An official exam: no score (and so no keys) before the notice is published; from then on, the score."""
    row = official(attempt.exam)
    if row is None:
        return None
    return row.stage in (State.NOTICE, State.FINAL)


def _final_rule(exam) -> bool | None:
    row = official(exam)
    if row is None:
        return None
    return row.stage == State.FINAL


def sat(user, exam_id: int) -> bool:
    """Is the user a candidate of the exam: one who sat it, or may sit it?"""
    from exam.models import Exam

    if db.session.scalar(select(Attempt.id).where(Attempt.exam_id == exam_id, Attempt.user_id == user.id).limit(1)):
        return True
    exam = db.session.get(Exam, exam_id)
    return exam is not None and eligibility.is_eligible(exam, user)


definition.register_release_check(_refuse_release)
scoring.register_marks_lock(_refuse_marks_change)
visibility.register_rule(_score_rule)
archive_services.register_final_rule(_final_rule)
policy.register_candidacy(sat)
