"""Practice: sessions by chapter, knowledge point or the wrong-answer book, an answer's feedback at once, and the
wrong-answer book kept as answers come in. Every question served or keyed goes through practice.pool first."""

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, func, null, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from core.errors import DomainError
from core.extensions import db
from core.models import local_today
from exam import visibility
from exam.answers import ItemFacts, parse_answer
from exam.models import Answer, Attempt, AttemptStatus, Exam, ReviewPolicy
from practice.models import (
    ONE_BY_ONE,
    ExamMistakesTaken,
    Mode,
    Outcome,
    PracticeAnswer,
    PracticeSession,
    WrongBookEntry,
)
from practice.pool import pool_now
from question_bank.models import Bank, Category, Question, QuestionVersion, Tag, question_tags
from question_bank.richtext import to_text
from question_bank.types import QUESTION_TYPES, count_blanks

#: The most questions one session holds (a chapter of a large bank is practised a session at a time).
SESSION_SIZE = 50


def daily_size() -> int:
    return current_app.config["PRACTICE_DAILY_SIZE"]


def mastered_after() -> int:
    """Right answers in a row that take a question out of the wrong-answer book (a district setting)."""
    return current_app.config["PRACTICE_MASTERED_AFTER"]


# ---------------------------------------------------------------- what there is to practise


@dataclass(frozen=True)
class BankChoice:
    bank: Bank
    count: int
    categories: list[tuple[Category, int]]  # with their subtree's count, in tree order; empty ones left out


def choices(now: datetime) -> tuple[list[BankChoice], list[tuple[str, int]]]:
    """The banks (with their categories) and the knowledge points that have questions open to practice now, each
    with how many."""
    pool = pool_now(now)
    # The open questions per category, read once (a CTE used twice) for two kinds of row: each bank's total (no
    # category), and each category's subtree, summed over the categories whose path starts with its own (the tree
    # is stored as materialised paths, "/3/17/").
    per_category = (
        select(Question.bank_id, Question.category_id, func.count().label("n"))
        .where(pool.condition()).group_by(Question.bank_id, Question.category_id).cte("open_per_category")
    )  # fmt: skip
    listed = aliased(Category, name="listed")
    descendant = aliased(Category, name="descendant")
    n = func.sum(per_category.c.n)
    bank_totals = select(per_category.c.bank_id, null().label("category_id"), n).group_by(per_category.c.bank_id)
    subtrees = (
        select(listed.bank_id, listed.id, n)
        .join(descendant, and_(descendant.bank_id == listed.bank_id, descendant.path.startswith(listed.path)))
        .join(per_category, per_category.c.category_id == descendant.id)
        .group_by(listed.bank_id, listed.id)
    )
    totals: dict[int, int] = {}
    counts: dict[int, int] = {}
    for bank_id, category_id, count in db.session.execute(union_all(bank_totals, subtrees)):
        if category_id is None:
            totals[bank_id] = int(count)
        else:
            counts[category_id] = int(count)
    banks = []
    if totals:
        by_bank: dict[int, list[tuple[Category, int]]] = {}
        for c in db.session.scalars(
            select(Category).where(Category.id.in_(counts)).order_by(Category.path, Category.sort_order)
        ):
            by_bank.setdefault(c.bank_id, []).append((c, counts[c.id]))
        for bank in db.session.scalars(select(Bank).where(Bank.id.in_(totals)).order_by(Bank.subject, Bank.code)):
            banks.append(BankChoice(bank, totals[bank.id], by_bank.get(bank.id, [])))
    tags = db.session.execute(
        select(Tag.name, func.count()).join(question_tags, question_tags.c.tag_id == Tag.id)
        .join(Question, Question.id == question_tags.c.question_id).where(pool.condition())
        .group_by(Tag.name).order_by(Tag.name)
    ).all()  # fmt: skip
    return banks, [(name, n) for name, n in tags]


# ---------------------------------------------------------------- sessions


def _same(column, value):
    return column.is_(None) if value is None else column == value


def _open_session(user, mode: str, bank_id, category_id, tag, shuffled: bool) -> PracticeSession | None:
    return db.session.scalar(
        select(PracticeSession)
        .where(
            PracticeSession.user_id == user.id,
            PracticeSession.finished_at.is_(None),
            PracticeSession.mode == mode,
            _same(PracticeSession.bank_id, bank_id),
            _same(PracticeSession.category_id, category_id),
            _same(PracticeSession.tag, tag),
            PracticeSession.shuffled == shuffled,
        )
        .order_by(PracticeSession.id.desc())
        .limit(1)
    )


