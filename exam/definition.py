"""Defining exams and changing them through their lifecycle: draft → published → open → closed → released.

What may change when:
- a draft: everything;
- published, before anyone has started: the settings, not the paper (sections, drawing rules, fixed questions,
  points, paper mode, shuffling), because the prepared papers were drawn from it; withdrawing the exam to draft
  (which discards the unused papers) makes the paper editable again;
- from the first start on: only what no candidate's sitting is judged by (`SAFE_AFTER_START`: a later close,
  the release and review policies, the access code, who may sit it), each change audited with old and new values;
- once results are released: nothing.

Functions take `now`, flush and never commit, like every service.
"""

import re
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import delete, false, func, select, update

from accounts.models import PoliticalStatus, Rank, Unit
from core import audit, events
from core.errors import DomainError
from core.extensions import db
from exam.attempts import access_code_hash, available_until, finalize_overdue
from exam.models import (
    Attempt,
    AttemptStatus,
    Exam,
    ExamSection,
    ExamStatus,
    FixedItem,
    Paper,
    PaperItem,
    PaperMode,
    Phase,
    ReleasePolicy,
    ReviewPolicy,
    SectionRule,
)
from exam.papers import rule_pool
from question_bank.models import Bank, Category, Question, QuestionStatus, QuestionUsage, QuestionVersion
from question_bank.services import record_exposure
from question_bank.types import QUESTION_TYPES

#: The exam's own settings, in the order the form and the file show them.
SETTINGS = ("title", "subject", "instructions", "paper_mode", "duration_minutes", "opens_at", "closes_at",
            "attempts_allowed", "pass_mark", "shuffle_questions", "shuffle_options", "mc_policy", "release_policy",
            "review_policy", "publish_ranking", "focus_loss_limit", "qualification_part",
            "qualification_cycle")  # fmt: skip
#: Settings the prepared papers depend on: a published exam must go back to draft to change them.
PAPER_SETTINGS = frozenset({"paper_mode", "shuffle_questions", "shuffle_options"})
#: Settings that may change after the first start (with an audit entry); the close only to a later time.
SAFE_AFTER_START = frozenset({"closes_at", "release_policy", "review_policy", "publish_ranking"})
MC_POLICIES = ("all_or_nothing", "partial")
CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
MAX_DURATION_MINUTES = 24 * 60
MAX_ATTEMPTS = 20
MAX_FOCUS_LOSS_LIMIT = 100
QUALIFICATION_PARTS = ("political_theory", "job_knowledge")
#: The bank subject (question_bank.models.Bank.subject, free text) of each part of the qualification.
PART_SUBJECTS = {"political_theory": "政治理论", "job_knowledge": "岗位知识"}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def settings_problems(values: dict) -> list[tuple[str, str]]:
    """(setting, what is wrong) for every setting that breaks a rule; empty when all are fine."""
    problems = []

    def check(name, ok, message):
        if not ok:
            problems.append((name, message))

    title, subject = values.get("title"), values.get("subject")
    check("title", isinstance(title, str) and 0 < len(title.strip()) <= 200, _("Give a title of up to 200 characters."))
    check("subject", isinstance(subject, str) and 0 < len(subject.strip()) <= 50,
          _("Give a subject of up to 50 characters."))  # fmt: skip
    instructions = values.get("instructions") or ""
    check("instructions", isinstance(instructions, str) and len(instructions) <= 20000,
          _("The instructions are at most 20,000 characters."))  # fmt: skip
    check("paper_mode", values.get("paper_mode") in set(PaperMode), _("Choose how the paper is made."))
    duration = values.get("duration_minutes")
    check("duration_minutes", _is_int(duration) and 0 < duration <= MAX_DURATION_MINUTES,
          _("The duration is 1 to %(n)d minutes.", n=MAX_DURATION_MINUTES))  # fmt: skip
    opens, closes = values.get("opens_at"), values.get("closes_at")
    aware = all(isinstance(t, datetime) and t.tzinfo is not None for t in (opens, closes))
    check("opens_at", aware, _("Give the opening and the close as a date and time."))
    if aware:
        check("closes_at", closes > opens, _("The exam must close after it opens."))
    attempts = values.get("attempts_allowed")
    check("attempts_allowed", _is_int(attempts) and 1 <= attempts <= MAX_ATTEMPTS,
          _("Attempts allowed: 1 to %(n)d.", n=MAX_ATTEMPTS))  # fmt: skip
    pass_mark = values.get("pass_mark")
    check("pass_mark", _is_number(pass_mark) and 0 <= pass_mark <= 10000, _("The pass mark is a number of points."))
    for name in ("shuffle_questions", "shuffle_options", "publish_ranking"):
        check(name, isinstance(values.get(name), bool), _("Yes or no."))
    check("mc_policy", values.get("mc_policy") in MC_POLICIES, _("Choose how multiple choice is scored."))
    check("release_policy", values.get("release_policy") in set(ReleasePolicy), _("Choose when results are released."))
    check("review_policy", values.get("review_policy") in set(ReviewPolicy), _("Choose what candidates may review."))
    limit = values.get("focus_loss_limit")
    check("focus_loss_limit", limit is None or _is_int(limit) and 1 <= limit <= MAX_FOCUS_LOSS_LIMIT,
          _("The focus-loss limit is off or 1 to %(n)d.", n=MAX_FOCUS_LOSS_LIMIT))  # fmt: skip
    part, cycle = values.get("qualification_part"), values.get("qualification_cycle")
    check("qualification_part", part is None or part in QUALIFICATION_PARTS, _("Choose a part of the qualification."))
    check("qualification_cycle", cycle is None or isinstance(cycle, str) and 0 < len(cycle) <= 32,
          _("The cycle is up to 32 characters."))  # fmt: skip
    check("qualification_cycle", (part is None) == (cycle is None),
          _("A qualification exam needs both its part and its cycle."))  # fmt: skip
    return problems


