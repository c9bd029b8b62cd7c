"""Mock exams (模拟考试): a timed paper laid out like a formal exam ahead (its sections, question types, counts,
points and difficulty ranges) but drawn from the practice pool, answered whole, graded like the real one (the
exam's multiple-choice policy), and reviewed at once with keys and explanations. Essays are self-checked against
their reference answers, as no grader marks a mock."""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from core.errors import DomainError
from core.extensions import db
from exam import attempts, eligibility
from exam.answers import ItemFacts, parse_answer
from exam.models import Exam, ExamStatus, PaperMode
from practice.models import Mode, Outcome, PracticeAnswer, PracticeSession
from practice.pool import pool_now
from practice.services import record_in_book
from question_bank.models import Bank, Category, Question, Tag, question_tags
from question_bank.richtext import to_text
from question_bank.types import QUESTION_TYPES, count_blanks


def exams_to_mock(user, now: datetime) -> list[Exam]:
    """The formal exams ahead the person is a candidate of (published, not yet closed): those a mock prepares for."""
    return [
        exam
        for exam, _used, _open in eligibility.exams_for(user)
        if exam.status == ExamStatus.PUBLISHED and now < exam.closes_at and exam.sections
    ]


def _rule_filters(rule, qtype: str) -> list[list]:
    """The filters to draw a rule's questions from the practice pool, strictest first: the rule's own (bank,
    category subtree, knowledge point, difficulty), then its bank and difficulty, then its bank, then any bank of
    the exam's subject (see draw). All keep the question type."""
    same_type = Question.type == qtype
    own = [same_type, Question.bank_id == rule.bank_id,
           Question.difficulty.between(rule.difficulty_min, rule.difficulty_max)]  # fmt: skip
    strict = list(own)
    if rule.category_id:
        category = db.session.get(Category, rule.category_id)
        sub = select(Category.id).where(Category.path.startswith(category.path, autoescape=True))
        strict.append(Question.category_id.in_(sub))
    if rule.tag:
        strict.append(Question.id.in_(select(question_tags.c.question_id).join(Tag).where(Tag.name == rule.tag)))
    subject = select(Bank.id).where(Bank.subject == rule.bank.subject)
    return [strict, own, [same_type, Question.bank_id == rule.bank_id], [same_type, Question.bank_id.in_(subject)]]


@dataclass(frozen=True)
class Slot:
    """One position of a mock paper: its section's title, type and points."""

    section: str
    qtype: str
    points: float


def draw(exam: Exam, now: datetime, rng: random.Random) -> tuple[list[int], list[Slot], int]:
    """The mock paper: question ids and slots in order, and how many questions the formal paper has. A rule whose
    filters find too few open questions takes the rest from the next, looser filters; what still lacks is left
    out (the page says the mock is shorter)."""
    pool = pool_now(now)
    ids, slots, wanted, taken = [], [], 0, set()
    for section in exam.sections:
        if exam.paper_mode == PaperMode.FIXED:
            rules = [None] * len(section.fixed_items)
            wanted += len(section.fixed_items)
        else:
            rules = section.rules
            wanted += sum(r.count for r in rules)
        for rule in rules:
            count = 1 if rule is None else rule.count
            got: list[int] = []
            filters = [[Question.type == section.qtype]] if rule is None else _rule_filters(rule, section.qtype)
            for where in filters:
                if len(got) >= count:
                    break
                found = [q for q in pool.question_ids(*where) if q not in taken and q not in got]
                got += rng.sample(found, min(count - len(got), len(found)))
            taken.update(got)
            ids += got
            slots += [Slot(section.title, section.qtype, float(section.points_per_question))] * len(got)
    return ids, slots, wanted


