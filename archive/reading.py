"""Required reading (年内必读书目): the department sets each year's list; cadres submit a reading note per book;
reviewers of their unit pass or fail each note with a comment. A resubmission is a new version; the newest counts.

The list can have a written exam (S4 of the district's report): an ordinary exam, attached to the year, whose
rules draw only the questions tagged with the books' knowledge points (a book's tag, its title unless named
otherwise). Its results are the list's written exam in the archive and the annual assessment's summary."""

from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select

from accounts.models import Cadre
from archive import figures, records
from archive.models import ReadingBook, ReadingExam, ReadingNote, ReviewStatus
from core import audit
from core.errors import DomainError
from core.extensions import db
from core.policy import can, is_archive_owner, refuse_conflict

MAX_NOTE_CHARS = 20000


def books_of(year: int) -> list[ReadingBook]:
    return list(db.session.scalars(
        select(ReadingBook).where(ReadingBook.year == year, ReadingBook.withdrawn_at.is_(None))
        .order_by(ReadingBook.position, ReadingBook.id)
    ))  # fmt: skip


def add_book(actor, year: int, title: str, author: str, note: str, min_chars, now: datetime,
             tag: str | None = None) -> ReadingBook:  # fmt: skip
    """A book on the year's list; its questions are those tagged `tag` (the title, cut to 50, when not given)."""
    records.check_open(year)
    title, author, note = (title or "").strip(), (author or "").strip(), (note or "").strip()
    tag = (tag or "").strip() or title[:50].strip()
    problems = []
    if not 0 < len(title) <= 200:
        problems.append(("title", _("Required, at most %(n)d characters.", n=200)))
    if len(author) > 200:
        problems.append(("author", _("At most %(n)d characters.", n=200)))
    if len(note) > 500:
        problems.append(("note", _("At most %(n)d characters.", n=500)))
    if not isinstance(min_chars, int) or isinstance(min_chars, bool) or not 0 <= min_chars <= 5000:
        problems.append(("min_chars", _("0 to 5,000 characters.")))
    if len(tag) > 50:
        problems.append(("tag", _("A knowledge point is at most 50 characters.")))
    if problems:
        raise DomainError(" ".join(m for _f, m in problems), code="bad_book", problems=problems)
    position = (db.session.scalar(select(func.max(ReadingBook.position)).where(ReadingBook.year == year)) or 0) + 1
    book = ReadingBook(year=year, position=position, title=title, author=author, note=note, min_chars=min_chars,
                       tag=tag, created_at=now)  # fmt: skip
    db.session.add(book)
    db.session.flush()
    audit.record("reading.book_added", actor=actor, target=f"book:{book.id}",
                 detail={"year": year, "title": title, "tag": tag}, at=now)  # fmt: skip
    return book


def withdraw_book(actor, book: ReadingBook, now: datetime) -> None:
    """Take a book off the list (its notes stay in the archives, but no longer count)."""
    records.check_open(book.year)
    book.withdrawn_at = now
    audit.record("reading.book_withdrawn", actor=actor, target=f"book:{book.id}", at=now)
    figures.refresh_book(book)


def latest_note(book_id: int, user_id: int) -> ReadingNote | None:
    return db.session.scalar(
        select(ReadingNote).where(ReadingNote.book_id == book_id, ReadingNote.user_id == user_id)
        .order_by(ReadingNote.version.desc()).limit(1)
    )  # fmt: skip


def note_length(body: str) -> int:
    """Characters that count towards a note's length: everything but white space."""
    return sum(1 for ch in body if not ch.isspace())


def submit_note(user, cadre: Cadre, book: ReadingBook, body: str, now: datetime) -> ReadingNote:
    """The cadre's note on a book of the list: a new version, waiting for a reviewer. Refused once a note passed."""
    if not is_archive_owner(user, cadre):
        raise DomainError(_("Only the cadre writes their reading notes."), code="forbidden", status=403)
    if book.withdrawn_at is not None:
        raise DomainError(_("This book is no longer on the list."), code="withdrawn")
    records.check_open(book.year)
    body = (body or "").strip()
    if note_length(body) < book.min_chars:
        message = _("The note needs at least %(n)d characters (it has %(m)d).", n=book.min_chars, m=note_length(body))
        raise DomainError(message, code="too_short", problems=[("body", message)])
    if len(body) > MAX_NOTE_CHARS:
        message = _("The note is at most %(n)d characters.", n=MAX_NOTE_CHARS)
        raise DomainError(message, code="too_long", problems=[("body", message)])
    previous = latest_note(book.id, cadre.user_id)
    if previous is not None and previous.status == ReviewStatus.ACCEPTED:
        raise DomainError(_("Your note on this book has passed already."), code="accepted")
    note = ReadingNote(book_id=book.id, user_id=cadre.user_id, version=(previous.version + 1) if previous else 1,
                       body=body, submitted_at=now, status=ReviewStatus.PENDING)  # fmt: skip
    db.session.add(note)
    db.session.flush()
    return note