def _refuse(problems: list[tuple[str, str]]) -> None:
    if problems:
        raise DomainError(" ".join(message for _field, message in problems), code="bad_settings", problems=problems)


def _value(exam: Exam, name: str):
    value = getattr(exam, name)
    return float(value) if name == "pass_mark" else value


def lock_problems(exam: Exam, values: dict, now: datetime) -> list[tuple[str, str]]:
    """What the exam's stage in its lifecycle forbids of these new settings."""
    changed = {name for name, value in values.items() if _value(exam, name) != value}
    if not changed:
        return []
    if exam.status == ExamStatus.RELEASED:
        return [(name, _("The results are released: the exam can no longer change.")) for name in sorted(changed)]
    problems = []
    if exam.first_started_at is not None:
        for name in sorted(changed - SAFE_AFTER_START):
            problems.append((name, _("Candidates have started: this can no longer change.")))
        if "closes_at" in changed:
            if values["closes_at"] < exam.closes_at:
                problems.append(("closes_at", _("After the first start the close can only move later.")))
            elif now >= exam.closes_at:
                problems.append(("closes_at", _("The exam has closed; its close can no longer move.")))
    elif exam.status == ExamStatus.PUBLISHED:
        for name in sorted(changed & PAPER_SETTINGS):
            problems.append((name, _("The papers are drawn: withdraw the exam to draft to change this.")))
    return problems


def locked_settings(exam: Exam) -> frozenset[str]:
    """Settings the form shows read-only at the exam's stage (lock_problems has the full rules)."""
    if exam.status == ExamStatus.RELEASED:
        return frozenset(SETTINGS)
    if exam.first_started_at is not None:
        return frozenset(SETTINGS) - SAFE_AFTER_START
    if exam.status == ExamStatus.PUBLISHED:
        return PAPER_SETTINGS
    return frozenset()


def clean_settings(values: dict) -> dict:
    """The settings as the rules read them: stripped text, empty qualification fields as none, defaults for
    settings a file may lack."""
    values = {name: values.get(name) for name in SETTINGS}
    for name in ("title", "subject"):
        if isinstance(values[name], str):
            values[name] = values[name].strip()
    values["instructions"] = values["instructions"] or ""
    if values["publish_ranking"] is None:  # files written before the setting existed
        values["publish_ranking"] = False
    for name in ("qualification_part", "qualification_cycle"):  # empty means none
        if isinstance(values[name], str):
            values[name] = values[name].strip() or None
    if _is_int(values["pass_mark"]):
        values["pass_mark"] = float(values["pass_mark"])
    return values


