"""Server-timed attempts: starting (access codes, one start at a time), the page holding one, submitting, finalizing.

Functions take `now` and flush without committing. The guarantees (a candidate never loses an answer that was
acknowledged, never gets more or less time than the rules give) hold because:
- the deadline is fixed at the start and every save checks it in the same transaction as the write, with the
  attempt row locked where the database can (PostgreSQL);
- the database, not code, allows one attempt in progress per candidate and exam;
- a save only replaces an answer with a higher client sequence number (exam.answers)."""

import hashlib
import hmac
import random
import re
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import false, func, literal_column, or_, select, update
from sqlalchemy.exc import IntegrityError

from accounts.models import User
from core import audit
from core.errors import DomainError
from core.extensions import db
from exam.eligibility import is_eligible
from exam.integrity import rescoring
from exam.models import Attempt, AttemptEvent, AttemptStatus, EventKind, Exam, ExamCandidate, Paper, Phase
from exam.papers import count_exposure, draw_paper

#: Checks a new attempt must pass besides the engine's own, registered by the packages above it: each is
#: `check(exam, user, now)` and raises a DomainError saying why the start is refused (sitting.checkin registers
#: "checked in, in the session's window, from the room's network"). An attempt in progress resumes unchecked.
_start_checks: list = []


def register_start_check(check):
    """Add a start check (see `_start_checks`); returns it, so it can decorate."""
    _start_checks.append(check)
    return check


#: Called with (attempt, now) after a new attempt's start for a request (not a resume), by the packages above
#: (proctoring keeps the camera's answer of the start page).
_started: list = []


def register_started(callback):
    _started.append(callback)
    return callback


def start_refusal(exam: Exam, user: User, now: datetime) -> str | None:
    """Why a new attempt of `user` would be refused by a registered start check now, or None: for the start page,
    which says so before the candidate presses the button."""
    for check in _start_checks:
        try:
            check(exam, user, now)
        except DomainError as exc:
            return exc.message
    return None


def grace() -> timedelta:
    return timedelta(seconds=current_app.config["EXAM_SAVE_GRACE_SECONDS"])


def extra_time_of(exam: Exam, user: User) -> int:
    return (
        db.session.scalar(
            select(ExamCandidate.extra_minutes).where(
                ExamCandidate.exam_id == exam.id, ExamCandidate.user_id == user.id
            )
        )
        or 0
    )


def available_until(exam: Exam, started_at: datetime, extra: int) -> datetime:
    """The deadline of an attempt started at `started_at`: duration plus extra time, never past the close."""
    return min(started_at + timedelta(minutes=exam.duration_minutes + extra), exam.closes_at)


def start_attempt(exam: Exam, user: User, now: datetime, access_code: str | None = None) -> Attempt:
    """Start an attempt, or resume the one in progress. The deadline is fixed here; only a later close can move it,
    for an attempt the old close had cut short (exam.definition.update_settings). Starts of one candidate run one
    after the other (`_one_start_at_a_time`): sixteen at once (a double click, a script) all get the one attempt."""
    _one_start_at_a_time(user)
    # The candidate's attempts at this exam (a handful at most), read once: the one in progress and how many. Read
    # afresh (populate_existing): a status is judged as the database has it, not as an object of this session had it.
    mine = db.session.scalars(
        select(Attempt)
        .where(Attempt.exam_id == exam.id, Attempt.user_id == user.id)
        .execution_options(populate_existing=True)
    ).all()
    current = next((a for a in mine if a.status == AttemptStatus.IN_PROGRESS), None)
    if current is not None:
        if not current.overdue(now, grace()):
            return current
        finalize(current, now)
    if exam.phase(now) != Phase.OPEN:
        raise DomainError(_("The exam is not open now."), code="exam_not_open", status=409)
    if not is_eligible(exam, user):  # asked even when a paper was drawn: people can be removed after drawing
        raise DomainError(_("You are not a candidate of this exam."), code="not_eligible", status=403)
    for check in _start_checks:  # the packages above the engine (the sitting's check-in and window)
        check(exam, user, now)
    if exam.access_code_hash:
        check_access_code(exam, user, access_code, now)
    done = len(mine)
    if done >= exam.attempts_allowed:
        current = in_progress(exam, user)  # a concurrent start may have made it since the first look
        if current is not None:
            return current
        raise DomainError(_("You have used all your attempts at this exam."), code="no_attempts_left", status=409)
    paper = db.session.scalar(
        select(Paper).where(Paper.exam_id == exam.id, Paper.user_id == user.id, Paper.attempt_number == done + 1)
    )
    if paper is None:  # not prepared ahead (added late, or a retake): draw it now
        paper = _draw_at_start(exam, user, done + 1, now)
    if exam.first_started_at is None:
        # The first start fixes what candidates may see. The conditional UPDATE takes the exam's row lock, so an
        # admin's change (which locks the row too) lands wholly before it or is refused after it; the settings
        # this start uses are read again behind the lock.
        db.session.execute(
            update(Exam).where(Exam.id == exam.id, Exam.first_started_at.is_(None)).values(first_started_at=now)
        )
        db.session.refresh(exam)
    extra = extra_time_of(exam, user)
    attempt = Attempt(
        exam_id=exam.id,
        user_id=user.id,
        number=done + 1,
        paper_id=paper.id,
        status=AttemptStatus.IN_PROGRESS,
        started_at=now,
        deadline_at=available_until(exam, now, extra),
        extra_minutes=extra,
    )
    try:
        with db.session.begin_nested():
            db.session.add(attempt)
            db.session.flush()
    except IntegrityError:
        # A concurrent start (a double click, a second tab) made it first: resume that one.
        existing = in_progress(exam, user)
        if existing is None:  # the other start is not visible to this transaction yet (SQLite): try again
            raise DomainError(
                _("Your attempt is being started. Please try again in a moment."), code="start_conflict", status=409
            ) from None
        return existing
    return attempt