def review_note(actor, note: ReadingNote, cadre: Cadre, accept: bool, comment: str, now: datetime) -> ReadingNote:
    """Pass (合格) or fail (不合格) the newest version of a note; a fail needs a comment. Nobody reviews their own."""
    if not can(actor, "archive.manage", cadre) or is_archive_owner(actor, cadre):
        raise DomainError(_("You may not review this note."), code="forbidden", status=403)
    records.check_open(note.book.year)
    if note.status != ReviewStatus.PENDING:
        raise DomainError(_("This note is not waiting for review."), code="not_pending")
    latest = latest_note(note.book_id, note.user_id)
    if latest.id != note.id:
        raise DomainError(_("A newer version of this note was submitted; review that one."), code="superseded")
    comment = (comment or "").strip()
    if not accept and not comment:
        message = _("Say what is missing (the cadre reads the comment).")
        raise DomainError(message, code="comment_required", problems=[("comment", message)])
    if len(comment) > 1000:
        raise DomainError(_("At most %(n)d characters.", n=1000), code="bad_comment")
    note.status = ReviewStatus.ACCEPTED if accept else ReviewStatus.REJECTED
    note.reviewer_id, note.reviewed_at, note.review_comment = actor.id, now, comment
    audit.record("reading.reviewed", actor=actor, target=f"note:{note.id}", detail={"status": note.status}, at=now)
    figures.refresh(note.user_id, note.book.year)
    return note


def notes_of(user_id: int, year: int) -> dict[int, list[ReadingNote]]:
    """{book id: the cadre's notes on it, newest first} for a year's books."""
    notes: dict[int, list[ReadingNote]] = {}
    for note in db.session.scalars(
        select(ReadingNote).join(ReadingBook).where(ReadingNote.user_id == user_id, ReadingBook.year == year)
        .order_by(ReadingNote.version.desc())
    ):  # fmt: skip
        notes.setdefault(note.book_id, []).append(note)
    return notes


# ---------------------------------------------------------------- the written exam


def book_tags(year: int) -> set[str]:
    """The knowledge points of the year's books (those on the list)."""
    return {b.tag for b in books_of(year) if b.tag}


def reading_exam(year: int) -> ReadingExam | None:
    return db.session.get(ReadingExam, year)


def pool_problems(exam, tags: set[str]) -> list[str]:
    """Why the exam's pool is not the list's books (empty when every rule draws a book's knowledge point and every
    fixed question carries one)."""
    from exam.models import PaperMode

    problems = []
    if not exam.sections:
        problems.append(_("The exam has no sections."))
    for section in exam.sections:
        if exam.paper_mode == PaperMode.FIXED:
            for item in section.fixed_items:
                if not {t.name for t in item.version.question.tags} & tags:
                    problems.append(_("Section “%(s)s”: question %(n)d is not tagged with a book of the list.",
                                      s=section.title, n=item.position))  # fmt: skip
            continue
        for rule in section.rules:
            if rule.tag not in tags:
                problems.append(_("Section “%(s)s”: a rule draws “%(t)s”, not a book of the list.", s=section.title,
                                  t=rule.tag or _("any knowledge point")))  # fmt: skip
    return problems


def exam_by_code(code: str):
    from exam.models import Exam

    return db.session.scalar(select(Exam).where(Exam.code == (code or "").strip()))


def candidate_state(written: ReadingExam, user, now: datetime) -> str:
    """Where `user` stands with the list's written exam: "draft" (not published: nothing to show a cadre),
    "sat" (an attempt of theirs exists), "take" (a candidate, the exam not closed), "closed" (a candidate who did not
    sit it) or "not_candidate"."""
    from exam.eligibility import is_eligible
    from exam.models import Attempt, Phase

    exam = written.exam
    if exam.status == "draft":
        return "draft"
    if db.session.scalar(select(Attempt.id).where(Attempt.exam_id == exam.id, Attempt.user_id == user.id).limit(1)):
        return "sat"
    if not is_eligible(exam, user):
        return "not_candidate"
    return "closed" if exam.phase(now) == Phase.CLOSED else "take"


