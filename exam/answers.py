"""Saving answers: an attempt's unchanging facts kept per process, the one-statement save, and the answers' shapes."""

import functools
import threading
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Integer, bindparam, or_, select, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.errors import DomainError
from core.extensions import db
from core.models import MAX_INT, UTCDateTime
from exam.attempts import check_client, grace
from exam.models import Answer, Attempt, AttemptStatus, ExamSection, PaperItem
from question_bank.models import QuestionVersion
from question_bank.richtext import to_text
from question_bank.types import count_blanks


@dataclass(frozen=True)
class ItemFacts:
    """One paper item as its candidate's saves and page need it. A paper's items never change once drawn, nor do
    question versions (an edit makes a new one), nor an exam's sections once anyone has started."""

    position: int
    qtype: str
    option_order: tuple[int, ...]
    blanks: int
    section: str = ""
    points: float = 0.0
    version_id: int = 0
    stem: str = ""
    options: tuple[str, ...] = ()  # in the version's own order


@dataclass(frozen=True)
class AttemptFacts:
    """What never changes about an attempt: whose it is, its paper and that paper's items by position. `started_at`
    tells this attempt from a later row that might reuse its id (SQLite reuses the ids of deleted rows)."""

    id: int
    user_id: int
    paper_id: int
    started_at: datetime
    items: dict[int, ItemFacts]


_CACHE_LOCK = threading.Lock()


_FACTS_KEPT = 4096  # attempts per process: a worker's share of a sitting of tens of thousands


_VERSIONS_KEPT = 50000  # question versions per process (their text is shared by every paper that drew them)


def attempt_facts(attempt: int | Attempt, started_at: datetime | None = None) -> AttemptFacts | None:
    """The attempt's unchanging facts, read once per process (two queries; one when given the Attempt itself) and
    kept: every later save of the attempt needs no read of the attempt, its paper or its questions, and its page
    is served from them. What can change (the status, the deadline, the page holding the attempt) is checked by
    the write itself (`save_answer`). `started_at`, when the caller has the attempt, must match: a row that reused
    the id is new."""
    if isinstance(attempt, Attempt):
        attempt_id, started_at = attempt.id, attempt.started_at
    else:
        attempt_id = attempt
    cache = current_app.extensions.setdefault("exam_attempt_facts", {})
    facts = cache.get(attempt_id)
    if facts is not None and (started_at is None or facts.started_at == started_at):
        return facts
    if isinstance(attempt, Attempt):
        row = attempt  # its user, paper and start, as loaded (a new attempt: just written)
    else:
        row = db.session.execute(
            select(Attempt.user_id, Attempt.paper_id, Attempt.started_at).where(Attempt.id == attempt_id)
        ).first()
    if row is None:
        return None
    versions = current_app.extensions.setdefault("exam_versions", {})
    if len(versions) >= _VERSIONS_KEPT:
        with _CACHE_LOCK:
            versions.clear()
    items = {}
    for r in db.session.execute(
        select(PaperItem.position, PaperItem.option_order, PaperItem.points, PaperItem.question_version_id,
               ExamSection.qtype, ExamSection.title, QuestionVersion.stem, QuestionVersion.options)
        .join(ExamSection, ExamSection.id == PaperItem.section_id)
        .join(QuestionVersion, QuestionVersion.id == PaperItem.question_version_id)
        .where(PaperItem.paper_id == row.paper_id)
        .order_by(PaperItem.position)
    ):  # fmt: skip
        vid = r.question_version_id
        text = versions.get(vid)
        if text is None:  # one copy of a version's text per process, however many papers drew it
            stem = r.stem
            blanks = count_blanks(to_text(stem)) if r.qtype == "fill" else 0
            text = versions[vid] = (stem, tuple(r.options or ()), blanks)
        items[r.position] = ItemFacts(r.position, r.qtype, tuple(r.option_order or ()), text[2], r.title,
                                      float(r.points), vid, text[0], text[1])  # fmt: skip
    facts = AttemptFacts(attempt_id, row.user_id, row.paper_id, row.started_at, items)
    with _CACHE_LOCK:  # gunicorn's threads share the worker's caches
        while len(cache) >= _FACTS_KEPT:
            cache.pop(next(iter(cache)))  # the oldest kept: an exam's attempts end together
        cache[attempt_id] = facts
    return facts