def _audit_value(value):
    return value.isoformat() if isinstance(value, datetime | date) else value


def create_exam(actor, code: str, values: dict, now: datetime, action: str = "exam.created") -> Exam:
    """A new draft exam with these settings (sections, rules and eligibility come after)."""
    code = (code or "").strip()
    if not CODE_PATTERN.fullmatch(code):
        raise DomainError(_("The code is 1 to 32 letters, digits, - or _."), code="bad_code")
    if db.session.scalar(select(Exam.id).where(Exam.code == code)):
        raise DomainError(_("An exam with code %(c)s exists already.", c=code), code="code_taken")
    values = clean_settings(values)
    _refuse(settings_problems(values))
    exam = Exam(code=code, status=ExamStatus.DRAFT, eligibility={}, created_by_id=getattr(actor, "id", None),
                created_at=now, **values)  # fmt: skip
    db.session.add(exam)
    db.session.flush()
    audit.record(action, actor=actor, target=f"exam:{code}", at=now)
    return exam


def update_settings(actor, exam: Exam, values: dict, now: datetime) -> list[str]:
    """Change an exam's settings as far as its stage allows (all or nothing); returns the names changed.

    A later close also gives more time to attempts in progress whose deadline the old close had cut short:
    available time is min(duration + extra time, close − start), and the close is part of that rule."""
    exam = lock(exam)
    values = clean_settings({**{name: _value(exam, name) for name in SETTINGS}, **values})
    _refuse(settings_problems(values) + lock_problems(exam, values, now))
    changed = {name: (_value(exam, name), value) for name, value in values.items() if _value(exam, name) != value}
    if not changed:
        return []
    if exam.sections and "pass_mark" in changed and values["pass_mark"] > exam.total_points:
        _refuse([("pass_mark", _("The pass mark is higher than the total points."))])
    old_close = exam.closes_at
    for name, (_old, new) in changed.items():
        setattr(exam, name, new)
    detail = {name: [_audit_value(old), _audit_value(new)] for name, (old, new) in changed.items()}
    if "closes_at" in changed and exam.closes_at > old_close:
        detail["deadlines_extended"] = _extend_capped_deadlines(exam, old_close)
    audit.record("exam.settings", actor=actor, target=f"exam:{exam.code}", detail=detail, at=now)
    db.session.flush()
    return sorted(changed)


def _extend_capped_deadlines(exam: Exam, old_close: datetime) -> int:
    """Move the deadline of running attempts the old close had cut short to what the rule now gives them (with the
    extra time each had at its start); returns how many moved."""
    capped = db.session.scalars(
        select(Attempt).where(
            Attempt.exam_id == exam.id,
            Attempt.status == AttemptStatus.IN_PROGRESS,
            Attempt.deadline_at >= old_close,
        )
    ).all()
    moved = 0
    for attempt in capped:
        entitled = available_until(exam, attempt.started_at, attempt.extra_minutes)
        if entitled > attempt.deadline_at:
            attempt.deadline_at, moved = entitled, moved + 1
    return moved


def lock(exam: Exam) -> Exam:
    """The exam row again, locked until the transaction ends (PostgreSQL: FOR UPDATE; SQLite: the database's write
    lock, taken now, so that what is read after it cannot change before the writes: a withdrawal counts the papers
    it discards while no batch of drawn papers can commit): a first start, which marks the row, happens wholly
    before or after a change made under this lock."""
    if db.session.get_bind().dialect.name != "postgresql":
        exams = Exam.__table__  # Core: a statement that changes nothing, for the lock alone
        db.session.execute(update(exams).where(exams.c.id == exam.id, false()).values(id=exams.c.id))
    return db.session.scalar(
        select(Exam).where(Exam.id == exam.id).with_for_update().execution_options(populate_existing=True)
    )