def attach_exam(actor, year: int, exam, now: datetime) -> ReadingExam:
    """Make `exam` the written exam of the year's list. Its pool must be the books' questions (checked again here,
    and the exam editor's later changes are the department's to keep so)."""
    records.check_open(year)
    refuse_conflict(actor, exam_id=exam.id)  # nobody sets up (or probes the rules of) an exam they sit
    current = reading_exam(year)
    if current is not None and current.exam_id != exam.id:
        refuse_conflict(actor, exam_id=current.exam_id)
    tags = book_tags(year)
    if not tags:
        raise DomainError(_("The year's list has no books yet."), code="no_books")
    taken = db.session.scalar(select(ReadingExam).where(ReadingExam.exam_id == exam.id))
    if taken is not None and taken.year != year:
        raise DomainError(_("This exam is the written exam of the %(y)d list already.", y=taken.year),
                          code="exam_taken")  # fmt: skip
    problems = pool_problems(exam, tags)
    if problems:
        raise DomainError(" ".join(problems), code="bad_pool", problems=[("exam", p) for p in problems])
    row = current or ReadingExam(year=year)
    old = row.exam.code if row.exam_id else None
    row.exam_id, row.attached_by_id, row.attached_at = exam.id, actor.id, now
    db.session.add(row)
    db.session.flush()
    db.session.refresh(row)
    audit.record("reading.exam_attached", actor=actor, target=f"year:{year}", detail={"exam": exam.code, "old": old},
                 at=now)  # fmt: skip
    return row


def detach_exam(actor, year: int, now: datetime) -> None:
    """The list has no written exam any more (the exam and its results stay, as an ordinary exam's)."""
    records.check_open(year)
    row = reading_exam(year)
    if row is None:
        raise DomainError(_("The year's list has no written exam."), code="no_exam")
    refuse_conflict(actor, exam_id=row.exam_id)
    audit.record("reading.exam_detached", actor=actor, target=f"year:{year}", detail={"exam": row.exam.code}, at=now)
    db.session.delete(row)
    db.session.flush()


def draft_exam(actor, year: int, now: datetime):
    """A draft exam drawing the books' questions, attached to the list: a section per question type the books'
    questions have, a rule per bank and book of up to five questions. The department edits and publishes it."""
    from exam import definition
    from exam.models import Exam, PaperMode
    from question_bank.models import Bank, Question, QuestionStatus, QuestionUsage, Tag, question_tags
    from question_bank.types import QUESTION_TYPES

    records.check_open(year)
    if reading_exam(year) is not None:
        raise DomainError(_("The year's list has a written exam already."), code="exam_exists")
    tags = book_tags(year)
    order = [b.tag for b in books_of(year) if b.tag]
    first: dict[int, tuple] = {}  # a question on two books counts under the first (one rule draws it, not two)
    for qid, qtype, bank_id, tag in db.session.execute(
        select(Question.id, Question.type, Question.bank_id, Tag.name)
        .join(question_tags, question_tags.c.question_id == Question.id).join(Tag, Tag.id == question_tags.c.tag_id)
        .where(Tag.name.in_(tags), Question.status == QuestionStatus.ACTIVE, Question.usage != QuestionUsage.PRACTICE)
    ):  # fmt: skip
        if qid not in first or order.index(tag) < order.index(first[qid][2]):
            first[qid] = (qtype, bank_id, tag)
    counts: dict[tuple, int] = {}
    for key in first.values():
        counts[key] = counts.get(key, 0) + 1
    available = sorted(((*key, n) for key, n in counts.items()), key=lambda r: (r[1], order.index(r[2])))
    if not available:
        raise DomainError(_("No active question is tagged with a book of the list: tag the books' questions with "
                            "their knowledge points first."), code="no_questions")  # fmt: skip
    code, n = f"READ{year}", 1
    while db.session.scalar(select(Exam.id).where(Exam.code == code)):
        n += 1
        code = f"READ{year}-{n}"
    opens = now + timedelta(days=7)
    exam = definition.create_exam(actor, code, {
        "title": _("Written exam on the required reading %(y)d", y=year), "subject": _("Required reading"),
        "paper_mode": PaperMode.DRAWN, "duration_minutes": 30, "opens_at": opens,
        "closes_at": opens + timedelta(days=14), "attempts_allowed": 1, "pass_mark": 0, "shuffle_questions": True,
        "shuffle_options": True, "mc_policy": "all_or_nothing", "release_policy": "after_close",
        "review_policy": "score", "publish_ranking": False,
    }, now)  # fmt: skip
    total = 0.0
    for qtype, kind in QUESTION_TYPES.items():
        rows = [r for r in available if r[0] == qtype]
        if not rows:
            continue
        points = 10.0 if kind.manual else 2.0
        section = definition.add_section(actor, exam, str(kind.label), qtype, points, now)
        for _type, bank_id, tag, count in rows:
            definition.add_rule(actor, section, now, bank=db.session.get(Bank, bank_id), tag=tag, count=min(count, 5))
            total += points * min(count, 5)
    exam.pass_mark = round(total * 0.6, 1)
    return attach_exam(actor, year, exam, now)


def exam_results(year: int, results) -> list:
    """Of a cadre's visible results (archive records), those of the year's written exam."""
    row = reading_exam(year)
    return [r for r in results if row is not None and r.exam_id == row.exam_id]