def _answered_before(user, question_ids: list[int]) -> set[int]:
    if not question_ids:
        return set()
    return set(
        db.session.scalars(
            select(PracticeAnswer.question_id).where(
                PracticeAnswer.user_id == user.id, PracticeAnswer.question_id.in_(question_ids)
            )
        )
    )


def start(
    user,
    now: datetime,
    *,
    mode: str = Mode.CATEGORY,
    bank: Bank | None = None,
    category: Category | None = None,
    tag: str | None = None,
    shuffled: bool = False,
) -> PracticeSession:
    """Resume the cadre's unfinished session of the same choice, or start one: up to SESSION_SIZE questions open to
    practice, those never practised first (in order, or shuffled)."""
    pool = pool_now(now)
    where = []
    if mode == Mode.CATEGORY:
        if category is not None:
            bank = db.session.get(Bank, category.bank_id)
            sub = select(Category.id).where(Category.path.startswith(category.path, autoescape=True))
            where.append(Question.category_id.in_(sub))
        if bank is None:
            raise DomainError(_("Choose a bank or a chapter to practise."), code="bad_choice")
        where.append(Question.bank_id == bank.id)
    elif mode == Mode.TAG:
        if not tag:
            raise DomainError(_("Choose a knowledge point to practise."), code="bad_choice")
        bank = category = None
        where.append(Question.id.in_(select(question_tags.c.question_id).join(Tag).where(Tag.name == tag)))
    elif mode == Mode.WRONG_BOOK:
        bank = category = tag = None
        where.append(Question.id.in_(select(WrongBookEntry.question_id).where(*_in_book(user))))
    else:
        raise DomainError(_("Unknown practice mode."), code="bad_choice")
    bank_id = bank.id if bank is not None else None
    category_id = category.id if category is not None else None
    session = _open_session(user, mode, bank_id, category_id, tag, shuffled)
    if session is not None:
        return session
    ids = pool.question_ids(*where)
    if not ids:
        raise DomainError(_("There is nothing to practise here at the moment."), code="nothing_open", status=409)
    if shuffled:
        random.Random().shuffle(ids)
    seen = _answered_before(user, ids)
    ids = [q for q in ids if q not in seen] + [q for q in ids if q in seen]  # the new ones first (stable)
    session = PracticeSession(user_id=user.id, mode=mode, bank_id=bank_id, category_id=category_id, tag=tag)
    session.shuffled, session.question_ids = shuffled, ids[:SESSION_SIZE]
    session.started_at = session.updated_at = now
    db.session.add(session)
    db.session.flush()
    return session


def own_session(user, session_id: int) -> PracticeSession | None:
    """The session, if it is the user's (another person's is not there for them)."""
    session = db.session.get(PracticeSession, session_id)
    return session if session is not None and session.user_id == user.id else None


@dataclass(frozen=True)
class Served:
    """The question a session serves next: what the cadre sees (no key)."""

    position: int
    question: Question
    version: QuestionVersion
    blanks: int


def current(session: PracticeSession, now: datetime) -> Served | None:
    """The next question of the session, skipping those closed to practice since it started (a formal exam that
    can draw them was set up meanwhile); None when the session is through (and then it is finished). A mock exam
    is answered whole (practice.mock), never one by one."""
    if session.done or session.mode not in ONE_BY_ONE:
        return None
    pool = pool_now(now)
    while session.position < session.total and not pool.is_open(session.question_ids[session.position]):
        session.position += 1  # one indexed check each: the next question is nearly always open
    if session.position >= session.total:
        session.finished_at = session.updated_at = now
        db.session.flush()
        return None
    question = db.session.get(Question, session.question_ids[session.position])
    version = question.current_version
    blanks = count_blanks(to_text(version.stem)) if question.type == "fill" else 0
    return Served(session.position, question, version, blanks)


@dataclass(frozen=True)
class Feedback:
    """What the cadre learns right after answering: how it went, the key and the explanation."""

    position: int
    question: Question
    version: QuestionVersion
    answer: object
    outcome: str
    share: float | None
    wrong_book: str | None  # "added", "mastered" or None: what the answer did to the wrong-answer book


