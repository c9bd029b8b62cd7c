"""Reads over banks and questions, limited to what the viewer may see."""

from sqlalchemy import Select, func, or_, select

from accounts.models import Unit, User
from core.extensions import db
from core.policy import bank_scope_filter
from question_bank.models import Bank, Category, Question, QuestionStatus, QuestionVersion, Tag, question_tags
from question_bank.services import search_key

SORTS = {
    "newest": (Question.id.desc(),),
    "oldest": (Question.id.asc(),),
    "difficulty": (Question.difficulty.asc(), Question.id.asc()),
    "difficulty_desc": (Question.difficulty.desc(), Question.id.asc()),
    "exposure": (Question.exposure_count.desc(), Question.id.asc()),
    "updated": (Question.updated_at.desc(), Question.id.desc()),
}


def banks_query(viewer) -> Select:
    return (
        select(Bank)
        .join(Unit, Bank.owner_unit_id == Unit.id)
        .where(bank_scope_filter(viewer, Unit.path))
        .order_by(Bank.subject, Bank.code)
    )


def questions_query(
    bank: Bank,
    *,
    q: str = "",
    qtype: str = "",
    difficulty: int | None = None,
    category: Category | None = None,
    tag: str = "",
    status: str = "",
    author_id: int | None = None,
    sort: str = "newest",
) -> Select:
    """Questions of one bank; `category` includes its sub-categories; `q` is a substring of stem or options."""
    stmt = select(Question).where(Question.bank_id == bank.id)
    if q:
        stmt = stmt.where(Question.search_text.contains(search_key(q.strip()), autoescape=True))
    if qtype:
        stmt = stmt.where(Question.type == qtype)
    if difficulty:
        stmt = stmt.where(Question.difficulty == difficulty)
    if category is not None:
        sub = select(Category.id).where(Category.path.startswith(category.path, autoescape=True))
        stmt = stmt.where(Question.category_id.in_(sub))
    if tag:
        stmt = stmt.where(Question.id.in_(select(question_tags.c.question_id).join(Tag).where(Tag.name == tag.strip())))
    if status in set(QuestionStatus):
        stmt = stmt.where(Question.status == status)
    if author_id:
        stmt = stmt.where(Question.author_id == author_id)
    return stmt.order_by(*SORTS.get(sort, SORTS["newest"]))


def review_queue(viewer, banks_stmt: Select) -> Select:
    """Questions awaiting review in the viewer's banks, oldest first, not the viewer's own."""
    bank_ids = select(banks_stmt.subquery().c.id)
    return (
        select(Question)
        .where(Question.bank_id.in_(bank_ids), Question.status == QuestionStatus.IN_REVIEW)
        .where((Question.author_id != viewer.id) | Question.author_id.is_(None))
        .where(
            Question.current_version.has(
                or_(QuestionVersion.created_by_id.is_(None), QuestionVersion.created_by_id != viewer.id)
            )
        )
        .order_by(Question.submitted_at)
    )


def count_of(stmt: Select) -> int:
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))


def question_counts(bank_ids: list[int]) -> dict[int, dict[str, int]]:
    """bank id -> {status: number of questions}."""
    counts: dict[int, dict[str, int]] = {i: {} for i in bank_ids}
    if bank_ids:
        rows = db.session.execute(
            select(Question.bank_id, Question.status, func.count())
            .where(Question.bank_id.in_(bank_ids))
            .group_by(Question.bank_id, Question.status)
        )
        for bank_id, status, n in rows:
            counts[bank_id][status] = n
    return counts


def known_subjects() -> list[str]:
    return list(db.session.scalars(select(Bank.subject).distinct().order_by(Bank.subject)))


def bank_authors(bank: Bank) -> list[User]:
    ids = select(Question.author_id).where(Question.bank_id == bank.id).distinct()
    return list(db.session.scalars(select(User).where(User.id.in_(ids)).order_by(User.name)))
