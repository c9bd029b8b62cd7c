"""Question import and export formats. Parsers turn a file into RawQuestions; `validate` turns those into checked
questions or row/line-level issues; `commit` writes a clean import, all of it or nothing."""

from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core import audit
from core.errors import DomainError
from core.extensions import db
from core.imports import ImportIssue
from core.policy import has_district_scope
from question_bank import services
from question_bank.models import Bank, Question, QuestionStatus, QuestionUsage
from question_bank.richtext import to_text
from question_bank.types import QUESTION_TYPES, BadKey, Content, count_blanks

MAX_QUESTIONS = 20_000
MAX_FILE_BYTES = 50 * 1024 * 1024

#: The names of fields in messages (Chinese: the column headers of the template).
FIELD_LABELS = {
    "type": "题型",
    "stem": "题干",
    "options": "选项",
    "answer": "答案",
    "points": "分值",
    "difficulty": "难度",
    "category": "分类",
    "tags": "知识点",
    "explanation": "解析",
    "reference": "出处",
    "scoring_points": "评分要点",
    "settings": "填空匹配",
    "usage": "用途",
}

#: The words of the 用途 column (a blank cell is 考试和练习); the English names and the stored values are read too.
USAGE_NAMES = {"考试和练习": QuestionUsage.ANY, "仅练习": QuestionUsage.PRACTICE, "仅考试": QuestionUsage.EXAM}
_USAGE_READ = {
    **USAGE_NAMES,
    **{u.value: u for u in QuestionUsage},
    "exams and practice": QuestionUsage.ANY,
    "practice only": QuestionUsage.PRACTICE,
    "exams only": QuestionUsage.EXAM,
}

FORMAT_LABELS = {
    "xlsx": _l("Excel workbook (.xlsx)"),
    "csv": _l("CSV (UTF-8 or GB18030)"),
    "gift": _l("Moodle GIFT"),
    "aiken": _l("Moodle Aiken"),
}
EXTENSIONS = {"xlsx": "xlsx", "csv": "csv", "gift": "txt", "aiken": "txt"}


@dataclass
class RawQuestion:
    """A question as a file says it, before checking. HTML parts are already sanitised."""

    row: int
    is_line: bool = False
    type_name: str = ""
    type: str | None = None
    stem: str = ""
    options: list[str] = field(default_factory=list)
    answer_text: str | None = None  # table formats: the 答案 cell
    answer: object = None  # text formats: the key already in shape
    points: object = None
    difficulty: object = None
    category: str = ""
    tags: list[str] = field(default_factory=list)
    explanation: str = ""
    reference: str = ""
    scoring_points: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    usage: str = ""
    #: field -> column letter, for messages about table rows
    columns: dict[str, str] = field(default_factory=dict)


@dataclass
class ParsedQuestion:
    row: int
    type: str
    content: Content
    difficulty: int
    category: str
    tags: list[str]
    usage: str = QuestionUsage.ANY