def version_keys(version_ids: set[int]) -> dict[int, tuple[object, dict]]:
    """Version id -> (key, settings), kept per process: versions never change (an edit makes a new one), so
    grading reads each version's key once per worker, not once per paper. Server-side only: no page shows this."""
    cache = current_app.extensions.setdefault("exam_version_keys", {})
    found = {vid: cache[vid] for vid in version_ids if vid in cache}
    missing = [vid for vid in version_ids if vid not in found]
    if missing:
        rows = db.session.execute(
            select(QuestionVersion.id, QuestionVersion.answer, QuestionVersion.settings).where(
                QuestionVersion.id.in_(missing)
            )
        )
        loaded = {r.id: (r.answer, r.settings or {}) for r in rows}
        found.update(loaded)
        with _CACHE_LOCK:  # gunicorn's threads share the worker's caches
            if len(cache) + len(loaded) > _VERSIONS_KEPT:
                cache.clear()
            cache.update(loaded)
    return found


@dataclass(frozen=True)
class Saved:
    """The answer stored after a save: the request's, or a newer one already there (`accepted` False)."""

    seq: int
    saved_at: datetime
    accepted: bool


#: The highest sequence number a save may carry (its column's largest value; 0 is an unanswered item's).
MAX_SEQ = MAX_INT


def save_answer(
    attempt: Attempt | int, position: int, value, seq: int, now: datetime, client: str | None = None,
    user_id: int | None = None,
) -> Saved:  # fmt: skip
    """Store one answer if the attempt is still running; a higher `seq` replaces a lower one, a lower one is
    ignored (and the stored answer returned, `accepted` False), an equal one is the same save sent again (accepted)
    or, with another value, refused (`seq_reused`). Refused, with a reason, after the deadline (plus grace), and
    from a page another one has taken over. `user_id`, when given, must own the attempt (404 otherwise).

    One statement checks and writes: it inserts or replaces the answer only where the attempt is this user's, still
    running, within its deadline and held by this page, with the attempt row share-locked on PostgreSQL (a submit
    locks it exclusively, so a save lands wholly before the grading or is refused after it; SQLite runs one writer
    at a time). The refusals are told apart afterwards, off the hot path."""
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= MAX_SEQ:
        raise DomainError(_("The sequence number must be a whole number from 1 to %(max)d.", max=MAX_SEQ),
                          code="bad_request")  # fmt: skip
    attempt_id = attempt if isinstance(attempt, int) else attempt.id
    facts = attempt_facts(attempt_id)
    if facts is None or (user_id is not None and facts.user_id != user_id):
        raise DomainError(_("No such attempt."), code="not_found", status=404)
    item = facts.items.get(position)
    if item is None:
        raise DomainError(_("There is no question %(n)d in this paper.", n=position), code="no_such_item", status=404)
    stored = to_original(item, parse_answer(item, value))
    params = {"attempt_id": attempt_id, "user_id": facts.user_id, "paper_id": facts.paper_id,
              "started_at": facts.started_at, "earliest_deadline": now - grace(), "client": client,
              "position": position, "value": stored, "seq": seq, "now": now}  # fmt: skip
    statement = _save_statement(db.session.get_bind().dialect.name, client is not None)
    written = db.session.execute(statement, params).first()
    if written is not None:
        return Saved(written.seq, written.saved_at, True)
    return _not_written(attempt_id, position, seq, stored, client, now)


@functools.cache
def _save_statement(dialect: str, with_client: bool):
    """The save's one statement, built once per process (building it costs more than running it): insert the
    answer, or replace it when the stored one has a lower sequence, only where the attempt row says it may."""
    running = select(
        Attempt.id,
        bindparam("position", type_=Integer),
        bindparam("value", type_=Answer.value.type),
        bindparam("seq", type_=Integer),
        bindparam("now", type_=UTCDateTime()),
    ).where(
        Attempt.id == bindparam("attempt_id"),
        Attempt.user_id == bindparam("user_id"),
        Attempt.paper_id == bindparam("paper_id"),
        Attempt.started_at == bindparam("started_at", type_=UTCDateTime()),
        Attempt.status == AttemptStatus.IN_PROGRESS.value,
        Attempt.deadline_at >= bindparam("earliest_deadline", type_=UTCDateTime()),
        Attempt.paused_at.is_(None),
        or_(Attempt.client_id.is_(None), Attempt.client_id == bindparam("client")) if with_client else true(),
    )
    if dialect == "postgresql":
        running = running.with_for_update(read=True)  # FOR SHARE: saves run side by side; a submit waits for them
    answers = Answer.__table__  # Core, not the ORM: executed with its parameters, not as a bulk insert of rows
    upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(answers).from_select(
        ["attempt_id", "position", "value", "seq", "saved_at"], running
    )
    return upsert.on_conflict_do_update(
        index_elements=[answers.c.attempt_id, answers.c.position],
        set_={"value": upsert.excluded.value, "seq": upsert.excluded.seq, "saved_at": upsert.excluded.saved_at},
        where=answers.c.seq < upsert.excluded.seq,
    ).returning(answers.c.seq, answers.c.saved_at)


