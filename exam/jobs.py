"""The exam engine's long work on the job engine: drawing an exam's papers at publishing, grading the attempts
candidates have submitted, and the finalizer of overdue attempts as the workers' periodic work.

Grading is not part of a candidate's submit (exam.attempts.submit's `grade_later`): the submit records the end and
asks for the exam's grading job, one that waits per exam whatever the number of submits (a deadline burst asks
for a handful, not 2,000). The job grades what has ended, one attempt per commit, the longest waiting first; the
periodic finalizer, and any read of the result, grade an attempt the job has kept waiting (no worker running).

Drawing papers is not cancellable. It commits a batch of papers at a time (a worker killed after a batch keeps it,
and the next run skips those candidates), so stopping it half-way could not "keep nothing of what it did", as the
jobs page promises of a stopped job. The exam is consistent after any batch anyway: a candidate whose paper is not
drawn yet gets it drawn at their start (exam.attempts._draw_at_start). To stop drawing, take the exam back to
draft: the next batch sees it and the job ends.
"""

import logging
from datetime import datetime, timedelta

from flask import current_app, has_request_context, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from core.extensions import db
from core.models import now_utc
from exam import attempts, conflicts, papers, roster
from exam.models import Attempt, Exam, Phase
from jobs import JobError, periodic, register, submit, waiting
from jobs.models import Job, JobState

log = logging.getLogger(__name__)

PREPARE_PAPERS = "exam.prepare-papers"
GRADE = "exam.grade"
FINALIZE_OVERDUE = "exam.finalize-overdue"
ACTIVE = (JobState.QUEUED, JobState.RUNNING, JobState.RETRYING)
#: Tries of one batch when a candidate's start draws a paper of the same batch at the same moment.
BATCH_TRIES = 3


def prepare_later(exam: Exam, user=None) -> Job:
    """Ask for the exam's missing papers to be drawn (the job exam.prepare-papers, in the caller's transaction and
    dispatched when it commits); the job that waits for the exam already, if there is one (a running one listed
    its candidates when it started: people added since need a job of their own)."""
    waiting = preparing(exam)
    if waiting is not None and waiting.state != JobState.RUNNING:
        return waiting
    return submit(PREPARE_PAPERS, {"exam_id": exam.id}, user=user)


def prepare_soon(actor, exam: Exam, now: datetime, user_ids: list[int] | None = None) -> int:
    """Draw the missing first papers (of `user_ids`, eligible people, or of every candidate) in the caller's
    transaction when they fit in one batch: a few people added, and the page answers at once. More, or a drawing
    that meets a running job's batch at the same candidates, are left to the job exam.prepare-papers, asked for
    here. Returns how many were drawn now."""
    if exam.phase(now) not in (Phase.PUBLISHED, Phase.OPEN):
        return 0
    wanted = papers.papers_wanted(exam, now) if user_ids is None else user_ids
    if not wanted:
        return 0
    if len(wanted) <= papers.BATCH:
        try:
            with db.session.begin_nested():
                return papers.draw_first_papers(exam, wanted, now)
        except IntegrityError:
            pass
    prepare_later(exam, actor)
    return 0


def publish_and_prepare(actor, exam: Exam, now: datetime, accept_conflicts: bool = False) -> Job:
    """Publish the exam (exam.conflicts.publish: the checks, the state, the audit) and ask for its papers, all in
    the caller's transaction: the job starts when the publishing commits, and not at all if it is refused."""
    conflicts.publish(actor, exam, now, accept_conflicts=accept_conflicts, draw=False)
    return prepare_later(exam, actor)


def preparing(exam: Exam) -> Job | None:
    """The job that waits to draw or draws the exam's papers, if any."""
    return db.session.scalar(
        select(Job)
        .where(Job.kind == PREPARE_PAPERS, Job.state.in_(ACTIVE), Job.params["exam_id"].as_integer() == exam.id)
        .order_by(Job.id.desc())
        .limit(1)
    )


def last_preparation(exam: Exam) -> Job | None:
    """The newest job that drew (or tried to draw) the exam's papers since it was published."""
    if exam.published_at is None:
        return None
    return db.session.scalar(
        select(Job)
        .where(
            Job.kind == PREPARE_PAPERS,
            Job.params["exam_id"].as_integer() == exam.id,
            Job.created_at >= exam.published_at,
        )
        .order_by(Job.id.desc())
        .limit(1)
    )


def _exam_path(exam: Exam) -> str:
    """The exam's page, with or without a request (a worker has none)."""
    if has_request_context():
        return url_for("exam.exam", code=exam.code)
    with current_app.test_request_context():
        return url_for("exam.exam", code=exam.code)


class _Stopped(Exception):
    """The exam is no longer published or open: the batches committed stay, the rest is not drawn."""