def set_access_code(actor, exam: Exam, code: str | None, now: datetime) -> None:
    """Require a code at the start (announced in the room), or none (`code` empty). Only its HMAC is kept."""
    if exam.status == ExamStatus.RELEASED or exam.phase(now) == Phase.CLOSED:
        raise DomainError(_("The exam has closed; its access code can no longer change."), code="locked")
    code = (code or "").strip()
    if code and not 4 <= len(code) <= 32:
        raise DomainError(_("An access code is 4 to 32 characters."), code="bad_access_code")
    exam.access_code_hash = access_code_hash(exam, code) if code else None
    audit.record("exam.access_code", actor=actor, target=f"exam:{exam.code}", detail={"set": bool(code)}, at=now)
    db.session.flush()


# ---------------------------------------------------------------- eligibility rules


def eligibility_problems(rules: dict) -> list[tuple[str, str]]:
    problems = []
    unit_ids = rules.get("unit_ids") or []
    if not all(_is_int(u) for u in unit_ids) or (
        unit_ids and db.session.scalar(select(func.count(Unit.id)).where(Unit.id.in_(unit_ids))) != len(set(unit_ids))
    ):
        problems.append(("unit_ids", _("Unknown unit.")))
    if not set(rules.get("ranks") or []) <= set(Rank):
        problems.append(("ranks", _("Unknown rank.")))
    if not set(rules.get("political_statuses") or []) <= set(PoliticalStatus):
        problems.append(("political_statuses", _("Unknown political status.")))
    max_age, age_on = rules.get("max_age"), rules.get("age_on")
    if max_age is not None and not (_is_int(max_age) and 18 <= max_age <= 70):
        problems.append(("max_age", _("The age limit is 18 to 70 years.")))
    try:
        age_day = date.fromisoformat(age_on) if age_on else None
    except (TypeError, ValueError):
        age_day = None
        problems.append(("age_on", _("Give the reference day as a date.")))
    if max_age is not None and age_day is None and not problems:
        problems.append(("age_on", _("An age limit needs the day the age is counted on.")))
    return problems


def set_eligibility(actor, exam: Exam, rules: dict, now: datetime) -> int:
    """Say who may sit the exam, by rules over cadre profiles (an empty rule means any). A published exam draws
    papers for the people the new rules add: at once when they are few, else by the job exam.prepare-papers
    (exam.jobs.prepare_soon); returns how many papers were drawn at once."""
    exam = lock(exam)
    if exam.status == ExamStatus.RELEASED:
        raise DomainError(_("The results are released: the exam can no longer change."), code="locked")
    rules = {
        "unit_ids": sorted(set(rules.get("unit_ids") or [])),
        "ranks": sorted(set(rules.get("ranks") or [])),
        "political_statuses": sorted(set(rules.get("political_statuses") or [])),
        "max_age": rules.get("max_age"),
        "age_on": rules.get("age_on") or None,
    }
    _refuse(eligibility_problems(rules))
    old = exam.eligibility or {}
    exam.eligibility = rules
    audit.record("exam.eligibility", actor=actor, target=f"exam:{exam.code}", detail={"old": old, "new": rules},
                 at=now)  # fmt: skip
    db.session.flush()
    from exam.jobs import prepare_soon  # the job builds on this module's neighbours: imported on use

    return prepare_soon(actor, exam, now)  # none once closed; many are left to the job


# ---------------------------------------------------------------- the paper: sections, rules, fixed questions


def _paper_editable(exam: Exam) -> None:
    if exam.status == ExamStatus.DRAFT:
        return
    if exam.status == ExamStatus.PUBLISHED and exam.first_started_at is None:
        raise DomainError(_("The papers are drawn: withdraw the exam to draft to change its paper."), code="locked")
    raise DomainError(_("Candidates have started: the paper can no longer change."), code="locked")


def section_values(qtype: str, title: str, points) -> tuple[str, str, float]:
    """A section's type, title and points, checked (DomainError names what is wrong)."""
    title = (title or "").strip()
    if qtype not in QUESTION_TYPES:
        raise DomainError(_("Unknown question type."), code="bad_section")
    if not 0 < len(title) <= 100:
        raise DomainError(_("Give the section a title of up to 100 characters."), code="bad_section")
    if not (_is_number(points) and 0 < points <= 1000):
        raise DomainError(_("Points per question: more than 0, at most 1000."), code="bad_section")
    return qtype, title, float(points)


