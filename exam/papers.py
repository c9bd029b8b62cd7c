"""Paper drawing: the rules' pools, their checks, deterministic papers, and the papers prepared ahead of the start."""

import random
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import false, insert, select, update

from core.errors import DomainError
from core.extensions import db
from exam.eligibility import eligible_user_ids
from exam.models import Exam, Paper, PaperItem, PaperMode, Phase, SectionRule
from question_bank.models import (
    Category,
    Question,
    QuestionStatus,
    QuestionUsage,
    QuestionVersion,
    Tag,
    question_tags,
)
from question_bank.services import record_exposure


def rule_pool(rule: SectionRule, qtype: str) -> list[tuple[int, int]]:
    """(question id, current version id) of the active questions a rule draws from, in a stable order. A question
    written for practice only is never drawn onto a formal paper."""
    stmt = select(Question.id, Question.current_version_id).where(
        Question.bank_id == rule.bank_id,
        Question.type == qtype,
        Question.status == QuestionStatus.ACTIVE,
        Question.usage != QuestionUsage.PRACTICE,
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


#: Papers drawn per transaction when they are prepared by the job (exam.jobs): a batch's commit is what a worker
#: killed half-way keeps, and what the run after it skips.
BATCH = 200


def papers_wanted(exam: Exam, now: datetime) -> list[int]:
    """The eligible candidates who have no first paper yet, in id order; none unless the exam is published or open
    (nothing is drawn once it has closed)."""
    if exam.phase(now) not in (Phase.PUBLISHED, Phase.OPEN):
        return []
    have = set(db.session.scalars(select(Paper.user_id).where(Paper.exam_id == exam.id, Paper.attempt_number == 1)))
    return sorted(eligible_user_ids(exam) - have)


def without_paper(exam: Exam, user_ids: list[int]) -> list[int]:
    """Those of `user_ids` who have no first paper of the exam yet, in the given order."""
    if not user_ids:
        return []
    stmt = select(Paper.user_id).where(Paper.exam_id == exam.id, Paper.attempt_number == 1, Paper.user_id.in_(user_ids))
    have = set(db.session.scalars(stmt))
    return [user_id for user_id in user_ids if user_id not in have]


def draw(exam: Exam, user_ids: list[int], now: datetime, cache: dict, on_paper=None) -> list[tuple[Paper, list]]:
    """The first papers of `user_ids` with their items, drawn but not yet in the session (`store` writes them).
    `on_paper(n)` is told after each paper."""
    drawn = []
    for n, user_id in enumerate(user_ids, 1):
        seed = random.SystemRandom().randrange(2**31)
        paper = Paper(exam_id=exam.id, user_id=user_id, attempt_number=1, seed=seed, created_at=now)
        drawn.append((paper, _paper_items(exam, seed, cache)))
        if on_paper is not None:
            on_paper(n)
    return drawn


def store(drawn: list[tuple[Paper, list]], now: datetime) -> int:
    """Write papers made by `draw` (flushed): the papers through the ORM (for their ids), their items (a hundred
    each) in one bulk INSERT, and the questions' exposure. Returns how many."""
    if not drawn:
        return 0
    db.session.add_all(paper for paper, _items in drawn)
    db.session.flush()
    rows = [
        {"paper_id": paper.id, "position": i.position, "section_id": i.section_id,
         "question_version_id": i.question_version_id, "option_order": i.option_order, "points": i.points}
        for paper, items in drawn
        for i in items
    ]  # fmt: skip
    db.session.execute(insert(PaperItem), rows)
    count_exposure([row["question_version_id"] for row in rows], now)
    return len(drawn)


def draw_first_papers(exam: Exam, user_ids: list[int], now: datetime, cache: dict | None = None) -> int:
    """Draw and write the first paper of each of `user_ids` who still has none (asked here, so a batch drawn
    twice gets no second paper); flushes. Returns how many were drawn."""
    cache = {} if cache is None else cache
    return store(draw(exam, without_paper(exam, user_ids), now, cache), now)


def prepare_papers(exam: Exam, now: datetime) -> int:
    """Draw the first paper of every eligible candidate who has none yet (ahead of the start: starting is then a
    read and one insert), in the caller's transaction. Nothing is drawn once the exam has closed. Returns how many
    were drawn. Publishing a whole exam does it as a job instead (exam.jobs: batches, progress)."""
    todo, cache = papers_wanted(exam, now), {}
    return sum(draw_first_papers(exam, todo[start : start + 500], now, cache) for start in range(0, len(todo), 500))


def hold_exam(exam: Exam) -> Exam:
    """The exam row again, read under a lock that keeps a withdrawal (exam.definition.withdraw, FOR UPDATE) out
    until the transaction ends, so papers are never drawn for an exam gone back to draft. PostgreSQL: FOR KEY SHARE,
    which a first start's UPDATE of the row does not wait for. SQLite: the database's write lock, taken now."""
    if db.session.get_bind().dialect.name != "postgresql":
        exams = Exam.__table__  # Core: a statement that changes nothing, for the lock alone
        db.session.execute(update(exams).where(exams.c.id == exam.id, false()).values(id=exams.c.id))
    stmt = select(Exam).where(Exam.id == exam.id).execution_options(populate_existing=True)
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(read=True, key_share=True)
    return db.session.scalar(stmt)


def count_exposure(version_ids: list[int], now: datetime) -> None:
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
