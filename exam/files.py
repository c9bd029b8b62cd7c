"""Exams as JSON files (format: docs/exam-file.md): export a definition, import it as a new draft.

Units, banks and categories are named by code and path, not by database id, so a file travels between installs.
"""

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import Unit
from core.errors import DomainError
from core.extensions import db
from exam import definition
from exam.models import Exam, ExamSection, FixedItem, PaperMode, SectionRule
from question_bank.models import Bank, Category, QuestionStatus, QuestionVersion
from question_bank.services import category_path_names, split_category_path

FORMAT, VERSION = "qualexam-exam", 1
_SCALARS = tuple(name for name in definition.SETTINGS if name not in ("opens_at", "closes_at"))


def export_exam(exam: Exam) -> dict:
    rules = exam.eligibility or {}
    units = db.session.scalars(select(Unit.code).where(Unit.id.in_(rules.get("unit_ids") or [])))
    data = {"format": FORMAT, "version": VERSION, "code": exam.code}
    data.update({name: getattr(exam, name) for name in _SCALARS})
    data["opens_at"], data["closes_at"] = exam.opens_at.isoformat(), exam.closes_at.isoformat()
    data["eligibility"] = {
        "units": sorted(units),
        "ranks": rules.get("ranks", []),
        "political_statuses": rules.get("political_statuses", []),
        "max_age": rules.get("max_age"),
        "age_on": rules.get("age_on"),
    }
    data["sections"] = []
    for s in exam.sections:
        section = {"title": s.title, "qtype": s.qtype, "points_per_question": float(s.points_per_question)}
        if exam.paper_mode == PaperMode.FIXED:
            section["questions"] = [
                {"bank": i.version.question.bank.code, "question": i.version.question_id, "version": i.version.number}
                for i in s.fixed_items
            ]
        else:
            section["rules"] = [
                {"bank": r.bank.code, "category": category_path_names(r.category) if r.category else None,
                 "tag": r.tag, "difficulty": [r.difficulty_min, r.difficulty_max], "count": r.count}
                for r in s.rules
            ]  # fmt: skip
        data["sections"].append(section)
    return data


def _problem(where: str, message: str) -> DomainError:
    """A refusal naming the place in the file as a JSON Pointer (RFC 6901, 0-based: "/sections/1/rules/0/bank")."""
    return DomainError(f"{where or '/'}: {message}", code="bad_exam_file")


def _get(data: dict, key: str, kind, where: str, required: bool = True):
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise _problem(f"{where}/{key}", _("missing or of the wrong kind"))
    return value


def import_exam(actor, data: dict, now: datetime, code: str | None = None) -> Exam:
    """A new draft exam from a file's data; every problem names the place in the file."""
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
        raise _problem("/format", _("not a QualExam exam file of version %(v)d", v=VERSION))
    code = code or _get(data, "code", str, "")
    if db.session.scalar(select(Exam.id).where(Exam.code == code)):
        raise _problem("/code", _("an exam with code %(c)s exists already", c=code))
    values = {name: data.get(name) for name in _SCALARS}
    for name in ("opens_at", "closes_at"):
        try:
            values[name] = datetime.fromisoformat(_get(data, name, str, ""))
        except ValueError as exc:
            raise _problem(f"/{name}", _("not a date and time")) from exc
    values = definition.clean_settings(values)  # e.g. a file from before a setting existed gets its default
    problems = definition.settings_problems(values)
    if problems:
        raise DomainError("; ".join(f"/{name}: {message}" for name, message in problems), code="bad_exam_file")
    exam = definition.create_exam(actor, code, values, now, action="exam.imported")
    exam.eligibility = _eligibility(data.get("eligibility") or {})
    for i, raw in enumerate(_get(data, "sections", list, "")):
        exam.sections.append(_section(exam, raw, i))
    db.session.flush()
    return exam


def _eligibility(raw: dict) -> dict:
    units = []
    for i, unit_code in enumerate(raw.get("units") or []):
        unit_id = db.session.scalar(select(Unit.id).where(Unit.code == unit_code))
        if unit_id is None:
            raise _problem(f"/eligibility/units/{i}", _("unknown unit %(c)s", c=unit_code))
        units.append(unit_id)
    rules = {
        "unit_ids": units,
        "ranks": list(raw.get("ranks") or []),
        "political_statuses": list(raw.get("political_statuses") or []),
        "max_age": raw.get("max_age"),
        "age_on": raw.get("age_on"),
    }
    problems = definition.eligibility_problems(rules)
    if problems:
        name = {"unit_ids": "units"}.get(problems[0][0], problems[0][0])
        raise _problem(f"/eligibility/{name}", problems[0][1])
    return rules


def _bank(code, where: str) -> Bank:
    bank = db.session.scalar(select(Bank).where(Bank.code == code))
    if bank is None:
        raise _problem(where, _("unknown bank %(c)s", c=code))
    return bank


def _checked(where: str, check, *args):
    """Run one of exam.definition's checks, naming the place in the file when it refuses."""
    try:
        return check(*args)
    except DomainError as exc:
        raise _problem(where, exc.message) from exc


def _section(exam: Exam, raw, i: int) -> ExamSection:
    """One section of the file (0-based `i`), checked by the same rules as the pages (exam.definition)."""
    where = f"/sections/{i}"
    if not isinstance(raw, dict):
        raise _problem(where, _("missing or of the wrong kind"))
    qtype, title, points = _checked(where, definition.section_values, raw.get("qtype"), raw.get("title"),
                                    raw.get("points_per_question"))  # fmt: skip
    section = ExamSection(position=i + 1, title=title, qtype=qtype, points_per_question=points)
    if exam.paper_mode == PaperMode.FIXED:
        seen = set()
        for j, item in enumerate(_get(raw, "questions", list, where)):
            spot = f"{where}/questions/{j}"
            if not isinstance(item, dict):
                raise _problem(spot, _("missing or of the wrong kind"))
            _bank(item.get("bank"), spot + "/bank")
            version = db.session.scalar(
                select(QuestionVersion).where(
                    QuestionVersion.question_id == item.get("question"), QuestionVersion.number == item.get("version")
                )
            )
            if version is None or version.question.bank.code != item.get("bank") or version.question.type != qtype:
                raise _problem(spot, _("no such question version of this type in that bank"))
            if version.question.status != QuestionStatus.ACTIVE or version.question_id in seen:
                raise _problem(spot, _("the question is not active, or is in the paper twice"))
            seen.add(version.question_id)
            section.fixed_items.append(FixedItem(position=j + 1, question_version_id=version.id))
        return section
    for j, rule in enumerate(_get(raw, "rules", list, where)):
        spot = f"{where}/rules/{j}"
        if not isinstance(rule, dict):
            raise _problem(spot, _("missing or of the wrong kind"))
        bank = _bank(rule.get("bank"), spot + "/bank")
        category = None
        if rule.get("category"):
            parent = None
            for name in split_category_path(str(rule["category"])):
                parent = db.session.scalar(
                    select(Category).where(
                        Category.bank_id == bank.id,
                        Category.name == name,
                        Category.parent_id.is_(None) if parent is None else Category.parent_id == parent.id,
                    )
                )
                if parent is None:
                    raise _problem(spot + "/category", _("unknown category %(c)s", c=rule["category"]))
            category = parent
        difficulty = rule.get("difficulty") or [1, 5]
        low, high = (difficulty + [None, None])[:2] if isinstance(difficulty, list) else (None, None)
        values = _checked(spot, definition.rule_values, bank, category, rule.get("tag"), low, high, rule.get("count"))
        section.rules.append(SectionRule(**values))
    return section