def add_section(actor, exam: Exam, title: str, qtype: str, points, now: datetime) -> ExamSection:
    _paper_editable(exam)
    qtype, title, points = section_values(qtype, title, points)
    section = ExamSection(position=len(exam.sections) + 1, title=title, qtype=qtype, points_per_question=points)
    exam.sections.append(section)
    db.session.flush()
    audit.record("exam.section_added", actor=actor, target=f"exam:{exam.code}", detail={"title": title}, at=now)
    return section


def update_section(actor, section: ExamSection, title: str, qtype: str, points, now: datetime) -> None:
    exam = section.exam
    _paper_editable(exam)
    qtype, title, points = section_values(qtype, title, points)
    if qtype != section.qtype and section.fixed_items:
        raise DomainError(_("Remove the section's questions before changing its type."), code="bad_section")
    section.title, section.qtype, section.points_per_question = title, qtype, points
    audit.record("exam.section_changed", actor=actor, target=f"exam:{exam.code}",
                 detail={"section": section.id, "title": title, "qtype": qtype, "points": points}, at=now)  # fmt: skip
    db.session.flush()


def _renumber(rows: list, start: int = 1) -> None:
    """Give rows positions start, start+1, … without ever breaking the unique (parent, position) constraint."""
    for row in rows:
        row.position = -row.position - 1000  # out of the way first
    db.session.flush()
    for i, row in enumerate(rows, start=start):
        row.position = i
    db.session.flush()


def remove_section(actor, section: ExamSection, now: datetime) -> None:
    exam = section.exam
    _paper_editable(exam)
    exam.sections.remove(section)
    db.session.flush()
    _renumber(list(exam.sections))
    audit.record("exam.section_removed", actor=actor, target=f"exam:{exam.code}", detail={"title": section.title},
                 at=now)  # fmt: skip


def _move(rows: list, row, step: int) -> None:
    i = rows.index(row)
    j = max(0, min(len(rows) - 1, i + step))
    if i != j:
        rows.insert(j, rows.pop(i))
        _renumber(rows)


def move_section(actor, section: ExamSection, step: int, now: datetime) -> None:
    """Move a section up (step -1) or down (+1) in the paper."""
    exam = section.exam
    _paper_editable(exam)
    rows = sorted(exam.sections, key=lambda s: s.position)
    _move(rows, section, step)
    db.session.expire(exam, ["sections"])


def rule_values(bank: Bank | None, category: Category | None, tag, low, high, count) -> dict:
    """A drawing rule's fields, checked (DomainError names what is wrong)."""
    if bank is None:
        raise DomainError(_("Choose a question bank."), code="bad_rule")
    if category is not None and category.bank_id != bank.id:
        raise DomainError(_("The category “%(c)s” belongs to another bank, not to “%(b)s”: choose one of that "
                            "bank's categories.", c=category.name, b=bank.name), code="bad_rule")  # fmt: skip
    if not (_is_int(low) and _is_int(high) and 1 <= low <= high <= 5):
        raise DomainError(_("The difficulty is a range within 1 to 5."), code="bad_rule")
    if not (_is_int(count) and 0 < count <= 500):
        raise DomainError(_("A rule draws 1 to 500 questions."), code="bad_rule")
    if tag is not None and not isinstance(tag, str):
        raise DomainError(_("A knowledge point is a text."), code="bad_rule")
    tag = (tag or "").strip() or None
    if tag and len(tag) > 50:
        raise DomainError(_("A knowledge point is at most 50 characters."), code="bad_rule")
    return {"bank": bank, "category": category, "tag": tag, "difficulty_min": low, "difficulty_max": high,
            "count": count}  # fmt: skip


def default_bank(exam: Exam, banks: list[Bank]) -> Bank | None:
    """The bank a new drawing rule of the exam proposes, among `banks` (in their order): the first of the exam's
    subject, else of its qualification part's subject, else the first."""
    for subject in ((exam.subject or "").strip(), PART_SUBJECTS.get(exam.qualification_part or "")):
        found = next((b for b in banks if subject and b.subject.strip() == subject), None)
        if found is not None:
            return found
    return banks[0] if banks else None


