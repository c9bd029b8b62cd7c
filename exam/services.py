"""The exam engine's rules: eligibility, paper drawing, publishing, and server-timed attempts with their grading.

Functions take `now` and flush without committing. The guarantees (a candidate never loses an answer that was
acknowledged, never gets more or less time than the rules give, never sees a key early) hold because:
- the deadline is fixed at the start and every save checks it in the same transaction as the write, with the
  attempt row locked where the database can (PostgreSQL);
- the database, not code, allows one attempt in progress per candidate and exam;
- a save only replaces an answer with a higher client sequence number.
"""

import functools
import hashlib
import hmac
import random
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Integer, Select, and_, bindparam, false, func, insert, literal_column, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from accounts.models import Cadre, CadreStatus, Unit, User
from accounts.queries import profile_conditions
from archive.services import record_exam_result
from core import audit
from core.errors import DomainError
from core.extensions import db
from core.models import MAX_INT, UTCDateTime
from exam.integrity import rescoring
from exam.models import (
    Answer,
    Attempt,
    AttemptEvent,
    AttemptStatus,
    EventKind,
    Exam,
    ExamCandidate,
    ExamSection,
    ExamStatus,
    KeyCorrection,
    Paper,
    PaperItem,
    PaperMode,
    Phase,
    SectionRule,
)
from question_bank.models import Category, Question, QuestionStatus, QuestionVersion, Tag, question_tags
from question_bank.richtext import to_text
from question_bank.services import record_exposure
from question_bank.types import QUESTION_TYPES, count_blanks

# ---------------------------------------------------------------- eligibility


def _rule_conditions(exam: Exam):
    """SQL conditions over Cadre/User/Unit for the exam's eligibility rules."""
    return profile_conditions(exam.eligibility or {}, exam.age_on)


def eligible_condition(exam: Exam):
    """SQL condition over User (outer-joined to Cadre and Unit): the person may sit the exam. The rules' cadres,
    plus people added by hand (while their account is active), minus people removed by hand."""
    by_hand = select(ExamCandidate.user_id).where(ExamCandidate.exam_id == exam.id)
    added = by_hand.where(ExamCandidate.included.is_(True))
    removed = by_hand.where(ExamCandidate.included.is_(False))
    return or_(
        and_(*_rule_conditions(exam), User.id.not_in(removed)),
        and_(User.id.in_(added), User.active.is_(True)),
    )


def eligible_people(exam: Exam) -> Select:
    """The users who may sit the exam, by unit and employee number (outer-joined to Cadre and Unit: a person
    added by hand may have no cadre profile)."""
    return (
        select(User)
        .outerjoin(Cadre, Cadre.user_id == User.id)
        .outerjoin(Unit, Cadre.unit_id == Unit.id)
        .where(eligible_condition(exam))
        .order_by(Unit.path.is_(None), Unit.path, User.username)  # people without a unit last, on every database
    )


def eligible_user_ids(exam: Exam) -> set[int]:
    """Who may sit the exam (see eligible_condition)."""
    return set(db.session.scalars(eligible_people(exam).with_only_columns(User.id).order_by(None)))


def is_eligible(exam: Exam, user: User) -> bool:
    """eligible_user_ids for one person, without listing everyone."""
    if not user.active:
        return False
    override = db.session.scalar(
        select(ExamCandidate.included).where(ExamCandidate.exam_id == exam.id, ExamCandidate.user_id == user.id)
    )
    if override is not None:
        return override
    stmt = select(User.id).join(Cadre, Cadre.user_id == User.id).join(Unit, Cadre.unit_id == Unit.id)
    return db.session.scalar(stmt.where(User.id == user.id, *_rule_conditions(exam))) is not None


def exams_for(user: User) -> list[tuple[Exam, int, int | None]]:
    """(exam, attempts used, id of the attempt in progress) of every published exam the person may sit or sat."""
    attempts: dict[int, list[Attempt]] = {}
    for a in db.session.scalars(select(Attempt).where(Attempt.user_id == user.id)):
        attempts.setdefault(a.exam_id, []).append(a)
    papers = set(db.session.scalars(select(Paper.exam_id).where(Paper.user_id == user.id)))
    out = []
    for exam in db.session.scalars(select(Exam).where(Exam.status != ExamStatus.DRAFT).order_by(Exam.opens_at)):
        mine = attempts.get(exam.id, [])
        if mine or exam.id in papers or is_eligible(exam, user):
            open_id = next((a.id for a in mine if a.status == AttemptStatus.IN_PROGRESS), None)
            out.append((exam, len(mine), open_id))
    return out