def _given_again(session: PracticeSession, position: int, now: datetime) -> Feedback | None:
    """The feedback already given for this position, when its question is still open: a resend after a lost reply
    (or a double tap) gets what the first answer got, and changes nothing."""
    row = db.session.scalar(
        select(PracticeAnswer).where(PracticeAnswer.session_id == session.id, PracticeAnswer.position == position)
    )
    if row is None or not pool_now(now).is_open(row.question_id):
        return None
    return Feedback(position, row.question, row.version, row.answer, row.outcome, row.share, None)


def answer(session: PracticeSession, position: int, value, now: datetime) -> Feedback:
    """Record the answer to the question the session is at, and return its feedback. Only the question served now
    can be answered (and so keyed): a later position is refused, as is a question closed to practice since it was
    served; an answered position sent again gets its first feedback back (nothing is recorded twice)."""
    if session.mode not in ONE_BY_ONE:
        raise DomainError(_("A mock exam is answered whole and submitted."), code="wrong_mode", status=409)
    if 0 <= position < session.position and (again := _given_again(session, position, now)) is not None:
        return again
    served = current(session, now)
    if served is None:
        raise DomainError(_("This practice is finished."), code="session_finished", status=409)
    if position != served.position:
        raise DomainError(_("Answer the question shown now."), code="wrong_position", status=409)
    question, version = served.question, served.version
    n = len(version.options or ())
    facts = ItemFacts(position + 1, question.type, tuple(range(n)), served.blanks)
    value = parse_answer(facts, value)
    qtype = QUESTION_TYPES[question.type]
    if qtype.manual:
        outcome, share = Outcome.SELF_CHECK, None
    else:
        share = qtype.grade(version.answer, value, version.settings, "all_or_nothing") if value is not None else 0.0
        outcome = Outcome.RIGHT if share >= 1 else Outcome.WRONG if share <= 0 else Outcome.PARTLY
    row = PracticeAnswer(session_id=session.id, user_id=session.user_id, question_id=question.id,
                         question_version_id=version.id, position=position, answer=value, outcome=outcome,
                         share=share, answered_at=now)  # fmt: skip
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:  # the same position answered at the same moment by another request of the cadre's
        db.session.refresh(session)
        again = _given_again(session, position, now)
        if again is None:
            raise DomainError(_("Answer the question shown now."), code="wrong_position", status=409) from None
        return again
    book = record_in_book(session.user_id, question.id, outcome, now, source="practice")
    session.position = position + 1
    session.right_count += outcome == Outcome.RIGHT
    session.updated_at = now
    if session.position >= session.total:
        session.finished_at = now
    db.session.flush()
    return Feedback(position, question, version, value, outcome, share, book)


def skip(session: PracticeSession, now: datetime) -> None:
    """Pass over the question shown now (it is not counted either way)."""
    served = current(session, now)
    if served is None:
        return
    session.position = served.position + 1
    session.updated_at = now
    if session.position >= session.total:
        session.finished_at = now
    db.session.flush()


def finish(session: PracticeSession, now: datetime) -> None:
    if not session.done:
        session.finished_at = session.updated_at = now
        db.session.flush()


def recent_sessions(user, limit: int = 10) -> list[PracticeSession]:
    return list(
        db.session.scalars(
            select(PracticeSession).where(PracticeSession.user_id == user.id)
            .order_by(PracticeSession.finished_at.is_not(None), PracticeSession.updated_at.desc()).limit(limit)
        )
    )  # fmt: skip


def session_answers(session: PracticeSession) -> list[PracticeAnswer]:
    return list(
        db.session.scalars(
            select(PracticeAnswer).where(PracticeAnswer.session_id == session.id).order_by(PracticeAnswer.position)
        )
    )


# ---------------------------------------------------------------- 每日一练


def _daily_pick(ids: list[int], day: date, user_id: int, per_person: bool) -> list[int]:
    """The day's set drawn from the open questions: the same for everyone that day (seeded by the date), or one per
    person (seeded by the date and the person)."""
    seed = f"{day.isoformat()}:{user_id}" if per_person else day.isoformat()
    rng = random.Random(seed)
    return sorted(rng.sample(ids, min(daily_size(), len(ids))), key=ids.index)