@register(PREPARE_PAPERS, _l("Drawing the papers"), cancellable=False)
def _prepare_papers(ctx):
    """Draw the first paper of every eligible candidate who has none, `papers.BATCH` papers per commit. The last
    batch is committed by the runner with the job's completion."""
    exam = db.session.get(Exam, ctx.params.get("exam_id"))
    if exam is None:
        raise JobError(_("The exam no longer exists."))
    now = now_utc()
    todo = papers.papers_wanted(exam, now)
    total, drawn, cache = len(todo), 0, {}
    ctx.progress(0, total)
    try:
        for start in range(0, total, papers.BATCH):
            batch = todo[start : start + papers.BATCH]
            drawn += _draw_batch(exam, batch, now, cache, lambda n, start=start: ctx.progress(start + n, total))
            ctx.progress(start + len(batch), total)
            if start + papers.BATCH < total:
                db.session.commit()
    except _Stopped:
        message = _("The exam is no longer published: %(n)d papers were drawn.", n=drawn)
        return {"message": message, "url": _exam_path(exam), "drawn": drawn}
    return {"message": _("%(n)d papers drawn.", n=drawn), "url": _exam_path(exam), "drawn": drawn}


def _draw_batch(exam: Exam, user_ids: list[int], now: datetime, cache: dict, on_paper) -> int:
    """One batch: drawn first (no lock), then written under the exam's lock (papers.hold_exam: a withdrawal waits
    for the batch, or the batch sees the draft), after asking again who has a paper: a second run after a worker
    was killed, or a candidate's own start meanwhile, never makes a second paper. SQLite's lock is the database's
    writer, so it is held for the writes only, not for the drawing."""
    for tries in range(1, BATCH_TRIES + 1):
        drawn = papers.draw(exam, papers.without_paper(exam, user_ids), now, cache, on_paper)
        exam = papers.hold_exam(exam)
        if exam.phase(now_utc()) not in (Phase.PUBLISHED, Phase.OPEN):
            raise _Stopped()
        wanted = set(papers.without_paper(exam, [paper.user_id for paper, _items in drawn]))
        try:
            with db.session.begin_nested():
                return papers.store([(paper, items) for paper, items in drawn if paper.user_id in wanted], now)
        except IntegrityError:  # a start drew one of these papers at the same moment: ask again who has one
            if tries == BATCH_TRIES:
                raise
    return 0


def _each(attempt_ids: list[int], work, what: str) -> int:
    """`work(attempt)` for each attempt, one transaction each (committed here): a sweep after a deadline burst never
    holds the database (SQLite's one writer, or many PostgreSQL row locks) for the whole sweep, and one failure
    stops only its own. Returns how many `work` did (it returns whether it did)."""
    count = 0
    for attempt_id in attempt_ids:
        try:
            attempt = db.session.get(Attempt, attempt_id)
            if attempt is not None and work(attempt) is not False:
                count += 1
            db.session.commit()
        except OperationalError:
            raise  # the database is away: the whole sweep waits for the next round
        except Exception:  # one attempt that cannot be graded must not hold up the others behind it
            db.session.rollback()
            log.exception("Attempt %s could not be %s; the others go on.", attempt_id, what)
    db.session.commit()
    return count


def finalize_overdue_each(now: datetime) -> int:
    """Finalize the overdue attempts, and grade those the grading job has kept waiting longer than the reads
    wait for it (no worker, or all busy), one transaction each. Returns how many were finalized."""
    count = _each(attempts.overdue_attempts(now), lambda a: attempts.finalize(attempts.lock_attempt(a), now),
                  "finalized")  # fmt: skip
    graded = grade_waiting_each(now, wait=attempts.grading_wait())
    if graded:
        log.info("%d submitted attempt(s) graded by the finalizer (their job kept them waiting).", graded)
    return count


def grade_waiting_each(now: datetime, exam: Exam | None = None, wait: timedelta = timedelta(0)) -> int:
    """Grade the ended attempts (of one exam, or of all) that have waited for their grading longer than `wait`, one
    transaction each, passing over any another job is grading at that moment (PostgreSQL: several workers' jobs
    grade one exam's burst side by side). Returns how many were graded here."""
    return _each(attempts.grading_due(now, exam, wait),
                 lambda a: attempts.grade_ended(a, now_utc(), skip_locked=True), "graded")  # fmt: skip


def ask_grading(exam: Exam) -> Job:
    """The exam's grading job that waits for a worker, or a new one (in the caller's transaction, dispatched when
    it commits). Not locked: two submits that both find none add two, and the second finds nothing left to do.
    While one runs, the next submit queues another, which a free worker runs beside it: a burst is graded by as
    many workers as are free."""
    return waiting(GRADE, exam.id) or submit(GRADE, {"exam_id": exam.id})


@register(GRADE, _l("Grading submitted attempts"), cancellable=False)
def _grade(ctx):
    """Grade the exam's ended attempts that wait for it, one commit each (grading twice changes nothing, so a
    worker killed half-way leaves nothing to undo)."""
    exam = db.session.get(Exam, ctx.params.get("exam_id"))
    if exam is None:
        raise JobError(_("The exam no longer exists."))
    count = grade_waiting_each(now_utc(), exam)
    return {"message": _("%(n)d attempts graded.", n=count), "url": _exam_path(exam), "graded": count}


@periodic(FINALIZE_OVERDUE, every=60)
def _finalize_overdue(now: datetime) -> None:
    """The finalizer: every minute, by one worker of the installation (the sweep's lock). Then the rosters of the
    exams that have closed are frozen (exam.roster), one commit each."""
    count = finalize_overdue_each(now)
    if count:
        log.info("%d overdue attempt(s) finalized.", count)
    frozen = roster.freeze_due(now)
    if frozen:
        log.info("%d exam roster(s) frozen at the close.", frozen)