def _one_start_at_a_time(user: User) -> None:
    """Hold the candidate's starts back until any other start of theirs has committed, so that every read after
    this sees it (the attempt in progress, the paper drawn for a retake) instead of racing it to the unique
    constraints. PostgreSQL: the user's row, locked FOR NO KEY UPDATE (rows that refer to the user are not held
    up). SQLite: the database's write lock, taken now rather than at the first insert (one writer at a time
    anyway; pysqlite reads outside a transaction until then, so the reads after this see the last commit)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(User.id).where(User.id == user.id).with_for_update(key_share=True))
    else:
        users = User.__table__  # Core: no ORM bookkeeping for a statement that changes nothing
        db.session.execute(update(users).where(users.c.id == user.id, false()).values(id=users.c.id))


def _draw_at_start(exam: Exam, user: User, number: int, now: datetime) -> Paper:
    """Draw the paper of attempt `number` at its start. `_one_start_at_a_time` keeps the candidate's own starts
    apart; a paper drawn meanwhile by someone else (`exams prepare` for a candidate added late) is taken instead."""
    try:
        with db.session.begin_nested():
            paper = draw_paper(exam, user.id, random.SystemRandom().randrange(2**31), now, attempt_number=number)
            db.session.flush()
    except IntegrityError:
        paper = db.session.scalar(
            select(Paper).where(Paper.exam_id == exam.id, Paper.user_id == user.id, Paper.attempt_number == number)
        )
        if paper is None:
            raise DomainError(
                _("Your attempt is being started. Please try again in a moment."), code="start_conflict", status=409
            ) from None
        return paper
    count_exposure([item.question_version_id for item in paper.items], now)
    return paper


def start_for_request(exam: Exam, user: User, now: datetime, access_code=None) -> Attempt:
    """start_attempt for a request (page or API). A wrong access code is counted in a transaction of its own,
    committed here before the refusal rolls the request back: the count must outlive the refusal, or the limit
    on guesses (check_access_code) would never be reached. The one service that commits, for that reason."""
    try:
        attempt = start_attempt(exam, user, now, access_code=access_code)
    except DomainError as exc:
        if exc.code == "bad_access_code":
            db.session.rollback()
            audit.record("exam.bad_access_code", actor=user, target=f"exam:{exam.code}", at=now)
            db.session.commit()
        raise
    if attempt.started_at == now:  # started by this request, not the attempt in progress resumed
        for callback in _started:
            callback(attempt, now)
    return attempt


def access_code_hash(exam: Exam, code: str) -> str:
    """The stored form of an exam's access code: an HMAC under a key derived from the app's secret key, bound to
    the exam. A room's code is short, so a slow password hash would not protect it from a leaked database, only
    make a start storm expensive; without the key the HMAC cannot be guessed at all. (A new SECRET_KEY makes
    every code invalid: set the codes again.)"""
    key = hmac.new(current_app.config["SECRET_KEY"].encode(), b"qualexam access codes", hashlib.sha256).digest()
    message = f"{exam.id}\0{code.strip()}".encode()
    return "hmac-sha256$" + hmac.new(key, message, hashlib.sha256).hexdigest()


def check_access_code(exam: Exam, user: User, code: str | None, now: datetime) -> None:
    """Refuse a start with a wrong access code, and any start after too many wrong codes in a short time (the
    failures are counted in the audit log, written in a transaction of their own by the caller)."""
    window = now - timedelta(seconds=current_app.config["ACCESS_CODE_WINDOW_SECONDS"])
    failures = db.session.scalar(
        select(func.count(audit.AuditEvent.id)).where(
            audit.AuditEvent.action == "exam.bad_access_code",
            audit.AuditEvent.at > window,
            audit.AuditEvent.actor_id == user.id,
            audit.AuditEvent.target == f"exam:{exam.code}",
        )
    )
    if failures >= current_app.config["ACCESS_CODE_MAX_FAILURES"]:
        raise DomainError(_("Too many wrong access codes. Please wait a few minutes, or ask the invigilator."),
                          code="access_code_throttled", status=429)  # fmt: skip
    if not isinstance(code, str) or not hmac.compare_digest(exam.access_code_hash, access_code_hash(exam, code)):
        raise DomainError(_("The access code is wrong."), code="bad_access_code", status=403)


def in_progress(exam: Exam, user: User) -> Attempt | None:
    return db.session.scalar(
        select(Attempt).where(
            Attempt.exam_id == exam.id, Attempt.user_id == user.id, Attempt.status == AttemptStatus.IN_PROGRESS
        )
    )


def lock_attempt(attempt: Attempt, skip_locked: bool = False) -> Attempt | None:
    """The attempt row again, locked until the transaction ends (PostgreSQL; SQLite serialises writers). With
    `skip_locked`, None at once if another transaction holds it (PostgreSQL), instead of waiting for it."""
    return db.session.scalar(
        select(Attempt)
        .where(Attempt.id == attempt.id)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )


CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{8,32}")  # as Attempt.client_id holds


def claim(attempt: Attempt, client: str, now: datetime) -> bool:
    """The exam page `client` (an id the page keeps for its tab) holds the attempt from now on. A page that held it
    before (another device, another login, another tab) is taken over: its saves are refused, and the take-over
    is logged. Returns whether another page was taken over; a reload of the same page takes nothing over."""
    if not isinstance(client, str) or not CLIENT_ID.fullmatch(client):
        raise DomainError(_("The exam page sent no valid page id."), code="bad_client")
    attempt = lock_attempt(attempt)
    if attempt.status != AttemptStatus.IN_PROGRESS or attempt.client_id == client:
        return False
    took_over = attempt.client_id is not None
    if took_over:
        db.session.add(AttemptEvent(attempt_id=attempt.id, kind=EventKind.TAKEOVER, at=now))
    attempt.client_id = client
    return took_over


def check_client(attempt: Attempt, client: str | None) -> None:
    """Refuse a write from an exam page that another page has taken over (scripts send no page id)."""
    if client is not None and attempt.client_id is not None and client != attempt.client_id:
        raise DomainError(_("This exam was opened on another page, which has taken over. Please continue there."),
                          code="taken_over", status=409)  # fmt: skip


def submit(attempt: Attempt, now: datetime, client: str | None = None, grade_later: bool = False) -> Attempt:
    """End an attempt by the candidate's choice. Harmless twice; past the deadline it is finalized as expired.
    `grade_later` (a candidate's request): the end is recorded and its grading left to a job (exam.jobs.GRADE),
    so that a deadline burst's submits cost about what a save costs; the candidate sees "being graded" until it
    has run (a few seconds), and a read of the result grades it at once if it has not after GRADING_WAIT_SECONDS."""
    from exam.scoring import grade  # scoring builds on attempts: imported on use

    attempt = lock_attempt(attempt)
    if attempt.status != AttemptStatus.IN_PROGRESS:
        return attempt
    if attempt.paused_at is not None:
        raise DomainError(_("The exam is paused by the proctor; it can be submitted once it resumes."),
                          code="paused", status=409)  # fmt: skip
    if now > attempt.deadline_at + grace():
        return finalize(attempt, now)
    check_client(attempt, client)
    attempt.status, attempt.ended_at = AttemptStatus.SUBMITTED, now
    if grade_later:
        from exam import jobs  # the jobs build on attempts: imported on use

        attempt.graded_at = None  # (an attempt reopened after a mistaken end was graded before)
        jobs.ask_grading(attempt.exam)
        return attempt
    with rescoring("finalize"):
        grade(attempt, now)
    return attempt


def grading_wait() -> timedelta:
    return timedelta(seconds=current_app.config.get("EXAM_GRADING_WAIT_SECONDS", 10))


def grading_due(now: datetime, exam: Exam | None = None, wait: timedelta = timedelta(0)) -> list[int]:
    """Ids of the ended attempts (of one exam, or of all) that have waited for their grading longer than `wait`,
    the longest waiting first."""
    stmt = select(Attempt.id).where(
        Attempt.graded_at.is_(None),
        # The status as a literal: SQLite uses the partial index ix_attempts_grading_due only then.
        Attempt.status != literal_column(f"'{AttemptStatus.IN_PROGRESS.value}'"),
        Attempt.ended_at <= now - wait,
    )
    if exam is not None:
        stmt = stmt.where(Attempt.exam_id == exam.id)
    return list(db.session.scalars(stmt.order_by(Attempt.ended_at)))


def grade_ended(attempt: Attempt, now: datetime, skip_locked: bool = False) -> bool:
    """Grade an ended attempt that waits for its grading (locked first: of a job and a reader grading it at the
    same moment, one does). `skip_locked`: one that another transaction holds is left to it (PostgreSQL), so that
    several grading jobs of one exam share its attempts instead of queueing on each. Returns whether it was graded
    here."""
    from exam.scoring import grade  # scoring builds on attempts: imported on use

    attempt = lock_attempt(attempt, skip_locked=skip_locked)
    if attempt is None or not attempt.awaits_grading:
        return False
    # Claimed by a conditional write: SQLite takes no row lock on a read, so of two jobs that both read it as
    # waiting, the second's claim waits for the first's commit and then finds it graded.
    claim = update(Attempt).where(Attempt.id == attempt.id, Attempt.graded_at.is_(None)).values(graded_at=now)
    if db.session.execute(claim).rowcount != 1:
        return False
    with rescoring("finalize"):
        grade(attempt, now)
    return True


def grade_if_kept_waiting(attempt: Attempt, now: datetime) -> None:
    """A read of an ended attempt: graded here if its job has kept it waiting longer than GRADING_WAIT_SECONDS (no
    worker runs, or they are all busy), so that no candidate waits long for a score whatever the workers do."""
    if attempt.awaits_grading and now - attempt.ended_at > grading_wait():
        grade_ended(attempt, now)


def finalize(attempt: Attempt, now: datetime) -> Attempt:
    """End an overdue attempt with the answers saved in time (nothing saved before the deadline is lost)."""
    from exam.scoring import grade  # scoring builds on attempts: imported on use

    # A held clock does not end, until the exam closes: then the attempt ends with what was saved.
    if attempt.status == AttemptStatus.IN_PROGRESS and (attempt.paused_at is None or attempt.overdue(now, grace())):
        attempt.paused_at = None
        attempt.status, attempt.ended_at = AttemptStatus.EXPIRED, min(now, attempt.deadline_at + grace())
        with rescoring("finalize"):
            grade(attempt, now)
    return attempt


def overdue_attempts(now: datetime, exam: Exam | None = None) -> list[int]:
    """Ids of the attempts (of one exam, or of all) left open past their deadline and grace."""
    # The status as a literal, not a parameter: SQLite uses a partial index (ix_attempts_open_deadline) only then.
    is_open = Attempt.status == literal_column(f"'{AttemptStatus.IN_PROGRESS.value}'")
    held_past_close = Attempt.exam_id.in_(select(Exam.id).where(Exam.closes_at < now - grace()))
    stmt = select(Attempt.id).where(
        is_open,
        Attempt.deadline_at < now - grace(),
        or_(Attempt.paused_at.is_(None), held_past_close),  # a held clock ends only when the exam has closed
    )
    if exam is not None:
        stmt = stmt.where(Attempt.exam_id == exam.id)
    return list(db.session.scalars(stmt.order_by(Attempt.deadline_at)))  # the longest overdue first


def finalize_overdue(now: datetime, exam: Exam | None = None) -> int:
    """Finalize every attempt (of one exam, or of all) left open past its deadline and grace; returns how many."""
    overdue = overdue_attempts(now, exam)
    for attempt_id in overdue:
        finalize(lock_attempt(db.session.get(Attempt, attempt_id)), now)
    db.session.flush()
    return len(overdue)
