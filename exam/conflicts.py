"""Conflicts of interest (回避): who sits an exam whose pool must stay closed to them, what of the banks, exams and
reports that keeps from them, and the decisions taken before publishing about candidates who hold rights over
the pool.

The rule lives in core.policy (one check for every route); this module answers its domain questions and is
registered with it when the exam package is imported. The window of a person's conflict with an exam runs from
the drawing of the papers (publishing) until their review is allowed (exam.visibility.review_visible): the results
released by hand, or, under a release policy of "at once" or "at the close", the close plus the network grace.
"""

from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import Select, String, and_, cast, exists, false, literal, or_, select, union
from sqlalchemy.orm import selectinload

from accounts.models import Cadre, RoleAssignment, Unit, User
from core import audit, policy
from core.errors import DomainError
from core.extensions import db
from core.i18n import join_list
from core.models import now_utc
from core.policy import Role
from exam import attempts, eligibility, publishing
from exam.models import (
    Attempt,
    Exam,
    ExamCandidate,
    ExamSection,
    ExamStatus,
    FixedItem,
    Paper,
    PaperItem,
    Phase,
    ReleasePolicy,
    SectionRule,
)
from question_bank.models import Bank, Category, Question, QuestionVersion, Tag, question_tags

# ---------------------------------------------------------------- the window


def review_open(exam: Exam, now: datetime) -> bool:
    """Is the review of a finished attempt allowed now (exam.visibility.review_visible, for the exam as a whole)? For
    a candidate who never started, the same moment ends their conflict."""
    if exam.status == ExamStatus.RELEASED:
        return True
    return exam.release_policy != ReleasePolicy.MANUAL and now >= exam.closes_at + attempts.grace()


def review_opens_at(exam: Exam) -> datetime | None:
    """When review_open becomes true on its own (None: only when the results are released by hand)."""
    if exam.status != ExamStatus.RELEASED and exam.release_policy == ReleasePolicy.MANUAL:
        return None
    return exam.closes_at + attempts.grace()


def in_window(exam: Exam, now: datetime) -> bool:
    """Are the exam's candidates in conflict now: papers drawn, review not yet allowed?"""
    return exam.status == ExamStatus.PUBLISHED and not review_open(exam, now)


def _window_exams(now: datetime) -> Select:
    """The exams whose window is open (SQL, the same as in_window)."""
    return select(Exam).where(
        Exam.status == ExamStatus.PUBLISHED,
        or_(Exam.release_policy == ReleasePolicy.MANUAL, Exam.closes_at > now - attempts.grace()),
    )


# ---------------------------------------------------------------- the pool


def pool_condition(exams: list[Exam]):
    """SQL condition over Question: the question can be on a paper of one of `exams`, by a fixed item or by a
    rule. A rule covers its bank, question type, category subtree and tag whatever the questions' status and
    difficulty today: a draft can be approved, and a difficulty changed, before a retake's paper is drawn."""
    exam_ids = [e.id for e in exams]
    if not exam_ids:
        return false()
    fixed = (
        select(QuestionVersion.question_id)
        .join(FixedItem, FixedItem.question_version_id == QuestionVersion.id)
        .join(ExamSection, FixedItem.section_id == ExamSection.id)
        .where(ExamSection.exam_id.in_(exam_ids))
    )
    conditions = [Question.id.in_(fixed)]
    rules = db.session.execute(
        select(SectionRule, ExamSection.qtype)
        .join(ExamSection, SectionRule.section_id == ExamSection.id)
        .where(ExamSection.exam_id.in_(exam_ids))
        .options(selectinload(SectionRule.category))
    ).all()
    for rule, qtype in rules:
        parts = [Question.bank_id == rule.bank_id, Question.type == qtype]
        if rule.category is not None:
            sub = select(Category.id).where(Category.path.startswith(rule.category.path, autoescape=True))
            # Not NULL IN (...) for a question without a category: NULL, not false, would make the negation
            # (practice's "not held", an image's "other questions") NULL as well, and drop the question there.
            parts += [Question.category_id.is_not(None), Question.category_id.in_(sub)]
        if rule.tag:
            tagged = select(question_tags.c.question_id).join(Tag).where(Tag.name == rule.tag)
            parts.append(Question.id.in_(tagged))
        conditions.append(and_(*parts))
    return or_(*conditions)