def daily(user, now: datetime) -> PracticeSession:
    """Today's 每日一练 (today in the district's time zone), made at the first visit of the day and kept."""
    day = local_today(now)
    session = db.session.scalar(
        select(PracticeSession).where(
            PracticeSession.user_id == user.id, PracticeSession.mode == Mode.DAILY, PracticeSession.day == day
        )
    )
    if session is not None:
        return session
    ids = pool_now(now).question_ids()
    if not ids:
        raise DomainError(_("There is nothing to practise here at the moment."), code="nothing_open", status=409)
    picked = _daily_pick(ids, day, user.id, current_app.config["PRACTICE_DAILY_PER_PERSON"])
    session = PracticeSession(user_id=user.id, mode=Mode.DAILY, day=day, shuffled=False, question_ids=picked)
    session.started_at = session.updated_at = now
    db.session.add(session)
    db.session.flush()
    return session


def today_daily(user, now: datetime) -> PracticeSession | None:
    """Today's 每日一练 if it has been made (it is made when first opened)."""
    return db.session.scalar(
        select(PracticeSession).where(
            PracticeSession.user_id == user.id,
            PracticeSession.mode == Mode.DAILY,
            PracticeSession.day == local_today(now),
        )
    )


def streak(user, now: datetime) -> int:
    """Days in a row, up to today, whose 每日一练 was done (every question answered or passed over); today still
    open does not break it."""
    days = set(
        db.session.scalars(
            select(PracticeSession.day).where(
                PracticeSession.user_id == user.id,
                PracticeSession.mode == Mode.DAILY,
                PracticeSession.finished_at.is_not(None),
                PracticeSession.day >= local_today(now) - timedelta(days=400),
            )
        )
    )
    day = local_today(now)
    if day not in days:
        day -= timedelta(days=1)
    count = 0
    while day in days:
        count += 1
        day -= timedelta(days=1)
    return count


# ---------------------------------------------------------------- mastery

#: Mastery of a knowledge point: the share of its last MASTERY_WINDOW practice answers that were right (a partly
#: right answer counts its share; an essay's self-check counts for nothing).
MASTERY_WINDOW = 10


@dataclass(frozen=True)
class Mastery:
    tag: str
    answered: int  # of the last MASTERY_WINDOW at most
    share: float  # 0..1


def mastery(user) -> list[Mastery]:
    """Per knowledge point the cadre has practised, their recent share right, weakest first."""
    rows = db.session.execute(
        select(Tag.name, PracticeAnswer.share, PracticeAnswer.answered_at)
        .join(question_tags, question_tags.c.tag_id == Tag.id)
        .join(PracticeAnswer, PracticeAnswer.question_id == question_tags.c.question_id)
        .where(PracticeAnswer.user_id == user.id, PracticeAnswer.share.is_not(None))
        .order_by(Tag.name, PracticeAnswer.answered_at.desc(), PracticeAnswer.id.desc())
    ).all()
    recent: dict[str, list[float]] = {}
    for name, share, _at in rows:
        kept = recent.setdefault(name, [])
        if len(kept) < MASTERY_WINDOW:
            kept.append(share)
    found = [Mastery(name, len(shares), sum(shares) / len(shares)) for name, shares in recent.items()]
    return sorted(found, key=lambda m: (m.share, m.tag))


# ---------------------------------------------------------------- the wrong-answer book


def _in_book(user) -> list:
    """Conditions over WrongBookEntry: the user's, not removed, not mastered."""
    return [
        WrongBookEntry.user_id == user.id,
        WrongBookEntry.removed_at.is_(None),
        WrongBookEntry.mastered_at.is_(None),
    ]