def add_rule(actor, section: ExamSection, now: datetime, *, bank, category=None, tag=None, low=1, high=5,
             count=1) -> SectionRule:  # fmt: skip
    """Draw `count` active questions of the section's type from a bank (a category subtree, a knowledge point and
    a difficulty range narrow it)."""
    exam = section.exam
    _paper_editable(exam)
    if exam.paper_mode != PaperMode.DRAWN:
        raise DomainError(_("A fixed paper has chosen questions, not drawing rules."), code="bad_rule")
    rule = SectionRule(**rule_values(bank, category, tag, low, high, count))
    section.rules.append(rule)
    db.session.flush()
    audit.record("exam.rule_added", actor=actor, target=f"exam:{exam.code}",
                 detail={"section": section.id, "bank": bank.code, "count": count}, at=now)  # fmt: skip
    return rule


def remove_rule(actor, rule: SectionRule, now: datetime) -> None:
    exam = rule.section.exam
    _paper_editable(exam)
    rule.section.rules.remove(rule)
    audit.record("exam.rule_removed", actor=actor, target=f"exam:{exam.code}", detail={"rule": rule.id}, at=now)
    db.session.flush()


def rule_pool_size(rule: SectionRule) -> int:
    """How many active questions the rule could draw from now (before other rules of its section take theirs)."""
    return len(rule_pool(rule, rule.section.qtype))


def add_fixed_questions(actor, section: ExamSection, question_ids: list[int], now: datetime) -> int:
    """Put the current versions of active questions of the section's type at the end of a fixed section.
    All or nothing: every question that cannot be added is named. Returns how many were added."""
    exam = section.exam
    _paper_editable(exam)
    if exam.paper_mode != PaperMode.FIXED:
        raise DomainError(_("A drawn paper has rules, not chosen questions."), code="bad_item")
    wanted = list(dict.fromkeys(question_ids))
    questions = {q.id: q for q in db.session.scalars(select(Question).where(Question.id.in_(wanted)))}
    in_exam = set(
        db.session.scalars(
            select(QuestionVersion.question_id)
            .join(FixedItem, FixedItem.question_version_id == QuestionVersion.id)
            .join(ExamSection, FixedItem.section_id == ExamSection.id)
            .where(ExamSection.exam_id == exam.id)
        )
    )
    problems = []
    for qid in wanted:
        q = questions.get(qid)
        if q is None:
            problems.append(_("Question %(id)d does not exist.", id=qid))
        elif q.status != QuestionStatus.ACTIVE:
            problems.append(_("Question %(id)d is not active.", id=qid))
        elif q.type != section.qtype:
            problems.append(_("Question %(id)d is not of this section's type.", id=qid))
        elif q.usage == QuestionUsage.PRACTICE:
            problems.append(_("Question %(id)d is for practice only.", id=qid))
        elif qid in in_exam:
            problems.append(_("Question %(id)d is in the paper already.", id=qid))
    if problems:
        raise DomainError(" ".join(problems), code="bad_item")
    start = len(section.fixed_items)
    for i, qid in enumerate(wanted, start=start + 1):
        section.fixed_items.append(FixedItem(position=i, question_version_id=questions[qid].current_version_id))
    db.session.flush()
    audit.record("exam.questions_added", actor=actor, target=f"exam:{exam.code}",
                 detail={"section": section.id, "questions": wanted}, at=now)  # fmt: skip
    return len(wanted)


def remove_fixed_item(actor, item: FixedItem, now: datetime) -> None:
    section = item.section
    _paper_editable(section.exam)
    section.fixed_items.remove(item)
    db.session.flush()
    _renumber(list(section.fixed_items))
    audit.record("exam.question_removed", actor=actor, target=f"exam:{section.exam.code}",
                 detail={"section": section.id, "version": item.question_version_id}, at=now)  # fmt: skip


def move_fixed_item(actor, item: FixedItem, step: int, now: datetime) -> None:
    section = item.section
    _paper_editable(section.exam)
    _move(sorted(section.fixed_items, key=lambda i: i.position), item, step)
    db.session.expire(section, ["fixed_items"])


