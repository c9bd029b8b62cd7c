"""Rules of banks and questions: creation, versioning, the review workflow, bulk changes, duplicates.

Functions flush and never commit. A change of what a question says (stem, options, key, points, explanation,
reference, settings) always makes a new version; metadata (category, tags, difficulty, usage, status) does not.
"""

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from accounts.models import Unit
from core import audit
from core.errors import DomainError
from core.extensions import db
from core.models import tree_order
from core.policy import can
from question_bank.models import (
    STATUS_LABELS,
    Bank,
    Category,
    Question,
    QuestionStatus,
    QuestionUsage,
    QuestionVersion,
    Tag,
)
from question_bank.richtext import sanitize, strip_controls, to_text
from question_bank.types import QUESTION_TYPES, Content, count_blanks

CODE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
MAX_TAGS = 10

# status -> statuses it may move to
# Only approve() ever makes a question active, and only a reviewer other than its authors may approve: nothing
# (restoring, editing) reaches the active pool without review.
_TRANSITIONS = {
    QuestionStatus.DRAFT: {QuestionStatus.IN_REVIEW},
    QuestionStatus.IN_REVIEW: {QuestionStatus.ACTIVE, QuestionStatus.DRAFT},
    QuestionStatus.ACTIVE: {QuestionStatus.RETIRED, QuestionStatus.IN_REVIEW},
    QuestionStatus.RETIRED: {QuestionStatus.IN_REVIEW},
}


# ---------------------------------------------------------------- banks, categories, tags