def placed_condition(exams: list[Exam]):
    """SQL condition over Question: it is placed on a paper of one of `exams`, by a fixed item or on a paper drawn
    already (whatever the rules say now). Correlated, so that each question looks up its own versions' paper items
    (indexed) rather than reading every paper of the exams."""
    exam_ids = [e.id for e in exams]
    version = QuestionVersion.__table__.alias("placed_version")
    fixed = exists().where(
        version.c.question_id == Question.id,
        FixedItem.question_version_id == version.c.id,
        FixedItem.section_id == ExamSection.id,
        ExamSection.exam_id.in_(exam_ids),
    )
    drawn = exists().where(
        version.c.question_id == Question.id,
        PaperItem.question_version_id == version.c.id,
        PaperItem.paper_id == Paper.id,
        Paper.exam_id.in_(exam_ids),
    )
    return or_(fixed, drawn)


def _own_paper_questions(user_id: int, exam_ids: list[int]) -> Select:
    """The questions on the person's own papers of these exams (drawn already, whatever the rules say now)."""
    return (
        select(QuestionVersion.question_id)
        .join(PaperItem, PaperItem.question_version_id == QuestionVersion.id)
        .join(Paper, PaperItem.paper_id == Paper.id)
        .where(Paper.user_id == user_id, Paper.exam_id.in_(exam_ids))
    )


def _image_condition(name: str):
    """SQL condition over QuestionVersion: the version shows the image `name` (in its stem, options or
    explanation)."""
    like = f"%/banks/images/{name}%"
    return or_(
        QuestionVersion.stem.like(like),
        cast(QuestionVersion.options, String).like(like),
        QuestionVersion.explanation.like(like),
    )


# ---------------------------------------------------------------- one person's conflicts


@dataclass
class Conflicts:
    """One person's conflicts of interest at one moment (computed once per request by core.policy)."""

    user_id: int
    exams: list[Exam]
    now: datetime
    _condition: object = field(default=None, repr=False)
    _exam_overlap: dict = field(default_factory=dict, repr=False)

    @property
    def exam_ids(self) -> frozenset[int]:
        return frozenset(e.id for e in self.exams)

    def condition(self):
        """SQL condition over Question: the question can be on one of the person's papers."""
        if self._condition is None:
            own = _own_paper_questions(self.user_id, list(self.exam_ids))
            self._condition = or_(pool_condition(self.exams), Question.id.in_(own))
        return self._condition

    def question_ids(self) -> Select:
        return select(Question.id).where(self.condition())

    def reason(self) -> str:
        titles = join_list(_("%(name)s (%(code)s)", name=e.title, code=e.code) for e in self.exams)
        return _(
            "Conflict of interest: you are a candidate of %(exams)s. Until your review of that exam is "
            "allowed you may not see its questions, keys, papers or analyses, nor other candidates' answers and "
            "results.",
            exams=titles,
        )

    # The questions core.policy asks, one per kind of target.

    def covers_question(self, question_id: int) -> bool:
        return db.session.scalar(select(Question.id).where(Question.id == question_id, self.condition())) is not None

    def covers_bank(self, bank_id: int) -> bool:
        """Does the bank hold any question that can be on the person's paper?"""
        found = select(Question.id).where(Question.bank_id == bank_id, self.condition()).limit(1)
        return db.session.scalar(found) is not None

    def covers_exam(self, exam_id: int, grading: bool = False) -> bool:
        """Is the exam one the person sits, or could one of its questions be on their paper? `grading`: a grader
        who sat the exam grades the others once it has closed (never their own sheet, exam.grading)."""
        if exam_id in self.exam_ids:
            if grading:
                exam = next(e for e in self.exams if e.id == exam_id)
                return exam.phase(self.now) in (Phase.PUBLISHED, Phase.OPEN)
            return True
        if exam_id not in self._exam_overlap:
            exam = db.session.get(Exam, exam_id)
            if exam is None or exam.status == ExamStatus.DRAFT and not exam.sections:
                self._exam_overlap[exam_id] = False
            else:
                theirs = or_(pool_condition([exam]), Question.id.in_(_paper_questions(exam_id)))
                found = select(Question.id).where(theirs, self.condition()).limit(1)
                self._exam_overlap[exam_id] = db.session.scalar(found) is not None
        return self._exam_overlap[exam_id]

    def covers_image(self, name: str) -> bool:
        """Is the image shown only in questions that can be on the person's paper (among those that show it)?"""
        showing = select(QuestionVersion.question_id).where(_image_condition(name))
        conflicting = select(Question.id).where(Question.id.in_(showing), self.condition()).limit(1)
        if db.session.scalar(conflicting) is None:
            return False
        other = select(Question.id).where(Question.id.in_(showing), ~self.condition()).limit(1)
        return db.session.scalar(other) is None