def start(user, exam: Exam, now: datetime) -> PracticeSession:
    """Start a mock of `exam` (one the person sits, ahead), or resume the running one."""
    if exam not in exams_to_mock(user, now):
        raise DomainError(_("There is no mock of this exam for you."), code="not_found", status=404)
    running = db.session.scalar(
        select(PracticeSession).where(
            PracticeSession.user_id == user.id,
            PracticeSession.mode == Mode.MOCK,
            PracticeSession.exam_id == exam.id,
            PracticeSession.finished_at.is_(None),
        )
    )
    if running is not None:
        return running
    ids, slots, _wanted = draw(exam, now, random.Random())
    if not ids:
        raise DomainError(_("There is nothing to practise here at the moment."), code="nothing_open", status=409)
    session = PracticeSession(user_id=user.id, mode=Mode.MOCK, exam_id=exam.id, shuffled=False, question_ids=ids)
    session.layout = [[s.section, s.qtype, s.points] for s in slots]
    session.max_score = sum(s.points for s in slots if not QUESTION_TYPES[s.qtype].manual)
    session.started_at = session.updated_at = now
    session.deadline_at = now + timedelta(minutes=exam.duration_minutes)
    db.session.add(session)
    db.session.flush()
    return session


@dataclass(frozen=True)
class MockItem:
    position: int  # 0-based
    slot: Slot
    question: Question
    blanks: int
    open: bool  # still open to practice (else neither its text nor its key is shown)


def items(session: PracticeSession, now: datetime) -> list[MockItem]:
    """The mock paper's questions in order (their current versions)."""
    questions = {q.id: q for q in db.session.scalars(select(Question).where(Question.id.in_(session.question_ids)))}
    open_ids = pool_now(now).open_among(session.question_ids)
    out = []
    for i, (qid, (section, qtype, points)) in enumerate(zip(session.question_ids, session.layout, strict=True)):
        question = questions.get(qid)
        if question is None or question.current_version is None:
            continue
        version = question.current_version
        blanks = count_blanks(to_text(version.stem)) if qtype == "fill" else 0
        out.append(MockItem(i, Slot(section, qtype, points), question, blanks, qid in open_ids))
    return out


def time_left(session: PracticeSession, now: datetime) -> int:
    return max(0, int((session.deadline_at - now).total_seconds())) if session.deadline_at else 0


def submit(session: PracticeSession, values: dict[int, object], now: datetime) -> float:
    """Grade the mock's answers (position -> answer; missing ones count as not answered) like the real exam: each
    objective question's share of its points under the exam's multiple-choice policy. Wrong answers go into the
    wrong-answer book; essays wait for the cadre's self-check. Harmless twice (the second changes nothing). A
    submit after the time is taken as well (it is practice), and the review says it came late."""
    if session.mode != Mode.MOCK:
        raise DomainError(_("This is not a mock exam."), code="wrong_mode", status=409)
    if session.done:
        return session.score or 0.0
    policy = session.exam.mc_policy if session.exam is not None else "all_or_nothing"
    score, right = 0.0, 0
    for item in items(session, now):
        if not item.open:
            continue  # closed to practice since the start (an exam set up meanwhile): not graded, not keyed
        version = item.question.current_version
        facts = ItemFacts(item.position + 1, item.slot.qtype, tuple(range(len(version.options or ()))), item.blanks)
        try:
            value = parse_answer(facts, values.get(item.position))
        except DomainError:
            value = None
        qtype = QUESTION_TYPES[item.slot.qtype]
        if qtype.manual:
            outcome, share = Outcome.SELF_CHECK, None
        else:
            share = qtype.grade(version.answer, value, version.settings, policy) if value is not None else 0.0
            outcome = Outcome.RIGHT if share >= 1 else Outcome.WRONG if share <= 0 else Outcome.PARTLY
            score += share * item.slot.points
            right += outcome == Outcome.RIGHT
        db.session.add(PracticeAnswer(session_id=session.id, user_id=session.user_id, question_id=item.question.id,
                                      question_version_id=version.id, position=item.position, answer=value,
                                      outcome=outcome, share=share, answered_at=now))  # fmt: skip
        record_in_book(session.user_id, item.question.id, outcome, now, source="practice")
    session.score = round(score, 2)
    session.right_count = right
    session.position = session.total
    session.finished_at = session.updated_at = now
    db.session.flush()
    return session.score


def wanted(session: PracticeSession) -> int:
    """How many questions the formal paper has (a mock drawn short of open questions has fewer)."""
    exam = session.exam
    if exam is None:
        return len(session.question_ids)
    return sum(s.question_count for s in exam.sections)


def came_late(session: PracticeSession) -> bool:
    grace = attempts.grace()
    return bool(session.finished_at and session.deadline_at and session.finished_at > session.deadline_at + grace)
