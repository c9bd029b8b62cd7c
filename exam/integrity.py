"""Exam records that cannot change behind anyone's back: used question versions and papers, finalized attempts.

A question version, a paper or a paper item is *used* once an attempt exists whose paper is that paper (or has an
item with that version). An attempt is *finalized* once its status is submitted or expired. Two layers guard them;
each refuses what follows.

The database (triggers of migration 0013, on SQLite and PostgreSQL; they hold for any client, raw SQL included):
- question_versions: UPDATE and DELETE of a used version;
- papers: UPDATE and DELETE of a used paper; paper_items: INSERT into, UPDATE and DELETE of the items of a used
  paper;
- answers of a finalized attempt: INSERT (except the grader's empty row for an unanswered item: value NULL, seq 0,
  no grader), DELETE, and any UPDATE of attempt_id, position, value, seq or saved_at (also moving an answer into
  a finalized attempt);
- attempts: DELETE of a finalized attempt; on a finalized attempt any UPDATE of exam_id, user_id, number,
  paper_id, started_at, deadline_at, extra_minutes, ended_at or status (so it never goes back to in progress).
The database leaves writable what grading writes: answers' points, grader_id, graded_at and comment, attempts'
score, fully_graded, passed and regraded_at (and the exam page's focus_losses and client_id). A change to those
made with raw SQL is found by `flask exams verify`, which recomputes every finalized attempt from its record.

The ORM (this module's rules, through core.guards; they hold for the app's own code, with a clear error before
anything is sent): the same refusals for objects flushed and for statements sent through the session (bulk
UPDATE/DELETE of matching rows), and besides: the grading columns above change only inside `rescoring(path)`, one
of the documented paths, each audited with old and new values: the grading at the end of an attempt ("finalize",
the first points: nothing to compare), manual grading ("manual_grading": exam.grading.grade_answer, audited as
answer.graded), a key correction ("key_correction": exam.grading.correct_key, audited as exam.key_corrected) and
the regrading it causes or `flask exams regrade` runs ("regrade": exam.scoring.regrade, audited as exam.regraded
with every item's and every total's old and new points), a decision on an appeal ("appeal": results.appeals) and a
formal correction of a final result ("correction": results.corrections), both through exam.marking.set_final_mark.
An attempt's voiding (voided_at, void_reason) changes only through exam.adjustments.void and restore, decisions on
incidents that are audited and logged on the attempt's timeline.

Cost on the hot path: a save (an upsert of an answer on an attempt in progress) makes one trigger read the
attempt's row by its primary key, a row the save's own statement has just read: the AFTER INSERT trigger when the
save inserts, the BEFORE UPDATE one when it replaces (the insert trigger does not fire then). The ORM rules cost a
save nothing (its statement is an INSERT, which they leave to the database). bench/bench_guards.py measures it.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import and_, select, true

from core import guards
from core.extensions import db
from exam.models import Answer, Attempt, AttemptStatus, Paper, PaperItem
from question_bank.models import QuestionVersion

#: The documented paths that may change points and scores.
RESCORING_PATHS = ("finalize", "manual_grading", "key_correction", "regrade", "appeal", "correction", "reopen")
FINAL = (AttemptStatus.SUBMITTED.value, AttemptStatus.EXPIRED.value)
#: What a candidate handed in: fixed once the attempt is finalized (the database refuses it too).
ANSWER_RECORD = frozenset({"attempt_id", "position", "value", "seq", "saved_at"})
#: What grading writes: only inside rescoring() (the ORM refuses it elsewhere).
ANSWER_GRADING = frozenset({"points", "grader_id", "graded_at", "comment"})
ATTEMPT_FIXED = frozenset(
    {"exam_id", "user_id", "number", "paper_id", "started_at", "deadline_at", "extra_minutes", "ended_at", "status"}
)
ATTEMPT_SCORE = frozenset({"score", "fully_graded", "passed", "regraded_at"})
#: A score voided by a decision on an incident: changes only through exam.adjustments.void and restore (path "void").
ATTEMPT_VOID = frozenset({"voided_at", "void_reason"})
#: What never changes, even when an attempt is reopened.
ATTEMPT_IDENTITY = frozenset({"exam_id", "user_id", "number", "paper_id", "started_at", "extra_minutes"})


@contextmanager
def rescoring(path: str) -> Iterator[None]:
    """Points and scores may change while the block runs: `path` names the documented path (RESCORING_PATHS),
    which audits what it changes. What the block changed is flushed before it ends (the guard judges a change when
    it is flushed)."""
    if path not in RESCORING_PATHS:
        raise ValueError(f"not a documented rescoring path: {path!r}")
    with guards.allowing("rescoring"):
        yield
        db.session.flush()


def is_rescoring() -> bool:
    return guards.allowed("rescoring")


def _refuse(what: str):
    raise guards.RecordIsImmutable(f"{guards.REFUSAL_PREFIX} {what}")


# ---------------------------------------------------------------- queries: is any of these rows guarded?


def _versions_used(session, where) -> bool:
    versions = select(QuestionVersion.id).where(where)
    stmt = (
        select(PaperItem.id)
        .join(Attempt, Attempt.paper_id == PaperItem.paper_id)
        .where(PaperItem.question_version_id.in_(versions))
    )
    return session.execute(stmt.limit(1)).first() is not None


def _papers_used(session, paper_ids) -> bool:
    return session.execute(select(Attempt.id).where(Attempt.paper_id.in_(paper_ids)).limit(1)).first() is not None


def _any_final(session, attempt_ids) -> bool:
    stmt = select(Attempt.id).where(Attempt.id.in_(attempt_ids), Attempt.status.in_(FINAL))
    return session.execute(stmt.limit(1)).first() is not None


# ---------------------------------------------------------------- objects flushed


def _placeholder(answer: Answer) -> bool:
    """The row grading adds for an item left unanswered (it holds no answer, only the item's points)."""
    return answer.value is None and answer.seq == 0 and answer.grader_id is None


def _reopening(attempt: Attempt) -> bool:
    """The one documented way back to in progress (exam.adjustments.reopen): status, end and deadline change
    together with a higher reopening count, the attempt's identity unchanged (the database checks the same)."""
    return (
        guards.allowed("reopen")
        and attempt.status == AttemptStatus.IN_PROGRESS
        and attempt.reopened == (guards.committed_value(attempt, "reopened") or 0) + 1
        and not guards.changed_columns(attempt) & ATTEMPT_IDENTITY
    )


@guards.on_flush
def _refuse_flushed_changes(session) -> None:
    versions, papers, attempts = set(), set(), set()  # ids whose use (or finality) refuses the change
    for obj in session.deleted:
        if isinstance(obj, QuestionVersion):
            versions.add(obj.id)
        elif isinstance(obj, Paper):
            papers.add(obj.id)
        elif isinstance(obj, PaperItem):
            papers.add(guards.committed_value(obj, "paper_id"))
        elif isinstance(obj, Attempt) and guards.committed_value(obj, "status") in FINAL:
            _refuse(f"attempt {obj.id} is finalized and cannot be removed")
        elif isinstance(obj, Answer):
            attempts.add(guards.committed_value(obj, "attempt_id"))
    for obj in session.dirty:
        if not isinstance(obj, QuestionVersion | Paper | PaperItem | Attempt | Answer):
            continue
        changed = guards.changed_columns(obj)
        if not changed:
            continue
        if isinstance(obj, QuestionVersion):
            versions.add(obj.id)
        elif isinstance(obj, Paper):
            papers.add(obj.id)
        elif isinstance(obj, PaperItem):
            papers.update((guards.committed_value(obj, "paper_id"), obj.paper_id))
        elif isinstance(obj, Attempt):
            if changed & ATTEMPT_SCORE and not is_rescoring():
                _refuse(f"the score of attempt {obj.id} changes only by grading ({', '.join(RESCORING_PATHS)})")
            if changed & ATTEMPT_VOID and not guards.allowed("void"):
                _refuse(f"attempt {obj.id} is voided or restored only by a decision (exam.adjustments.void, restore)")
            if changed & ATTEMPT_FIXED and guards.committed_value(obj, "status") in FINAL and not _reopening(obj):
                _refuse(f"attempt {obj.id} is finalized: {', '.join(sorted(changed & ATTEMPT_FIXED))} cannot change")
        elif isinstance(obj, Answer):
            if changed & ANSWER_GRADING and not is_rescoring():
                _refuse(f"the points of answer {obj.id} change only by grading ({', '.join(RESCORING_PATHS)})")
            if changed & ANSWER_RECORD:
                attempts.update((guards.committed_value(obj, "attempt_id"), obj.attempt_id))
    for obj in session.new:
        if isinstance(obj, PaperItem):
            paper = obj.__dict__.get("paper")
            papers.add(obj.paper_id if obj.paper_id is not None else getattr(paper, "id", None))
        elif isinstance(obj, Answer):
            if obj.points is not None and not is_rescoring():
                _refuse("an answer gets its points only by grading")
            if not (_placeholder(obj) and is_rescoring()):
                attempts.add(obj.attempt_id)
    versions.discard(None), papers.discard(None), attempts.discard(None)
    with session.no_autoflush:
        if versions and _versions_used(session, QuestionVersion.id.in_(versions)):
            _refuse("a question version used by an attempt cannot change or be removed")
        if papers and _papers_used(session, papers):
            _refuse("a paper used by an attempt, and its items, cannot change or be removed")
        if attempts and _any_final(session, attempts):
            _refuse("the answers of a finalized attempt cannot change, be added or be removed")


# ---------------------------------------------------------------- statements (bulk and Core) sent through a session


@guards.on_statement
def _refuse_statements(state) -> None:
    table = guards.statement_table(state)
    if table not in ("question_versions", "papers", "paper_items", "answers", "attempts"):
        return
    session, stmt = state.session, state.statement
    where = getattr(stmt, "whereclause", None)
    where = true() if where is None else where
    if table in ("question_versions", "papers", "paper_items"):
        # An INSERT of items is refused by the database when the paper is used (papers are drawn before any start).
        if state.is_insert:
            return
        with session.no_autoflush:
            if table == "question_versions":
                used = _versions_used(session, where)
            elif table == "papers":
                used = _papers_used(session, select(Paper.id).where(where))
            else:
                used = _papers_used(session, select(PaperItem.paper_id).where(where))
        if used:
            _refuse(f"{table}: rows used by an attempt cannot change or be removed")
        return
    columns = guards.statement_columns(state)
    scores = ANSWER_GRADING if table == "answers" else ATTEMPT_SCORE
    if columns & scores and not is_rescoring():
        _refuse(f"{table}: points and scores change only by grading ({', '.join(RESCORING_PATHS)})")
    if table == "attempts" and columns & ATTEMPT_VOID and not guards.allowed("void"):
        _refuse("attempts: a score is voided or restored only by a decision (exam.adjustments.void, restore)")
    if state.is_insert:
        return  # the database refuses an answer added to a finalized attempt
    fixed = ANSWER_RECORD if table == "answers" else ATTEMPT_FIXED
    if state.is_delete or columns & fixed:
        if table == "answers":
            rows = select(Answer.id).join(Attempt, Attempt.id == Answer.attempt_id)
        else:
            rows = select(Attempt.id)
        with session.no_autoflush:
            final = session.execute(rows.where(and_(where, Attempt.status.in_(FINAL))).limit(1)).first()
        if final is not None:
            _refuse(f"{table}: the records of a finalized attempt cannot change or be removed")