def _paper_questions(exam_id: int) -> Select:
    """Every question on a drawn paper of the exam (an exam in another's window may share questions through them
    only)."""
    return (
        select(QuestionVersion.question_id)
        .join(PaperItem, PaperItem.question_version_id == QuestionVersion.id)
        .join(Paper, PaperItem.paper_id == Paper.id)
        .where(Paper.exam_id == exam_id)
    )


def conflicts_of(user, now: datetime | None = None) -> Conflicts | None:
    """The exams whose window is open and which the person sits (eligible by the rules, added by hand, or holding
    a paper), or None. Two small queries: the open windows, then one union over them."""
    now = now or now_utc()
    exams = list(db.session.scalars(_window_exams(now)))
    if not exams:
        return None
    ids = [e.id for e in exams]
    parts = [
        select(literal(e.id).label("exam_id"))
        .select_from(User)
        .outerjoin(Cadre, Cadre.user_id == User.id)
        .outerjoin(Unit, Cadre.unit_id == Unit.id)
        .where(User.id == user.id, User.active.is_(True), eligibility.eligible_condition(e))
        for e in exams
    ]
    parts.append(select(Paper.exam_id).where(Paper.user_id == user.id, Paper.exam_id.in_(ids)))
    sitting = set(db.session.scalars(union(*parts)))
    if not sitting:
        return None
    return Conflicts(user.id, [e for e in exams if e.id in sitting], now)


def image_on_own_paper(user, name: str) -> bool:
    """Is the image shown in a question of a paper of one of the person's attempts (during and after it)?"""
    found = (
        select(PaperItem.id)
        .join(Attempt, Attempt.paper_id == PaperItem.paper_id)
        .join(QuestionVersion, PaperItem.question_version_id == QuestionVersion.id)
        .where(Attempt.user_id == user.id, _image_condition(name))
        .limit(1)
    )
    return db.session.scalar(found) is not None


policy.register_conflicts(conflicts_of, image_on_own_paper)


# ---------------------------------------------------------------- before publishing


@dataclass
class PoolConflict:
    """A candidate who holds rights over the exam's pool, and what has been decided about them."""

    user: User
    roles: list[Role]
    #: The written reason to keep them as a candidate; None: undecided.
    kept_reason: str | None


def pool_banks(exam: Exam) -> list[Bank]:
    """The banks the exam's papers can draw from (rules and fixed items)."""
    rule_banks = select(SectionRule.bank_id).join(ExamSection).where(ExamSection.exam_id == exam.id)
    fixed_banks = (
        select(Question.bank_id)
        .join(QuestionVersion, QuestionVersion.question_id == Question.id)
        .join(FixedItem, FixedItem.question_version_id == QuestionVersion.id)
        .join(ExamSection, FixedItem.section_id == ExamSection.id)
        .where(ExamSection.exam_id == exam.id)
    )
    return list(db.session.scalars(select(Bank).where(Bank.id.in_(rule_banks.union(fixed_banks))).order_by(Bank.code)))