def record_in_book(user_id: int, question_id: int, outcome: str, now: datetime, source: str) -> str | None:
    """Keep the wrong-answer book: a wrong (or partly right) answer puts the question in (back in, if it had been
    removed or mastered); right answers count towards mastering it. Returns "added", "mastered" or None."""
    if outcome == Outcome.SELF_CHECK:
        return None
    entry = db.session.scalar(
        select(WrongBookEntry).where(WrongBookEntry.user_id == user_id, WrongBookEntry.question_id == question_id)
    )
    if outcome != Outcome.RIGHT:
        if entry is None:
            try:
                with db.session.begin_nested():
                    db.session.add(WrongBookEntry(user_id=user_id, question_id=question_id, source=source,
                                                  added_at=now, last_wrong_at=now))  # fmt: skip
                    db.session.flush()
                return "added"
            except IntegrityError:  # put in at the same moment by another session of the person's
                entry = db.session.scalar(
                    select(WrongBookEntry).where(
                        WrongBookEntry.user_id == user_id, WrongBookEntry.question_id == question_id
                    )
                )
        was_out = entry.removed_at is not None or entry.mastered_at is not None
        entry.wrong_count += 1
        entry.right_streak = 0
        entry.last_wrong_at = now
        entry.removed_at = entry.mastered_at = None
        return "added" if was_out else None
    if entry is None or entry.removed_at is not None or entry.mastered_at is not None:
        return None
    entry.right_streak += 1
    if entry.right_streak >= mastered_after():
        entry.mastered_at = now
        return "mastered"
    return None


@dataclass(frozen=True)
class BookGroup:
    tag: str | None  # the knowledge point (None: questions without one)
    entries: list[WrongBookEntry]


def wrong_book(user, *, include_mastered: bool = False) -> list[BookGroup]:
    """The cadre's wrong-answer book grouped by knowledge point (a question with several is under each); starred
    questions stay in view once mastered."""
    where = [WrongBookEntry.user_id == user.id, WrongBookEntry.removed_at.is_(None)]
    entries = db.session.scalars(select(WrongBookEntry).where(*where).order_by(WrongBookEntry.last_wrong_at.desc()))
    groups: dict[str | None, list[WrongBookEntry]] = {}
    for entry in entries:
        if entry.mastered_at is not None and not (include_mastered or entry.starred):
            continue
        names = [t.name for t in entry.question.tags] or [None]
        for name in names:
            groups.setdefault(name, []).append(entry)
    ordered = sorted(groups.items(), key=lambda kv: (kv[0] is None, -len(kv[1]), kv[0] or ""))
    return [BookGroup(tag, items) for tag, items in ordered]


def take_exam_mistakes(user, now: datetime) -> int:
    """Put the questions the person got wrong (or left unanswered) in a formal exam into their wrong-answer book,
    once per attempt, as soon as its review shows the keys (the exam's review policy shows answers or explanations,
    and exam.visibility.review_visible allows it). Written answers are left out: practice self-checks them.
    Returns how many questions went in."""
    taken = select(ExamMistakesTaken.attempt_id).where(ExamMistakesTaken.user_id == user.id)
    candidates = db.session.scalars(
        select(Attempt)
        .join(Exam, Exam.id == Attempt.exam_id)
        .where(
            Attempt.user_id == user.id,
            Attempt.status != AttemptStatus.IN_PROGRESS,
            Attempt.score.is_not(None),
            Exam.review_policy.in_((ReviewPolicy.ANSWERS, ReviewPolicy.EXPLANATIONS)),
            Attempt.id.not_in(taken),
        )
    ).all()
    added = 0
    for attempt in candidates:
        if not visibility.review_visible(attempt, now):
            continue
        points = dict(
            db.session.execute(select(Answer.position, Answer.points).where(Answer.attempt_id == attempt.id)).all()
        )
        count = 0
        for item in attempt.paper.items:
            if QUESTION_TYPES[item.section.qtype].manual:
                continue
            got = points.get(item.position)
            if got is None or got < float(item.points):
                record_in_book(user.id, item.version.question_id, Outcome.WRONG, now, source="exam")
                count += 1
        db.session.add(ExamMistakesTaken(user_id=user.id, attempt_id=attempt.id, taken_at=now, count=count))
        added += count
    if candidates:
        db.session.flush()
    return added


def book_count(user) -> int:
    return db.session.scalar(select(func.count()).select_from(WrongBookEntry).where(*_in_book(user))) or 0


def own_entry(user, entry_id: int) -> WrongBookEntry | None:
    entry = db.session.get(WrongBookEntry, entry_id)
    return entry if entry is not None and entry.user_id == user.id else None


def remove_entry(entry: WrongBookEntry, now: datetime) -> None:
    entry.removed_at = now
    entry.starred = False
    db.session.flush()


def star_entry(entry: WrongBookEntry, starred: bool) -> None:
    entry.starred = starred
    db.session.flush()