@dataclass
class Verdict:
    eligible: bool
    reasons: list[str]


def concerns(exam: Exam, user: User) -> bool:
    """Is the exam any of the user's business: a candidate now, or one who has sat it? To everyone else it is not
    there (404), so that an exam's existence and state are not told to those who may not sit it. A draft is
    nobody's business yet."""
    if exam.status == "draft":
        return False
    if is_eligible(exam, user):
        return True
    return (
        db.session.scalar(select(Attempt.id).where(Attempt.exam_id == exam.id, Attempt.user_id == user.id).limit(1))
        is not None
    )


def eligibility_verdict(exam: Exam, user: User) -> Verdict:
    """Whether a person may sit the exam, and why (or why not), rule by rule."""
    override = db.session.scalar(
        select(ExamCandidate).where(ExamCandidate.exam_id == exam.id, ExamCandidate.user_id == user.id)
    )
    if not user.active:
        return Verdict(False, [_("The account is deactivated.")])
    if override is not None and override.included is False:
        return Verdict(False, [_("Removed from this exam by hand.")])
    if override is not None and override.included is True:
        return Verdict(True, [_("Added to this exam by hand.")])
    cadre = user.cadre
    if cadre is None:
        return Verdict(False, [_("Has no cadre profile.")])
    rules, reasons, ok = exam.eligibility or {}, [], True
    if cadre.status != CadreStatus.SERVING:
        ok = False
        reasons.append(_("Not serving."))
    if rules.get("unit_ids"):
        paths = list(db.session.scalars(select(Unit.path).where(Unit.id.in_(rules["unit_ids"]))))
        inside = any(cadre.unit.path.startswith(p) for p in paths)
        ok &= inside
        reasons.append(
            _("Unit %(u)s is within the exam's units.", u=cadre.unit.name)
            if inside
            else _("Unit %(u)s is outside the exam's units.", u=cadre.unit.name)
        )
    if rules.get("ranks"):
        match = cadre.rank in rules["ranks"]
        ok &= match
        reasons.append(_("Rank matches.") if match else _("Rank does not match."))
    if rules.get("political_statuses"):
        match = cadre.political_status in rules["political_statuses"]
        ok &= match
        reasons.append(_("Political status matches.") if match else _("Political status does not match."))
    if rules.get("max_age") and exam.age_on:
        age = cadre.age_on(exam.age_on)
        young = age < int(rules["max_age"])
        ok &= young
        reasons.append(
            _("Age %(a)d on %(d)s is under %(n)s.", a=age, d=exam.age_on.isoformat(), n=rules["max_age"])
            if young
            else _("Age %(a)d on %(d)s is not under %(n)s.", a=age, d=exam.age_on.isoformat(), n=rules["max_age"])
        )
    return Verdict(bool(ok), reasons)


def set_candidate(
    actor, exam: Exam, user: User, now: datetime, *, included: bool | None, extra_minutes: int = 0, note: str = ""
) -> ExamCandidate:
    """Add a person by hand (included=True), remove them (False) or leave it to the rules (None), and give them
    extra time. Extra time counts for attempts started afterwards: a started attempt's deadline never moves."""
    if exam.status == ExamStatus.RELEASED:
        raise DomainError(_("The results are released: the exam can no longer change."), code="locked")
    if not 0 <= extra_minutes <= 600:
        raise DomainError(_("Extra time is 0 to 600 minutes."), code="bad_extra_time")
    if included is False and _in_progress(exam, user) is not None:
        raise DomainError(_("This person is sitting the exam now and cannot be removed."), code="in_progress")
    row = db.session.scalar(
        select(ExamCandidate).where(ExamCandidate.exam_id == exam.id, ExamCandidate.user_id == user.id)
    )
    if row is None:
        row = ExamCandidate(exam_id=exam.id, user_id=user.id)
        db.session.add(row)
    row.included, row.extra_minutes, row.note = included, extra_minutes, (note or "")[:200]
    audit.record(
        "exam.candidate",
        actor=actor,
        target=f"exam:{exam.code}",
        detail={"user": user.id, "included": included, "extra_minutes": extra_minutes},
        at=now,
    )
    db.session.flush()
    if exam.status != ExamStatus.DRAFT and included is not False:
        prepare_papers(exam, now)  # a person added after publishing gets a paper ahead of their start too
    return row