def _not_written(attempt_id: int, position: int, seq: int, value, client: str | None, now: datetime) -> Saved:
    """Why a save wrote nothing: a refusal, or an answer with an equal or higher sequence already stored. The same
    sequence number with the same value is this very save sent again (accepted: idempotent); with another value it
    is refused (`seq_reused`), never acknowledged as saved when it was not."""
    attempt = db.session.get(Attempt, attempt_id, populate_existing=True)
    if attempt is None:
        raise DomainError(_("No such attempt."), code="not_found", status=404)
    check_client(attempt, client)
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise DomainError(_("This attempt has ended; the answer was not saved."), code="attempt_ended", status=409)
    if attempt.paused_at is not None:  # a proctor holds the clock: the page keeps the answer and sends it later
        raise DomainError(_("The exam is paused by the proctor; the answer is kept on this page and sent when it "
                            "resumes."), code="paused", status=409)  # fmt: skip
    if now > attempt.deadline_at + grace():
        # Refused, and the request rolls back: finalization is left to the next read, submit or the cron job.
        raise DomainError(_("The time is up; the answer was not saved."), code="deadline_passed", status=409)
    answer = db.session.execute(
        select(Answer.seq, Answer.saved_at, Answer.value).where(
            Answer.attempt_id == attempt_id, Answer.position == position
        )
    ).first()
    if answer is None:  # the attempt changed hands between the write and this look (a concurrent claim)
        raise DomainError(_("The answer could not be saved; please try again."), code="save_conflict", status=409)
    if answer.seq == seq and answer.value != value:
        raise DomainError(
            _("Another answer to question %(n)d was already saved with this sequence number; this one was not saved. "
              "Send it again with a higher number.", n=position),
            code="seq_reused", status=409,
        )  # fmt: skip
    return Saved(answer.seq, answer.saved_at, answer.seq == seq)  # equal: this very save, sent again


def parse_answer(item: PaperItem | ItemFacts, value):
    """Check an answer's shape for its question type (option indexes as shown); None clears the answer."""
    qtype = item.qtype if isinstance(item, ItemFacts) else item.section.qtype
    n = len(item.option_order)
    bad = DomainError(_("This answer does not fit question %(n)d.", n=item.position), code="bad_answer")
    if value is None:
        return None
    if qtype == "single":
        if not (isinstance(value, int) and not isinstance(value, bool) and 0 <= value < n):
            raise bad
    elif qtype == "multiple":
        if not (
            isinstance(value, list)
            and all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n for i in value)
        ):
            raise bad
        value = sorted(set(value))
    elif qtype == "truefalse":
        if not isinstance(value, bool):
            raise bad
    elif qtype == "fill":
        blanks = item.blanks if isinstance(item, ItemFacts) else count_blanks(to_text(item.version.stem))
        if not (
            isinstance(value, list)
            and len(value) == blanks
            and all(isinstance(v, str) and len(v) <= 500 for v in value)
        ):
            raise bad
    elif not (isinstance(value, str) and len(value) <= 20000):
        raise bad
    return value


def to_original(item: PaperItem | ItemFacts, value):
    """Option indexes as shown -> as in the question version (what the key speaks of)."""
    order = item.option_order or []
    qtype = item.qtype if isinstance(item, ItemFacts) else item.section.qtype
    if qtype == "single" and value is not None:
        return order[value]
    if qtype == "multiple" and value is not None:
        return sorted(order[i] for i in value)
    return value