# ---------------------------------------------------------------- lifecycle


def withdraw(actor, exam: Exam, now: datetime) -> int:
    """Take a published exam back to draft before anyone has started; its prepared papers are discarded (and the
    questions' exposure counts with them). Returns how many papers were discarded."""
    exam = lock(exam)
    started = db.session.scalar(select(func.count(Attempt.id)).where(Attempt.exam_id == exam.id))
    if exam.status != ExamStatus.PUBLISHED or exam.first_started_at is not None or started:
        raise DomainError(_("Only a published exam that nobody has started can go back to draft."),
                          code="bad_transition")  # fmt: skip
    rows = db.session.execute(
        select(QuestionVersion.question_id, func.count())
        .join(PaperItem, PaperItem.question_version_id == QuestionVersion.id)
        .join(Paper, PaperItem.paper_id == Paper.id)
        .where(Paper.exam_id == exam.id)
        .group_by(QuestionVersion.question_id)
    ).all()
    record_exposure({qid: -n for qid, n in rows}, now)
    paper_ids = set(db.session.scalars(select(Paper.id).where(Paper.exam_id == exam.id)))
    mine = select(Paper.id).where(Paper.exam_id == exam.id)
    no_sync = {"synchronize_session": False}  # a paper per candidate, a hundred items each: in bulk, in SQL
    db.session.execute(delete(PaperItem).where(PaperItem.paper_id.in_(mine)), execution_options=no_sync)
    papers = db.session.execute(delete(Paper).where(Paper.exam_id == exam.id), execution_options=no_sync).rowcount
    for obj in list(db.session.identity_map.values()):  # what the session still holds of them is gone too
        paper_id = obj.id if isinstance(obj, Paper) else obj.paper_id if isinstance(obj, PaperItem) else None
        if paper_id in paper_ids and obj in db.session:  # (expunging a paper takes its loaded items with it)
            db.session.expunge(obj)
    exam.status, exam.published_at = ExamStatus.DRAFT, None
    audit.record("exam.withdrawn", actor=actor, target=f"exam:{exam.code}", detail={"papers": papers}, at=now)
    db.session.flush()
    return papers


#: Checks a package above exam registers on the release by hand: `check(exam)` raises a DomainError to refuse it
#: (results.lifecycle: an official exam's results are released by its public notice, never by hand).
_release_checks: list = []


def register_release_check(check) -> None:
    if check not in _release_checks:
        _release_checks.append(check)


def release_refused(exam: Exam) -> str | None:
    """Why a registered check refuses the release by hand (the page then offers no button), or None."""
    for check in _release_checks:
        try:
            check(exam)
        except DomainError as exc:
            return str(exc.message)
    return None


def release_results(actor, exam: Exam, now: datetime) -> int:
    """Release the results by hand once the window has closed: overdue attempts are finalized first, and nothing
    is released while written answers still wait for a grader. Returns how many attempts were released."""
    for check in _release_checks:
        check(exam)
    if exam.phase(now) != Phase.CLOSED:
        raise DomainError(_("Results can be released once the exam has closed."), code="bad_transition")
    finalize_overdue(now, exam)
    running = db.session.scalar(
        select(func.count(Attempt.id)).where(Attempt.exam_id == exam.id, Attempt.status == AttemptStatus.IN_PROGRESS)
    )
    if running:  # within the network grace after the close: a last save may still arrive
        raise DomainError(_("Some attempts are still being finished; try again in a minute."), code="not_finished")
    waiting = db.session.scalar(
        select(func.count(Attempt.id)).where(Attempt.exam_id == exam.id, Attempt.fully_graded.is_(False))
    )
    if waiting:
        raise DomainError(_("%(n)d attempts still wait for manual grading.", n=waiting), code="not_graded")
    exam.status, exam.released_at = ExamStatus.RELEASED, now
    released = db.session.scalar(select(func.count(Attempt.id)).where(Attempt.exam_id == exam.id))
    audit.record("exam.released", actor=actor, target=f"exam:{exam.code}", detail={"attempts": released}, at=now)
    db.session.flush()
    events.result_released.send(exam, actor=actor, now=now, attempts=released)
    return released