def pool_conflicts(exam: Exam) -> list[PoolConflict]:
    """The candidates who may read one of the pool's banks (core.policy's bank.view: district admins and graders
    every bank, authors and reviewers their unit's), or manage or grade the exam, with the decision about each."""
    banks = pool_banks(exam)
    privileged = select(RoleAssignment.user_id).where(RoleAssignment.role != Role.CADRE)
    people = db.session.scalars(eligibility.eligible_people(exam).where(User.id.in_(privileged))).all()
    decided = {
        c.user_id: c.conflict_reason
        for c in db.session.scalars(
            select(ExamCandidate).where(ExamCandidate.exam_id == exam.id, ExamCandidate.conflict_reason.is_not(None))
        )
    }
    out = []
    for person in people:
        reads_pool = any(policy.can(person, "bank.view", bank) for bank in banks)
        runs_exam = policy.can(person, "exam.manage") or policy.can(person, "exam.grade")
        if reads_pool or runs_exam:
            roles = sorted((r for r in person.role_names if r != Role.CADRE), key=list(Role).index)
            out.append(PoolConflict(person, roles, decided.get(person.id)))
    return out


def unresolved(exam: Exam) -> list[PoolConflict]:
    return [c for c in pool_conflicts(exam) if c.kept_reason is None]


def _check_decidable(exam: Exam, user: User) -> None:
    if exam.status != ExamStatus.DRAFT:
        raise DomainError(_("Conflicts are decided before the exam is published."), code="bad_transition")
    if not any(c.user.id == user.id for c in pool_conflicts(exam)):
        raise DomainError(_("This person is not a candidate in conflict."), code="not_in_conflict")


def remove_conflicted(actor, exam: Exam, user: User, now: datetime) -> None:
    """Take a candidate in conflict off the exam (by hand), audited."""
    _check_decidable(exam, user)
    eligibility.set_candidate(actor, exam, user, now, included=False, note=_("Conflict of interest"))
    row = db.session.scalar(
        select(ExamCandidate).where(ExamCandidate.exam_id == exam.id, ExamCandidate.user_id == user.id)
    )
    row.conflict_reason = None
    audit.record("exam.conflict_removed", actor=actor, target=f"exam:{exam.code}", detail={"user": user.id}, at=now)


def keep_conflicted(actor, exam: Exam, user: User, reason: str, now: datetime) -> None:
    """Keep a candidate in conflict, with the written reason (audited). The rule of core.policy still applies to
    them during the window."""
    _check_decidable(exam, user)
    reason = (reason or "").strip()
    if not 0 < len(reason) <= 500:
        raise DomainError(_("Write why this person is kept as a candidate (up to 500 characters)."), code="bad_reason")
    row = db.session.scalar(
        select(ExamCandidate).where(ExamCandidate.exam_id == exam.id, ExamCandidate.user_id == user.id)
    )
    if row is None:
        row = ExamCandidate(exam_id=exam.id, user_id=user.id, included=None)
        db.session.add(row)
    row.conflict_reason = reason
    db.session.flush()
    audit.record("exam.conflict_kept", actor=actor, target=f"exam:{exam.code}",
                 detail={"user": user.id, "reason": reason}, at=now)  # fmt: skip


def publish(actor, exam: Exam, now: datetime, accept_conflicts: bool = False, *, draw: bool = True) -> int:
    """Publish (exam.publishing.publish, `draw` as there), refusing while candidates in conflict are undecided
    unless the publisher confirms; a confirmation is audited with the people it concerned."""
    open_ones = unresolved(exam) if exam.status == ExamStatus.DRAFT else []
    if open_ones and not accept_conflicts:
        names = join_list(_("%(name)s (%(code)s)", name=c.user.name, code=c.user.username) for c in open_ones)
        raise DomainError(
            _("Candidates in conflict of interest are undecided: %(names)s. Remove them or keep them with a "
              "reason, or confirm that you publish anyway.", names=names),
            code="unresolved_conflicts",
        )  # fmt: skip
    drawn = publishing.publish(actor, exam, now, draw=draw)
    if open_ones:
        audit.record("exam.conflicts_accepted", actor=actor, target=f"exam:{exam.code}",
                     detail={"users": [c.user.id for c in open_ones]}, at=now)  # fmt: skip
    return drawn