def candidate_overrides(exam: Exam) -> list[ExamCandidate]:
    return list(db.session.scalars(select(ExamCandidate).where(ExamCandidate.exam_id == exam.id)))


def eligible_counts_by_unit(exam: Exam) -> list[tuple[str | None, int]]:
    """(unit name, how many may sit the exam) in tree order; None for people without a cadre profile."""
    rows = db.session.execute(
        eligible_people(exam)
        .with_only_columns(Unit.name, func.count(User.id))
        .group_by(Unit.id, Unit.name, Unit.path)
        .order_by(None)
        .order_by(Unit.path.is_(None), Unit.path)
    )
    return [(name, n) for name, n in rows]


# ---------------------------------------------------------------- papers


def rule_pool(rule: SectionRule, qtype: str) -> list[tuple[int, int]]:
    """(question id, current version id) of the active questions a rule draws from, in a stable order."""
    stmt = select(Question.id, Question.current_version_id).where(
        Question.bank_id == rule.bank_id,
        Question.type == qtype,
        Question.status == QuestionStatus.ACTIVE,
        Question.difficulty.between(rule.difficulty_min, rule.difficulty_max),
    )
    if rule.category_id:
        category = db.session.get(Category, rule.category_id)
        sub = select(Category.id).where(Category.path.startswith(category.path, autoescape=True))
        stmt = stmt.where(Question.category_id.in_(sub))
    if rule.tag:
        stmt = stmt.where(Question.id.in_(select(question_tags.c.question_id).join(Tag).where(Tag.name == rule.tag)))
    return [(qid, vid) for qid, vid in db.session.execute(stmt.order_by(Question.id))]


def check_pools(exam: Exam) -> list[str]:
    """Why papers could not be drawn for this exam (empty when every rule's pool is large enough)."""
    problems = []
    if not exam.sections:
        problems.append(_("The exam has no sections."))
    for section in exam.sections:
        if exam.paper_mode == PaperMode.FIXED:
            if not section.fixed_items:
                problems.append(_("Section “%(s)s” has no questions.", s=section.title))
            continue
        if not section.rules:
            problems.append(_("Section “%(s)s” has no rules.", s=section.title))
        taken: set[int] = set()
        for rule in section.rules:
            pool = [q for q, _v in rule_pool(rule, section.qtype) if q not in taken]
            if len(pool) < rule.count:
                problems.append(
                    _("Section “%(s)s”: a rule needs %(n)d questions but only %(m)d active ones match.",
                      s=section.title, n=rule.count, m=len(pool))
                )  # fmt: skip
            taken.update(pool[: rule.count])
    if exam.pass_mark > exam.total_points:
        problems.append(_("The pass mark is higher than the total points."))
    return problems


def _paper_items(exam: Exam, seed: int, cache: dict | None = None) -> list[PaperItem]:
    """The items of a paper drawn with `seed` (not yet in the session). `cache` keeps the rules' pools and the
    versions between the papers of one `prepare_papers`: the same pools, read once."""
    rng = random.Random(seed)
    cache = {} if cache is None else cache
    pools, versions = cache.setdefault("pools", {}), cache.setdefault("versions", {})
    items: list[PaperItem] = []
    for section in exam.sections:
        if exam.paper_mode == PaperMode.FIXED:
            version_ids = [item.question_version_id for item in section.fixed_items]
        else:
            version_ids, taken = [], set()
            for rule in section.rules:
                if rule.id not in pools:
                    pools[rule.id] = rule_pool(rule, section.qtype)
                pool = [(q, v) for q, v in pools[rule.id] if q not in taken]
                if len(pool) < rule.count:
                    raise DomainError(_("Not enough active questions for section “%(s)s”.", s=section.title),
                                      code="pool_too_small")  # fmt: skip
                chosen = rng.sample(pool, rule.count)
                taken.update(q for q, _v in chosen)
                version_ids += [v for _q, v in chosen]
        if exam.shuffle_questions:
            rng.shuffle(version_ids)
        missing = [vid for vid in version_ids if vid not in versions]
        if missing:
            versions.update(
                (v.id, v) for v in db.session.scalars(select(QuestionVersion).where(QuestionVersion.id.in_(missing)))
            )
        for vid in version_ids:
            order = list(range(len(versions[vid].options or [])))
            if exam.shuffle_options and order:
                rng.shuffle(order)
            items.append(
                PaperItem(position=len(items) + 1, section_id=section.id, section=section, version=versions[vid],
                          question_version_id=vid, option_order=order, points=float(section.points_per_question))
            )  # fmt: skip
    return items