def create_bank(actor, code: str, name: str, subject: str, owner_unit: Unit, description: str, now) -> Bank:
    code, name, subject = (code or "").strip(), (name or "").strip(), (subject or "").strip()
    if not CODE_RE.match(code):
        raise DomainError(_("A bank code is 1 to 32 letters, digits, '.', '_' or '-'."), code="bad_bank")
    if not name or not subject:
        raise DomainError(_("A bank needs a name and a subject."), code="bad_bank")
    if not can(actor, "bank.create", _UnitTarget(owner_unit)):
        raise DomainError(_("You may not create a bank for this unit."), code="forbidden", status=403)
    if db.session.scalar(select(Bank.id).where(func.lower(Bank.code) == code.lower())):
        raise DomainError(_("The bank code %(code)s is already in use.", code=code), code="duplicate_bank")
    bank = Bank(
        code=code,
        name=name,
        subject=subject,
        owner_unit=owner_unit,
        description=(description or "").strip(),
        created_at=now,
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(bank)
    audit.record("bank.created", actor=actor, target=f"bank:{code}", at=now)
    db.session.flush()
    return bank


def update_bank(actor, bank: Bank, *, name: str, subject: str, owner_unit: Unit, description: str) -> Bank:
    if not can(actor, "bank.manage", bank) or not can(actor, "bank.create", _UnitTarget(owner_unit)):
        raise DomainError(_("You may not move this bank to that unit."), code="forbidden", status=403)
    if not name.strip() or not subject.strip():
        raise DomainError(_("A bank needs a name and a subject."), code="bad_bank")
    bank.name, bank.subject, bank.owner_unit, bank.description = name.strip(), subject.strip(), owner_unit, description
    db.session.flush()
    return bank


def open_for_practice(actor, bank: Bank, opened: bool, now, category: Category | None = None) -> None:
    """Open (or close) a bank, or one category subtree of it, for practice. Practice still never serves a question
    a formal exam ahead can draw (practice.pool)."""
    if not can(actor, "bank.manage", bank):
        raise DomainError(_("You may not change this bank."), code="forbidden", status=403)
    target = category if category is not None else bank
    if category is not None and category.bank_id != bank.id:
        raise DomainError(_("The category belongs to another bank."), code="bad_category")
    target.practice_open = opened
    detail = {"opened": opened, **({"category": category.id} if category is not None else {})}
    audit.record("bank.practice_changed", actor=actor, target=f"bank:{bank.code}", detail=detail, at=now)
    db.session.flush()


def set_usage(actor, question: Question, usage: str, now) -> None:
    """Mark a question for exams and practice, practice only or exams only (question_bank.models.QuestionUsage)."""
    if not can(actor, "bank.manage", question.bank):
        raise DomainError(_("You may not change this bank."), code="forbidden", status=403)
    usage = _check_usage(usage)
    if usage != question.usage:
        audit.record("question.usage_changed", actor=actor, target=f"question:{question.id}",
                     detail={"from": question.usage, "to": usage}, at=now)  # fmt: skip
        question.usage = usage
        db.session.flush()


@dataclass
class _UnitTarget:
    unit: Unit

    @property
    def unit_path(self) -> str:
        return self.unit.path


MAX_CATEGORY_DEPTH = 8
_CATEGORY_SEPARATORS = re.compile(r"[/／>]")


def category_name_problem(name: str) -> str | None:
    if not name or _CATEGORY_SEPARATORS.search(name) or len(name) > 100:
        return _("A category name is 1 to 100 characters without '/' or '>'.")
    return None


def category_path_problem(path: str) -> str | None:
    """Why a 'chapter/section/point' path cannot be made, or None."""
    names = split_category_path(path)
    if len(names) > MAX_CATEGORY_DEPTH:
        return _("A category path has at most %(n)d levels.", n=MAX_CATEGORY_DEPTH)
    return next((p for p in map(category_name_problem, names) if p), None)


def create_category(bank: Bank, name: str, parent: Category | None = None, sort_order: int = 0) -> Category:
    name = (name or "").strip()
    problem = category_name_problem(name)
    if problem:
        raise DomainError(problem, code="bad_category")
    if parent is not None and parent.depth + 1 >= MAX_CATEGORY_DEPTH:
        raise DomainError(_("A category path has at most %(n)d levels.", n=MAX_CATEGORY_DEPTH), code="bad_category")
    if parent is not None and parent.bank_id != bank.id:
        raise DomainError(_("The parent category belongs to another bank."), code="bad_category")
    with db.session.no_autoflush:
        existing = db.session.scalar(
            select(Category).where(
                Category.bank_id == bank.id,
                Category.parent_id.is_(None) if parent is None else Category.parent_id == parent.id,
                Category.name == name,
            )
        )
    if existing:
        return existing
    category = Category(bank_id=bank.id, parent=parent, name=name, sort_order=sort_order, path="")
    db.session.add(category)
    db.session.flush()
    category.path = (parent.path if parent else "/") + f"{category.id}/"
    db.session.flush()
    return category


def ensure_category_path(bank: Bank, path: str) -> Category | None:
    """The category at 'chapter/section/point' in the bank, made where missing; None for an empty path."""
    parent = None
    for name in split_category_path(path):
        parent = create_category(bank, name, parent)
    return parent


def split_category_path(path: str) -> list[str]:
    return [p.strip() for p in re.split(r"[/／>]", path or "") if p.strip()]


def category_path_names(category: Category | None, by_id: dict[int, Category] | None = None) -> str:
    """'chapter/section/point' of a category (the inverse of ensure_category_path)."""
    if category is None:
        return ""
    ids = [int(i) for i in category.path.strip("/").split("/") if i]
    if by_id is None:
        by_id = {c.id: c for c in db.session.scalars(select(Category).where(Category.id.in_(ids)))}
    return "/".join(by_id[i].name for i in ids if i in by_id)


def rename_category(category: Category, name: str) -> None:
    name = (name or "").strip()
    problem = category_name_problem(name)
    if problem:
        raise DomainError(problem, code="bad_category")
    sibling = db.session.scalar(
        select(Category.id).where(
            Category.bank_id == category.bank_id,
            Category.parent_id.is_(None) if category.parent_id is None else Category.parent_id == category.parent_id,
            Category.name == name,
            Category.id != category.id,
        )
    )
    if sibling:
        raise DomainError(_("Another category here already has that name."), code="duplicate_category")
    category.name = name
    db.session.flush()


def delete_category(category: Category) -> None:
    """Only an empty category (no sub-categories, no questions) can be deleted."""
    has_children = db.session.scalar(select(func.count(Category.id)).where(Category.parent_id == category.id))
    has_questions = db.session.scalar(select(func.count(Question.id)).where(Question.category_id == category.id))
    if has_children or has_questions:
        raise DomainError(_("Only an empty category can be deleted."), code="category_not_empty")
    db.session.delete(category)
    db.session.flush()


def category_tree(bank: Bank) -> list[Category]:
    """The bank's categories in tree order."""
    categories = db.session.scalars(select(Category).where(Category.bank_id == bank.id))
    return tree_order(categories, lambda c: (c.sort_order, c.name))


def split_tags(text: str) -> list[str]:
    return [t.strip() for t in re.split(r"[,，、;；\n]", text or "") if t.strip()]


def get_tags(names: list[str], cache: dict[str, Tag] | None = None) -> list[Tag]:
    """Tags by name, created where missing. A `cache` (name -> Tag) spares the query when many questions are made."""
    names = list(dict.fromkeys(n.strip() for n in names if n and n.strip()))
    if any(len(n) > 50 for n in names):
        raise DomainError(_("A knowledge point has at most 50 characters."), code="long_tag")
    if len(names) > MAX_TAGS:
        raise DomainError(_("At most %(n)d knowledge points per question.", n=MAX_TAGS), code="too_many_tags")
    found = cache if cache is not None else {}
    missing = [n for n in names if n not in found]
    if missing:
        with db.session.no_autoflush:
            found.update({t.name: t for t in db.session.scalars(select(Tag).where(Tag.name.in_(missing)))})
    for name in names:
        if name not in found:
            found[name] = Tag(name=name)
            db.session.add(found[name])
    return [found[n] for n in names]


# ---------------------------------------------------------------- checking content


def search_key(text: str) -> str:
    """Text as the search compares it: full-width folded to half-width, case folded. Stored that way, a search is
    a plain LIKE (on PostgreSQL about four times cheaper per row than ILIKE)."""
    return unicodedata.normalize("NFKC", text).casefold()


def fingerprint(stem_text: str) -> str:
    """The stem reduced to what makes it the same question: no spaces, punctuation, case or width differences."""
    text = unicodedata.normalize("NFKC", stem_text).casefold()
    return "".join(c for c in text if c.isalnum())[:255]


def clean_content(qtype: str, content: Content) -> Content:
    """Sanitise the HTML parts of a content."""
    content.stem = sanitize(content.stem)
    content.options = [sanitize(o) for o in content.options] if QUESTION_TYPES[qtype].has_options else []
    content.explanation = sanitize(content.explanation)
    content.reference = strip_controls((content.reference or "").strip())
    if qtype == "essay" and isinstance(content.answer, dict):
        content.answer = {
            "reference": sanitize(content.answer.get("reference", "")),
            "scoring_points": [str(p).strip() for p in content.answer.get("scoring_points", []) if str(p).strip()],
        }
    return content


def content_problems(qtype: str, content: Content) -> list[tuple[str, str]]:
    """(field, message) for every problem of a question's content; empty when it can be saved."""
    if qtype not in QUESTION_TYPES:
        return [("type", _("Unknown question type “%(v)s”.", v=qtype))]
    problems = []
    stem_text = to_text(content.stem)
    if not stem_text.strip():
        problems.append(("stem", _("The stem is empty.")))
    try:
        points = float(content.points)
    except (TypeError, ValueError, OverflowError):
        points = -1
    if not 0.1 <= points <= 1000 or round(points, 2) != points:
        problems.append(("points", _("Points are a number from 0.1 to 1000 with at most two decimals.")))
    if len(content.reference or "") > 255:
        problems.append(("reference", _("The reference has at most 255 characters.")))
    problems += QUESTION_TYPES[qtype].check(content, count_blanks(stem_text))
    return problems


def _check(qtype: str, content: Content) -> Content:
    content = clean_content(qtype, content)
    problems = content_problems(qtype, content)
    if problems:
        raise DomainError(" ".join(message for _field, message in problems), code="invalid_question")
    return content


def _check_usage(usage) -> str:
    if usage not in set(QuestionUsage):
        raise DomainError(_("Unknown question usage."), code="bad_usage")
    return usage


def _check_difficulty(difficulty) -> int:
    if not isinstance(difficulty, int) or not 1 <= difficulty <= 5:
        raise DomainError(_("Difficulty is a whole number from 1 to 5."), code="bad_difficulty")
    return difficulty


# ---------------------------------------------------------------- questions and versions


def _new_version(question: Question, content: Content, actor, now, number: int) -> QuestionVersion:
    version = QuestionVersion(
        question=question,
        number=number,
        stem=content.stem,
        options=list(content.options),
        answer=content.answer,
        points=float(content.points),
        explanation=content.explanation,
        reference=content.reference,
        settings=dict(content.settings or {}),
        created_at=now,
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(version)
    question.current_version = version
    stem_text = to_text(content.stem)
    question.search_text = search_key("\n".join([stem_text, *(to_text(o) for o in content.options)]))
    question.fingerprint = fingerprint(stem_text)
    return version


def create_question(
    actor,
    bank: Bank,
    qtype: str,
    content: Content,
    now: datetime,
    *,
    category: Category | None = None,
    tags: list[str] = (),
    difficulty: int = 3,
    usage: str = QuestionUsage.ANY,
    status: str = QuestionStatus.DRAFT,
    flush: bool = True,
    tag_cache: dict[str, Tag] | None = None,
) -> Question:
    """A new question (a draft unless `status` says otherwise) with its first version."""
    if not can(actor, "bank.manage", bank):
        raise DomainError(_("You may not add questions to this bank."), code="forbidden", status=403)
    content = _check(qtype, content)
    if category is not None and category.bank_id != bank.id:
        raise DomainError(_("The category belongs to another bank."), code="bad_category")
    question = Question(
        bank=bank,
        type=qtype,
        status=status,
        difficulty=_check_difficulty(difficulty),
        usage=_check_usage(usage),
        category=category,
        author_id=getattr(actor, "id", None),
        created_at=now,
        updated_at=now,
    )
    question.tags = get_tags(list(tags), tag_cache)
    db.session.add(question)
    _new_version(question, content, actor, now, number=1)
    if flush:
        db.session.flush()
    return question


def update_question(
    actor,
    question: Question,
    content: Content,
    now: datetime,
    *,
    category: Category | None,
    tags: list[str],
    difficulty: int,
    usage: str | None = None,
) -> QuestionVersion | None:
    """Save an edit. A changed content becomes a new version (returned); the old ones stay as they were. A changed
    `usage` is metadata (set_usage): no new version, and no new review."""
    if not can(actor, "bank.manage", question.bank):
        raise DomainError(_("You may not edit questions of this bank."), code="forbidden", status=403)
    if question.status == QuestionStatus.RETIRED:
        raise DomainError(_("A retired question cannot be edited; restore it first."), code="retired")
    content = _check(question.type, content)
    if category is not None and category.bank_id != question.bank_id:
        raise DomainError(_("The category belongs to another bank."), code="bad_category")
    question.category = category
    question.tags = get_tags(tags)
    question.difficulty = _check_difficulty(difficulty)
    if usage is not None:
        set_usage(actor, question, usage, now)
    question.updated_at = now
    current = question.current_version
    new_version = None
    if current is None or _content_of(current) != content:
        number = (max((v.number for v in question.versions), default=0)) + 1
        new_version = _new_version(question, content, actor, now, number)
        audit.record("question.edited", actor=actor, target=f"question:{question.id}", detail={"version": number})
        if question.status == QuestionStatus.ACTIVE:  # new wording is reviewed before papers use it
            _move(question, QuestionStatus.IN_REVIEW)
            question.submitted_at = now
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:  # two people saved a new version at the same moment
        raise DomainError(
            _("Someone else saved this question at the same moment. Reload it and try again."), code="edit_conflict"
        ) from exc
    return new_version


def _content_of(version: QuestionVersion) -> Content:
    return Content(
        stem=version.stem,
        options=list(version.options or []),
        answer=version.answer,
        points=float(version.points),
        explanation=version.explanation or "",
        reference=version.reference or "",
        settings=dict(version.settings or {}),
    )


def content_of(version: QuestionVersion) -> Content:
    return _content_of(version)


def _move(question: Question, to: QuestionStatus) -> None:
    if to not in _TRANSITIONS[QuestionStatus(question.status)]:
        raise DomainError(
            _("A question cannot go from “%(a)s” to “%(b)s”.", a=_status_label(question.status), b=_status_label(to)),
            code="bad_transition",
        )
    question.status = to


def _status_label(status) -> str:
    return str(STATUS_LABELS[QuestionStatus(status)])


def submit_for_review(actor, question: Question, now: datetime) -> None:
    if not can(actor, "bank.manage", question.bank):
        raise DomainError(_("You may not submit questions of this bank."), code="forbidden", status=403)
    if question.status != QuestionStatus.DRAFT:
        raise DomainError(_("Only a draft can be submitted for review."), code="bad_transition")
    _move(question, QuestionStatus.IN_REVIEW)
    question.submitted_at = now
    db.session.flush()


def approve(reviewer, question: Question, now: datetime, comment: str = "", version_id: int | None = None) -> None:
    """出题 → 审题 → 入库: a reviewer other than the author puts the question into the bank's active pool.

    With `version_id` (the version the reviewer read), a question edited meanwhile is refused, not approved unseen.
    """
    _check_reviewer(reviewer, question)
    if version_id is not None and version_id != question.current_version_id:
        raise DomainError(
            _("The question was changed while you were reviewing it. Please read it again."), code="stale_review"
        )
    _move(question, QuestionStatus.ACTIVE)
    question.reviewer_id, question.reviewed_at, question.review_comment = reviewer.id, now, (comment or "").strip()
    audit.record("question.approved", actor=reviewer, target=f"question:{question.id}", at=now)
    db.session.flush()


def return_to_author(reviewer, question: Question, now: datetime, comment: str) -> None:
    if not (comment or "").strip():
        raise DomainError(_("Say what the author should change."), code="comment_required")
    _check_reviewer(reviewer, question)
    _move(question, QuestionStatus.DRAFT)
    question.reviewer_id, question.reviewed_at, question.review_comment = reviewer.id, now, comment.strip()
    db.session.flush()


def _check_reviewer(reviewer, question: Question) -> None:
    if not can(reviewer, "question.review", question.bank):
        raise DomainError(_("You may not review questions of this bank."), code="forbidden", status=403)
    last_editor = question.current_version.created_by_id if question.current_version else None
    if reviewer.id in (question.author_id, last_editor):
        raise DomainError(_("A question is reviewed by someone other than its author."), code="own_question")


def retire(actor, question: Question, now: datetime) -> None:
    if not can(actor, "bank.manage", question.bank):
        raise DomainError(_("You may not retire questions of this bank."), code="forbidden", status=403)
    _move(question, QuestionStatus.RETIRED)
    question.updated_at = now
    db.session.flush()


def restore(actor, question: Question, now: datetime) -> None:
    """A retired question goes back to review (not straight into the pool)."""
    if not can(actor, "bank.manage", question.bank):
        raise DomainError(_("You may not restore questions of this bank."), code="forbidden", status=403)
    if question.status != QuestionStatus.RETIRED:
        raise DomainError(_("Only a retired question can be restored."), code="bad_transition")
    _move(question, QuestionStatus.IN_REVIEW)
    question.updated_at = question.submitted_at = now
    db.session.flush()


def record_exposure(papers_per_question: dict[int, int], now: datetime) -> None:
    """Count the papers that now use each question (question id -> how many new papers, negative when papers are
    discarded); for the exam engine."""
    if not papers_per_question:
        return
    for q in db.session.scalars(select(Question).where(Question.id.in_(papers_per_question))):
        q.exposure_count = max(0, (q.exposure_count or 0) + papers_per_question[q.id])
        if papers_per_question[q.id] > 0:
            q.last_used_at = now


# ---------------------------------------------------------------- bulk actions


@dataclass
class BulkResult:
    changed: int = 0
    refused: list[str] = field(default_factory=list)


def bulk_update(actor, questions: list[Question], action: str, now: datetime, **kwargs) -> BulkResult:
    """Move, tag, set difficulty or retire many questions; each question the rules refuse is reported, not fatal."""
    result = BulkResult()
    tag_cache: dict[str, Tag] = {}
    for q in questions:
        if not can(actor, "bank.manage", q.bank):
            result.refused.append(_("Question %(id)d: not in a bank you manage.", id=q.id))
            continue
        try:
            if action == "move":
                category = kwargs["category"]
                if category is not None and category.bank_id != q.bank_id:
                    raise DomainError(_("The category belongs to another bank."))
                q.category = category
            elif action == "tag":
                q.tags = get_tags([t.name for t in q.tags] + list(kwargs["tags"]), tag_cache)
            elif action == "difficulty":
                q.difficulty = _check_difficulty(kwargs["difficulty"])
            elif action == "retire":
                retire(actor, q, now)
            else:
                raise DomainError(_("Unknown action."))
        except DomainError as exc:
            result.refused.append(_("Question %(id)d: %(msg)s", id=q.id, msg=exc.message))
            continue
        q.updated_at = now
        result.changed += 1
    db.session.flush()
    return result


# ---------------------------------------------------------------- duplicates and history


class DuplicateIndex:
    """Finds likely duplicates among known stems: the same fingerprint, or a very similar one (difflib ratio)."""

    THRESHOLD = 0.85
    _AFFIX = 6
    #: Stems that begin or end alike are common ("下列关于…", "…说法正确的是"): compare with at most this many
    #: per bucket (the latest), so a large import stays linear.
    MAX_COMPARISONS = 60

    def __init__(self, entries=()):
        self._exact: dict[str, list[int]] = {}
        self._buckets: dict[str, list[tuple[int, str]]] = {}
        for ident, fp in entries:
            self.add(ident, fp)

    def add(self, ident: int, fp: str) -> None:
        if not fp:
            return
        self._exact.setdefault(fp, []).append(ident)
        for key in {"<" + fp[: self._AFFIX], ">" + fp[-self._AFFIX :]}:
            self._buckets.setdefault(key, []).append((ident, fp))

    def match(self, fp: str) -> list[int]:
        if not fp:
            return []
        found = list(self._exact.get(fp, []))
        for key in {"<" + fp[: self._AFFIX], ">" + fp[-self._AFFIX :]}:
            for ident, other in self._buckets.get(key, [])[-self.MAX_COMPARISONS :]:
                if ident in found or other == fp:
                    continue
                matcher = difflib.SequenceMatcher(None, fp, other, autojunk=False)
                if (
                    matcher.real_quick_ratio() >= self.THRESHOLD
                    and matcher.quick_ratio() >= self.THRESHOLD
                    and matcher.ratio() >= self.THRESHOLD
                ):
                    found.append(ident)
        return found


def likely_duplicates(bank: Bank, stem_html: str, exclude_id: int | None = None) -> list[Question]:
    """Questions of the bank whose stem is the same or nearly the same (a warning, never a refusal)."""
    fp = fingerprint(to_text(sanitize(stem_html)))
    if len(fp) < 4:
        return []
    affix = DuplicateIndex._AFFIX
    rows = db.session.execute(
        select(Question.id, Question.fingerprint).where(
            Question.bank_id == bank.id,
            Question.status != QuestionStatus.RETIRED,
            or_(
                Question.fingerprint == fp,
                Question.fingerprint.startswith(fp[:affix], autoescape=True),
                Question.fingerprint.endswith(fp[-affix:], autoescape=True),
            ),
        )
    ).all()
    ids = DuplicateIndex((i, f) for i, f in rows if i != exclude_id).match(fp)
    return [db.session.get(Question, i) for i in ids[:5]]


def version_diff(old: QuestionVersion | None, new: QuestionVersion) -> list[dict]:
    """What changed between two versions, field by field, as unified-diff lines of plain text."""
    qtype = QUESTION_TYPES[new.question.type]

    def fields(v: QuestionVersion | None) -> dict[str, str]:
        if v is None:
            return {}
        answer = qtype.key_to_text(v.answer) if v.answer is not None else ""
        if new.question.type == "essay" and isinstance(v.answer, dict):
            answer += "\n" + "\n".join(v.answer.get("scoring_points", []))
        return {
            "stem": to_text(v.stem),
            "options": "\n".join(f"{chr(65 + i)}. {to_text(o)}" for i, o in enumerate(v.options or [])),
            "answer": answer,
            "points": f"{float(v.points):g}",
            "explanation": to_text(v.explanation or ""),
            "reference": v.reference or "",
        }

    before, after = fields(old), fields(new)
    changes = []
    for name in ("stem", "options", "answer", "points", "explanation", "reference"):
        a, b = before.get(name, ""), after.get(name, "")
        if a != b:
            lines = list(difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=1))[2:]
            changes.append({"field": name, "lines": lines})
    return changes