@dataclass
class ImportResult:
    questions: list[ParsedQuestion] = field(default_factory=list)
    issues: list[ImportIssue] = field(default_factory=list)
    warnings: list[ImportIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues and bool(self.questions)


def issue(raw: RawQuestion, field_name: str | None, message: str) -> ImportIssue:
    label = FIELD_LABELS.get(field_name) if field_name else None
    column = raw.columns.get(field_name) if field_name else None
    return ImportIssue(raw.row, column, label, message, is_line=raw.is_line)


def validate(raws: list[RawQuestion], result: ImportResult) -> None:
    """Check every raw question; a valid one joins result.questions, each problem joins result.issues."""
    if len(raws) > MAX_QUESTIONS:
        result.issues.append(ImportIssue(None, None, None, _("Too many questions (at most %(n)d).", n=MAX_QUESTIONS)))
        return
    for raw in raws:
        parsed = _validate_one(raw, result)
        if parsed is not None:
            result.questions.append(parsed)


def _validate_one(raw: RawQuestion, result: ImportResult) -> ParsedQuestion | None:
    before = len(result.issues)
    qtype = raw.type
    if qtype is None:
        result.issues.append(issue(raw, "type", _("Unknown question type “%(v)s”.", v=raw.type_name)))
        return None
    kind = QUESTION_TYPES[qtype]
    if raw.options and not kind.has_options:
        result.issues.append(issue(raw, "options", _("This question type takes no options.")))
    answer = raw.answer
    if answer is None:
        try:
            if raw.answer_text is None or str(raw.answer_text).strip() == "" and qtype != "essay":
                raise BadKey(_("The answer is missing."))
            answer = kind.key_from_text(raw.answer_text, len(raw.options), count_blanks(to_text(raw.stem)))
        except BadKey as exc:
            result.issues.append(issue(raw, "answer", str(exc)))
            answer = None
    if qtype == "essay" and isinstance(answer, dict):
        answer["scoring_points"] = list(answer.get("scoring_points") or raw.scoring_points)
    points = kind.default_points
    if raw.points not in (None, ""):
        try:
            points = float(raw.points)
            if points != points:  # NaN
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            result.issues.append(issue(raw, "points", _("“%(v)s” is not a number.", v=raw.points)))
    difficulty = 3
    if raw.difficulty not in (None, ""):
        try:
            difficulty = int(float(raw.difficulty))
            if isinstance(raw.difficulty, bool) or float(raw.difficulty) != difficulty or not 1 <= difficulty <= 5:
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            result.issues.append(issue(raw, "difficulty", _("Difficulty is a whole number from 1 to 5.")))
    usage = _USAGE_READ.get(" ".join(raw.usage.split()).lower()) if raw.usage else QuestionUsage.ANY
    if usage is None:
        message = _("“%(v)s” is not one of: %(allowed)s.", v=raw.usage, allowed="、".join(USAGE_NAMES))
        result.issues.append(issue(raw, "usage", message))
    problem = services.category_path_problem(raw.category)
    if problem:
        result.issues.append(issue(raw, "category", problem))
    if any(len(t) > 50 for t in raw.tags):
        result.issues.append(issue(raw, "tags", _("A knowledge point has at most 50 characters.")))
    content = Content(
        stem=raw.stem,
        options=list(raw.options),
        answer=answer,
        points=points,
        explanation=raw.explanation,
        reference=raw.reference,
        settings=dict(raw.settings),
    )
    if answer is not None:
        for field_name, message in services.content_problems(qtype, content):
            result.issues.append(issue(raw, field_name, message))
    elif not to_text(raw.stem).strip():
        result.issues.append(issue(raw, "stem", _("The stem is empty.")))
    if len(raw.tags) > services.MAX_TAGS:
        result.issues.append(issue(raw, "tags", _("At most %(n)d knowledge points per question.", n=services.MAX_TAGS)))
    if len(result.issues) > before:
        return None
    return ParsedQuestion(raw.row, qtype, content, difficulty, raw.category, list(raw.tags), usage)


def warn_duplicates(bank: Bank | None, result: ImportResult) -> None:
    """Warn of likely duplicates, against the bank and within the file. Warnings do not stop an import."""
    existing = []
    if bank is not None:
        existing = db.session.execute(
            select(Question.id, Question.fingerprint).where(
                Question.bank_id == bank.id, Question.status != QuestionStatus.RETIRED
            )
        ).all()
    index = services.DuplicateIndex(existing)
    rows: dict[int, int] = {}
    for q in result.questions:
        fp = services.fingerprint(to_text(q.content.stem))
        matches = index.match(fp)
        if matches:
            in_bank = [m for m in matches if m > 0]
            in_file = sorted(rows[m] for m in matches if m < 0)
            parts = []
            if in_bank:
                parts.append(_("question %(ids)s of the bank", ids=", ".join(f"#{i}" for i in in_bank[:3])))
            if in_file:
                parts.append(_("row %(rows)s of this file", rows=", ".join(str(r) for r in in_file[:3])))
            message = _("Looks like a duplicate of %(what)s.", what="；".join(parts))
            result.warnings.append(ImportIssue(q.row, None, FIELD_LABELS["stem"], message))
        key = -len(rows) - 1
        rows[key] = q.row
        index.add(key, fp)


def commit(actor, bank: Bank, result: ImportResult, now: datetime, status=QuestionStatus.DRAFT, progress=None) -> int:
    """Create every question of a clean import. Raises before anything is flushed if the import has issues."""
    if not result.ok:
        raise DomainError(_("The file has errors; nothing was imported."), code="import_invalid")
    if status == QuestionStatus.ACTIVE and not has_district_scope(actor):
        # Straight into the pool, past review: only for the organisation department's own trusted banks.
        raise DomainError(_("Only district administrators import questions as active."), code="forbidden", status=403)
    # Categories first: each new one is flushed for its id, which is cheap before the questions are pending.
    categories = {path: services.ensure_category_path(bank, path) for path in {q.category for q in result.questions}}
    tag_cache: dict = {}
    for i, q in enumerate(result.questions, start=1):
        services.create_question(
            actor,
            bank,
            q.type,
            q.content,
            now,
            category=categories[q.category],
            tags=q.tags,
            difficulty=q.difficulty,
            usage=q.usage,
            status=status,
            flush=i % 500 == 0,
            tag_cache=tag_cache,
        )
        if progress:
            progress(1)
    db.session.flush()
    audit.record("questions.imported", actor=actor, target=f"bank:{bank.code}", detail={"count": len(result.questions)})
    return len(result.questions)