def draw_paper(exam: Exam, user_id: int, seed: int, now: datetime, attempt_number: int = 1) -> Paper:
    """The paper of one attempt of a candidate. Deterministic: the same exam and seed give the same questions,
    order and option order."""
    paper = Paper(exam_id=exam.id, user_id=user_id, attempt_number=attempt_number, seed=seed, created_at=now)
    paper.items = _paper_items(exam, seed)
    db.session.add(paper)
    return paper


def sample_paper(exam: Exam, seed: int) -> list[PaperItem]:
    """A paper as a candidate would get it, for the admin to look at; nothing is stored."""
    with db.session.no_autoflush:
        items = _paper_items(exam, seed)
    for item in items:
        if item in db.session:
            db.session.expunge(item)
    return items


def prepare_papers(exam: Exam, now: datetime) -> int:
    """Draw the first paper of every eligible candidate who has none yet (ahead of the start: starting is then a
    read and one insert). Nothing is drawn once the exam has closed. Returns how many were drawn."""
    if exam.phase(now) not in (Phase.PUBLISHED, Phase.OPEN):
        return 0
    have = set(db.session.scalars(select(Paper.user_id).where(Paper.exam_id == exam.id, Paper.attempt_number == 1)))
    todo, cache = sorted(eligible_user_ids(exam) - have), {}
    for start in range(0, len(todo), 500):
        # Papers through the ORM (for their ids), their items (a hundred each) in one bulk INSERT.
        batch = []
        for user_id in todo[start : start + 500]:
            seed = random.SystemRandom().randrange(2**31)
            paper = Paper(exam_id=exam.id, user_id=user_id, attempt_number=1, seed=seed, created_at=now)
            batch.append((paper, _paper_items(exam, seed, cache)))
        db.session.add_all(paper for paper, _items in batch)
        db.session.flush()
        rows = [
            {"paper_id": paper.id, "position": i.position, "section_id": i.section_id,
             "question_version_id": i.question_version_id, "option_order": i.option_order, "points": i.points}
            for paper, items in batch
            for i in items
        ]  # fmt: skip
        db.session.execute(insert(PaperItem), rows)
        _count_exposure([row["question_version_id"] for row in rows], now)
    return len(todo)


def _count_exposure(version_ids: list[int], now: datetime) -> None:
    if not version_ids:
        return
    rows = db.session.execute(
        select(QuestionVersion.id, QuestionVersion.question_id).where(QuestionVersion.id.in_(set(version_ids)))
    )
    question_of = {vid: qid for vid, qid in rows}
    counts: dict[int, int] = {}
    for vid in version_ids:
        counts[question_of[vid]] = counts.get(question_of[vid], 0) + 1
    record_exposure(counts, now)


def publish(actor, exam: Exam, now: datetime) -> int:
    """Check the exam, publish it and prepare the papers; returns how many papers were drawn."""
    if exam.status != ExamStatus.DRAFT:
        raise DomainError(_("Only a draft exam can be published."), code="bad_transition")
    problems = check_pools(exam)
    if problems:
        raise DomainError(" ".join(problems), code="exam_incomplete")
    exam.status, exam.published_at = ExamStatus.PUBLISHED, now
    audit.record("exam.published", actor=actor, target=f"exam:{exam.code}", at=now)
    return prepare_papers(exam, now)


# ---------------------------------------------------------------- attempts


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
    current = _in_progress(exam, user)
    if current is not None:
        if now <= current.deadline_at + grace():
            return current
        finalize(current, now)
    if exam.phase(now) != Phase.OPEN:
        raise DomainError(_("The exam is not open now."), code="exam_not_open", status=409)
    if not is_eligible(exam, user):  # asked even when a paper was drawn: people can be removed after drawing
        raise DomainError(_("You are not a candidate of this exam."), code="not_eligible", status=403)
    if exam.access_code_hash:
        check_access_code(exam, user, access_code, now)
    done = db.session.scalar(
        select(func.count(Attempt.id)).where(Attempt.exam_id == exam.id, Attempt.user_id == user.id)
    )
    if done >= exam.attempts_allowed:
        current = _in_progress(exam, user)  # a concurrent start may have made it since the first look
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
        existing = _in_progress(exam, user)
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
    _count_exposure([item.question_version_id for item in paper.items], now)
    return paper


def start_for_request(exam: Exam, user: User, now: datetime, access_code=None) -> Attempt:
    """start_attempt for a request (page or API). A wrong access code is counted in a transaction of its own,
    committed here before the refusal rolls the request back: the count must outlive the refusal, or the limit
    on guesses (check_access_code) would never be reached. The one service that commits, for that reason."""
    try:
        return start_attempt(exam, user, now, access_code=access_code)
    except DomainError as exc:
        if exc.code == "bad_access_code":
            db.session.rollback()
            audit.record("exam.bad_access_code", actor=user, target=f"exam:{exam.code}", at=now)
            db.session.commit()
        raise


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


def _in_progress(exam: Exam, user: User) -> Attempt | None:
    return db.session.scalar(
        select(Attempt).where(
            Attempt.exam_id == exam.id, Attempt.user_id == user.id, Attempt.status == AttemptStatus.IN_PROGRESS
        )
    )


def lock_attempt(attempt: Attempt) -> Attempt:
    """The attempt row again, locked until the transaction ends (PostgreSQL; SQLite serialises writers)."""
    return db.session.scalar(
        select(Attempt).where(Attempt.id == attempt.id).with_for_update().execution_options(populate_existing=True)
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


def _check_client(attempt: Attempt, client: str | None) -> None:
    """Refuse a write from an exam page that another page has taken over (scripts send no page id)."""
    if client is not None and attempt.client_id is not None and client != attempt.client_id:
        raise DomainError(_("This exam was opened on another page, which has taken over. Please continue there."),
                          code="taken_over", status=409)  # fmt: skip


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


def attempt_facts(attempt_id: int, started_at: datetime | None = None) -> AttemptFacts | None:
    """The attempt's unchanging facts, read once per process (two queries) and kept: every later save of the
    attempt needs no read of the attempt, its paper or its questions, and its page is served from them. What can
    change (the status, the deadline, the page holding the attempt) is checked by the write itself
    (`save_answer`). `started_at`, when the caller has the attempt, must match: a row that reused the id is new."""
    cache = current_app.extensions.setdefault("exam_attempt_facts", {})
    facts = cache.get(attempt_id)
    if facts is not None and (started_at is None or facts.started_at == started_at):
        return facts
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
    _check_client(attempt, client)
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise DomainError(_("This attempt has ended; the answer was not saved."), code="attempt_ended", status=409)
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


def submit(attempt: Attempt, now: datetime, client: str | None = None) -> Attempt:
    """End an attempt by the candidate's choice. Harmless twice; past the deadline it is finalized as expired."""
    attempt = lock_attempt(attempt)
    if attempt.status != AttemptStatus.IN_PROGRESS:
        return attempt
    if now > attempt.deadline_at + grace():
        return finalize(attempt, now)
    _check_client(attempt, client)
    attempt.status, attempt.ended_at = AttemptStatus.SUBMITTED, now
    with rescoring("finalize"):
        grade(attempt, now)
    return attempt


def finalize(attempt: Attempt, now: datetime) -> Attempt:
    """End an overdue attempt with the answers saved in time (nothing saved before the deadline is lost)."""
    if attempt.status == AttemptStatus.IN_PROGRESS:
        attempt.status, attempt.ended_at = AttemptStatus.EXPIRED, min(now, attempt.deadline_at + grace())
        with rescoring("finalize"):
            grade(attempt, now)
    return attempt


def overdue_attempts(now: datetime, exam: Exam | None = None) -> list[int]:
    """Ids of the attempts (of one exam, or of all) left open past their deadline and grace."""
    # The status as a literal, not a parameter: SQLite uses a partial index (ix_attempts_open_deadline) only then.
    is_open = Attempt.status == literal_column(f"'{AttemptStatus.IN_PROGRESS.value}'")
    stmt = select(Attempt.id).where(is_open, Attempt.deadline_at < now - grace())
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


@dataclass(frozen=True)
class Rescored:
    """What grading changed of one attempt: (position, old, new) of every item whose points changed, and the
    total before and after (None: not final)."""

    items: list[tuple[int, float | None, float | None]]
    old_score: float | None
    new_score: float | None

    @property
    def changed(self) -> bool:
        return bool(self.items) or self.old_score != self.new_score


def grade(attempt: Attempt, now: datetime) -> Rescored:
    """Grade every objective item (pure functions per type); essays wait for a grader (their hand-given points are
    kept when grading again). The score is set once all items have points; the learning archive gets the result
    in the same transaction. Runs only inside exam.integrity.rescoring (the caller's documented path, which
    audits what the returned Rescored says changed)."""
    # A fixed number of statements whatever the paper's length: the exam with its sections and rules (its total),
    # the answers, the keys of versions this process has not seen, the corrections, one upsert of the points, and
    # the archive's record.
    exam = db.session.scalar(
        select(Exam)
        .where(Exam.id == attempt.exam_id)
        .options(selectinload(Exam.sections).selectinload(ExamSection.rules))
    )
    items = attempt_facts(attempt.id, attempt.started_at).items
    answers = {r.position: r for r in db.session.execute(
        select(Answer.id, Answer.position, Answer.value, Answer.points).where(Answer.attempt_id == attempt.id)
    )}  # fmt: skip
    points, all_graded = item_points(
        items.values(), answers, version_keys({item.version_id for item in items.values()}), corrected_keys(exam),
        exam.mc_policy,
    )  # fmt: skip
    # One statement writes every item's points: it updates the answers given and inserts a row for each item left
    # unanswered (every item gets a row, so reviews, grading and reports find one per item). Sent with RETURNING as
    # one batch of VALUES (SQLAlchemy's insertmanyvalues), not row by row.
    rows = [
        {"attempt_id": attempt.id, "position": position, "value": None, "seq": 0, "saved_at": attempt.ended_at,
         "points": value, "comment": ""}
        for position, value in points.items()
        if position not in answers or answers[position].points != value
    ]  # fmt: skip
    old_score = _number(attempt.score)
    changes = [(row["position"], _number(answers[row["position"]].points) if row["position"] in answers else None,
                _number(row["points"])) for row in rows]  # fmt: skip
    if rows:
        db.session.execute(_points_statement(db.session.get_bind().dialect.name), rows)
    for obj in list(db.session.identity_map.values()):  # answers loaded earlier in this session are stale now
        if isinstance(obj, Answer) and obj.attempt_id == attempt.id:
            db.session.expire(obj)
    attempt.score, attempt.fully_graded, attempt.passed = attempt_result(points, all_graded, exam.pass_mark)
    record_exam_result(attempt, now)
    return Rescored(changes, old_score, _number(attempt.score))


def _number(value) -> float | None:
    return None if value is None else float(value)


def item_points(items, answers: dict, keys: dict, corrected: dict, mc_policy: str) -> tuple[dict, bool]:
    """The points of every item of an attempt, and whether every item has them: objective items graded by their
    type (the exam's corrected key before the version's own), written ones as the grader gave them (0 when nothing
    was written). `items` have position, qtype, version_id and points; `answers` maps a position to a row with
    value and points; `keys` a version id to (key, settings). Pure: grading and `flask exams verify` share it."""
    all_graded = True
    points: dict[int, float | None] = {}  # position -> points of every item
    for item in items:
        kind = QUESTION_TYPES[item.qtype]
        answer = answers.get(item.position)
        if kind.manual:
            if answer is None or answer.value in (None, ""):
                points[item.position] = 0.0  # nothing written: nothing to grade
            else:
                points[item.position] = answer.points  # a grader's, kept; None until given
                all_graded = all_graded and answer.points is not None
            continue
        key, settings = keys[item.version_id]
        share = kind.grade(corrected.get(item.version_id, key), answer.value if answer else None, settings,
                           mc_policy)  # fmt: skip
        points[item.position] = round(item.points * share, 2)
    return points, all_graded


def attempt_result(points: dict, all_graded: bool, pass_mark) -> tuple[float | None, bool, bool | None]:
    """(score, fully_graded, passed) of an attempt from its items' points: final only once every item has them."""
    if not all_graded:
        return None, False, None
    total = sum(value or 0 for value in points.values())
    return round(total, 2), True, total >= float(pass_mark)


@functools.cache
def _points_statement(dialect: str):
    table = Answer.__table__
    upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
    return upsert.on_conflict_do_update(
        index_elements=[table.c.attempt_id, table.c.position], set_={"points": upsert.excluded.points}
    ).returning(table.c.id)


def regrade(actor, exam: Exam, now: datetime) -> list[tuple[Attempt, float | None, float | None]]:
    """Grade every ended attempt of an exam again (after a key correction). Returns (attempt, old score, new score)
    of the attempts whose score changed. One audit entry keeps every attempt whose points changed: its total's
    old and new value and each changed item's (position, old, new)."""
    finalize_overdue(now, exam)
    changed, audited = [], []
    ended = select(Attempt).where(Attempt.exam_id == exam.id, Attempt.status != AttemptStatus.IN_PROGRESS)
    with rescoring("regrade"):
        for attempt in db.session.scalars(ended.order_by(Attempt.id)).all():
            attempt = lock_attempt(attempt)  # a grader may be giving points to this very attempt
            rescored = grade(attempt, now)
            if rescored.old_score != rescored.new_score:
                changed.append((attempt, rescored.old_score, rescored.new_score))
            if rescored.changed:
                audited.append({"attempt": attempt.id, "user": attempt.user_id, "old": rescored.old_score,
                                "new": rescored.new_score, "items": [list(c) for c in rescored.items]})  # fmt: skip
    audit.record("exam.regraded", actor=actor, target=f"exam:{exam.code}", detail={"changed": audited}, at=now)
    return changed


# ---------------------------------------------------------------- integrity signals


def corrected_keys(exam: Exam) -> dict[int, object]:
    """Question version id -> the key as corrected for this exam (grading and review use it)."""
    return dict(
        db.session.execute(
            select(KeyCorrection.question_version_id, KeyCorrection.answer).where(KeyCorrection.exam_id == exam.id)
        ).all()
    )


def record_event(
    attempt: Attempt, kind: str, now: datetime, detail: dict | None = None, client: str | None = None
) -> Attempt:
    """Keep an integrity signal the exam page reports (a focus loss, a paste). At the exam's focus-loss limit the
    attempt is submitted by the server, with the answers saved so far. Signals after the end are ignored."""
    if kind not in (EventKind.FOCUS_LOSS, EventKind.PASTE):
        raise DomainError(_("Unknown kind of event."), code="bad_event")
    attempt = lock_attempt(attempt)
    _check_client(attempt, client)
    if attempt.status != AttemptStatus.IN_PROGRESS:
        return attempt
    if now > attempt.deadline_at + grace():
        return finalize(attempt, now)
    db.session.add(AttemptEvent(attempt_id=attempt.id, kind=kind, at=now, detail=detail or None))
    if kind == EventKind.FOCUS_LOSS:
        # Counted in SQL: two reports at once (blur and visibilitychange) both count, even where the row lock
        # above is a no-op (SQLite serialises the UPDATEs instead).
        db.session.execute(
            update(Attempt).where(Attempt.id == attempt.id).values(focus_losses=Attempt.focus_losses + 1)
        )
        db.session.refresh(attempt, ["focus_losses"])
        limit = attempt.exam.focus_loss_limit
        if limit and attempt.focus_losses >= limit:
            db.session.add(AttemptEvent(attempt_id=attempt.id, kind=EventKind.AUTO_SUBMIT, at=now,
                                        detail={"focus_losses": attempt.focus_losses}))  # fmt: skip
            attempt.status, attempt.ended_at = AttemptStatus.SUBMITTED, now
            with rescoring("finalize"):
                grade(attempt, now)
    db.session.flush()
    return attempt


def attempt_events(attempt: Attempt) -> list[AttemptEvent]:
    return list(
        db.session.scalars(select(AttemptEvent).where(AttemptEvent.attempt_id == attempt.id).order_by(AttemptEvent.id))
    )


def review_visible(attempt: Attempt, now: datetime) -> bool:
    """May the candidate see the keys (and explanations, as the review policy says) now? Only once nobody can
    still be answering: when results were released by hand, or when the window has closed and its network grace
    has passed. A score may come sooner (the release policy); the keys never while others sit the exam."""
    exam = attempt.exam
    if not result_visible(attempt, now):
        return False
    return exam.status == ExamStatus.RELEASED or now >= exam.closes_at + grace()


def result_visible(attempt: Attempt, now: datetime) -> bool:
    """May the candidate see their score now (the exam's release policy)?"""
    exam = attempt.exam
    if attempt.status == AttemptStatus.IN_PROGRESS:
        return False
    if exam.status == ExamStatus.RELEASED:
        return True
    if exam.release_policy == "immediate":
        return True
    return exam.release_policy == "after_close" and now >= exam.closes_at
