"""Appeals (申诉): while an exam's public notice runs, a candidate appeals one or more written items of their
counted attempt with a reason; each item goes to a reviewer who did not mark that answer (a grader, never the
candidate, never someone in a conflict of interest); the reviewer upholds it with a new mark or rejects it with a
reason. An upheld item changes the final mark through exam.marking (the total, the ranking and the archive follow)
and, once the appeal is decided, a revised notice (a new serial; the old one kept) is published. While an appeal is
open the results cannot become final (lifecycle.register_open_appeals).

Functions take `now`, flush and never commit."""

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select

from accounts.models import RoleAssignment, User
from core import audit, policy
from core.errors import DomainError
from core.extensions import db
from core.policy import Role
from exam import attempts as attempt_locks
from exam import eligibility, marking
from exam.grading import MANUAL_TYPES
from exam.models import Answer, Attempt, AttemptStatus, Exam, ExamSection, PaperItem
from results import lifecycle, notices
from results.appeal_models import Appeal, AppealItem, Decision

#: The longest reason.
MAX_REASON = 2000


def current_notice(exam: Exam, now: datetime):
    """The notice an appeal may be filed against now: the exam's current notice while it runs, else None."""
    if lifecycle.state(exam, now) != lifecycle.State.NOTICE:
        return None
    notice = lifecycle.current_notice(exam)
    return notice if notice is not None and now < notice.ends_at else None


def counted_attempt(exam: Exam, user) -> Attempt | None:
    """The candidate's attempt the notice shows: the best fully marked, not voided one."""
    return db.session.scalar(
        select(Attempt)
        .where(Attempt.exam_id == exam.id, Attempt.user_id == user.id, Attempt.status != AttemptStatus.IN_PROGRESS,
               Attempt.fully_graded.is_(True), Attempt.voided_at.is_(None))
        .order_by(Attempt.score.desc(), Attempt.ended_at, Attempt.id)
        .limit(1)
    )  # fmt: skip


def appealable(attempt: Attempt) -> list[tuple[Answer, PaperItem, bool]]:
    """(answer, paper item, appealed already) of the attempt's written items, in paper order. Objective items are
    scored by their key: a wrong key is put right by a key correction, for every candidate at once."""
    rows = db.session.execute(
        select(Answer, PaperItem)
        .join(PaperItem, (PaperItem.paper_id == attempt.paper_id) & (PaperItem.position == Answer.position))
        .join(ExamSection, PaperItem.section_id == ExamSection.id)
        .where(Answer.attempt_id == attempt.id, ExamSection.qtype.in_(MANUAL_TYPES))
        .order_by(Answer.position)
    ).all()
    ids = [answer.id for answer, _item in rows]
    taken = set(db.session.scalars(select(AppealItem.answer_id).where(AppealItem.answer_id.in_(ids))))
    return [(answer, item, answer.id in taken) for answer, item in rows]


def own_appeals(exam: Exam, user) -> list[Appeal]:
    return list(db.session.scalars(
        select(Appeal).where(Appeal.exam_id == exam.id, Appeal.user_id == user.id).order_by(Appeal.filed_at)
    ))  # fmt: skip


def file(user, exam: Exam, positions: dict[int, str], reason: str, now: datetime) -> Appeal:
    """File `user`'s appeal on the written items at `positions` (position -> that item's own reason, may be
    empty) with an overall reason. Refused after the deadline, on an item already appealed, on an item that is not
    a written one of their counted attempt, or with no reason."""
    lifecycle._lock(exam)  # taken with the finalizer's lock: an appeal at the deadline is before or after it
    notice = current_notice(exam, now)
    if notice is None:
        raise DomainError(_("Appeals are accepted only while the results' public notice runs."), code="closed")
    attempt = counted_attempt(exam, user)
    if attempt is None:
        raise DomainError(_("You have no result in this exam to appeal."), code="no_result", status=403)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Say why you appeal."), problems=[("reason", _("Say why you appeal."))], code="no_reason")
    if len(reason) > MAX_REASON or any(len(r or "") > MAX_REASON for r in positions.values()):
        raise DomainError(_("A reason is at most 2,000 characters."), code="too_long")
    if not positions:
        raise DomainError(_("Choose the items you appeal."), problems=[("items", _("Choose the items you appeal."))],
                          code="no_items")  # fmt: skip
    attempt = attempt_locks.lock_attempt(attempt)  # two tabs filing at once: one wins, the other is refused
    rows = {answer.position: (answer, appealed) for answer, _item, appealed in appealable(attempt)}
    unknown = sorted(p for p in positions if p not in rows)
    if unknown:
        raise DomainError(_("Only the written items of your paper can be appealed."), code="not_appealable")
    again = sorted(p for p in positions if rows[p][1])
    if again:
        raise DomainError(_("Item %(n)s has been appealed already: an item is appealed once.", n=again[0]),
                          code="appealed_already")  # fmt: skip
    appeal = Appeal(exam_id=exam.id, attempt_id=attempt.id, user_id=user.id, notice_serial=notice.serial,
                    reason=reason, filed_at=now)  # fmt: skip
    db.session.add(appeal)
    for position in sorted(positions):
        answer = rows[position][0]
        reason_here = (positions[position] or "").strip()
        appeal.items.append(AppealItem(answer_id=answer.id, position=position, reason=reason_here,
                                       old_points=answer.points))  # fmt: skip
    db.session.flush()
    audit.record("results.appeal_filed", actor=user, target=f"exam:{exam.code}",
                 detail={"appeal": appeal.id, "items": sorted(positions), "notice": notice.serial}, at=now)  # fmt: skip
    for item in appeal.items:
        reviewer = choose_reviewer(item, now)
        if reviewer is not None:
            _assign(None, item, reviewer, now)
    return appeal


def _markers(answer: Answer) -> set[int]:
    """Everyone who marked the answer (first, second, arbitration, sample and earlier appeal marks, and the
    grader of record)."""
    marked = {m.grader_id for m in marking.marks_of(answer) if m.grader_id is not None}
    return marked | ({answer.grader_id} if answer.grader_id else set())


def reviewer_refusal(user, item: AppealItem, now: datetime | None = None) -> str | None:
    """Why `user` may not review this appeal item, if they may not."""
    answer = item.answer
    attempt = db.session.get(Attempt, answer.attempt_id)
    exam = attempt.exam
    if user.id == attempt.user_id or eligibility.concerns(exam, user):
        return _("A candidate of the exam reviews no appeal of it.")
    if user.id in _markers(answer):
        return _("The appeal goes to someone who did not mark this answer.")
    if policy.conflict(user, exam_id=exam.id, grading=True, now=now):
        return _("Conflict of interest: you cannot review an appeal of this exam.")
    return None


def reviewers(item: AppealItem, now: datetime | None = None) -> list[User]:
    """Who may review the item: graders who did not mark it, sit nothing of it and have no conflict, the least
    loaded first."""
    graders = db.session.scalars(
        select(User).join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.role == Role.GRADER, User.active.is_(True)).distinct().order_by(User.id)
    ).all()  # fmt: skip
    load = dict(db.session.execute(
        select(AppealItem.reviewer_id, func.count()).where(AppealItem.decided_at.is_(None))
        .group_by(AppealItem.reviewer_id)
    ).all())  # fmt: skip
    fit = [u for u in graders if reviewer_refusal(u, item, now) is None]
    return sorted(fit, key=lambda u: (load.get(u.id, 0), u.id))


def choose_reviewer(item: AppealItem, now: datetime | None = None) -> User | None:
    found = reviewers(item, now)
    return found[0] if found else None


def _assign(actor, item: AppealItem, reviewer, now: datetime) -> None:
    item.reviewer_id, item.assigned_at = reviewer.id, now
    db.session.flush()
    detail = {"appeal": item.appeal_id, "position": item.position, "reviewer": reviewer.id}
    audit.record("results.appeal_assigned", actor=actor, target=f"exam:{item.appeal.exam.code}", detail=detail, at=now)


def assign(actor, item: AppealItem, reviewer, now: datetime) -> None:
    """A district admin gives an undecided item to another reviewer (e.g. when none could be chosen)."""
    if item.decided_at is not None:
        raise DomainError(_("This item is decided."), code="decided")
    refusal = reviewer_refusal(reviewer, item, now)
    if not refusal and reviewer not in reviewers(item, now):  # an active grader, not anyone the form names
        refusal = _("Appeals are reviewed by graders.")
    if refusal:
        raise DomainError(refusal, problems=[("reviewer", refusal)], code="bad_reviewer")
    _assign(actor, item, reviewer, now)


def decide(reviewer, item: AppealItem, upheld: bool, points, reason: str, now: datetime) -> AppealItem:
    """The assigned reviewer's decision on one item: upheld with a new mark (the final mark changes, and the total,
    ranking and archive with it), or rejected; a reason either way. When the appeal's last item is decided and
    one was upheld, a revised notice is published."""
    # The appeal is locked: two reviewers deciding its items at once, or a decision sent twice, are taken one
    # after the other (the second sees the first's decision).
    db.session.scalar(select(Appeal).where(Appeal.id == item.appeal_id).with_for_update()
                      .execution_options(populate_existing=True))  # fmt: skip
    db.session.refresh(item)
    if item.decided_at is not None:
        raise DomainError(_("This item is decided."), code="decided")
    if item.reviewer_id != reviewer.id:
        raise DomainError(_("This item is assigned to another reviewer."), code="not_yours", status=403)
    refusal = reviewer_refusal(reviewer, item, now)
    if refusal:
        raise DomainError(refusal, code="not_yours", status=403)
    exam = item.appeal.exam
    if lifecycle.state(exam, now) != lifecycle.State.NOTICE:
        raise DomainError(_("The results are no longer under public notice."), code="bad_state")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Give the reason for the decision."),
                          problems=[("reason", _("Give the reason for the decision."))], code="no_reason")  # fmt: skip
    if len(reason) > MAX_REASON:
        raise DomainError(_("A reason is at most 2,000 characters."), code="too_long")
    answer = item.answer
    if upheld:
        if points is None:
            raise DomainError(_("Give the new mark."), problems=[("points", _("Give the new mark."))], code="no_points")
        marking.set_final_mark(reviewer, answer, points, kind="appeal", comment=reason, now=now)
        item.new_points = answer.points
    item.decision = Decision.UPHELD if upheld else Decision.REJECTED
    item.decision_reason, item.decided_by_id, item.decided_at = reason, reviewer.id, now
    db.session.flush()
    audit.record("results.appeal_decided", actor=reviewer, target=f"exam:{exam.code}",
                 detail={"appeal": item.appeal_id, "position": item.position, "decision": str(item.decision),
                         "old": item.old_points, "new": item.new_points}, at=now)  # fmt: skip
    appeal = item.appeal
    undecided = db.session.scalar(
        select(func.count(AppealItem.id)).where(AppealItem.appeal_id == appeal.id, AppealItem.decided_at.is_(None))
    )
    if not undecided:
        appeal.decided_at = now
        if any(i.decision == Decision.UPHELD for i in appeal.items):
            notices.publish_revised(reviewer, exam, _("Appeal decided: a mark was changed."), now)
        db.session.flush()
    return item


def open_count(exam: Exam) -> int:
    """How many of the exam's appeals are not yet decided (the results cannot become final meanwhile)."""
    return db.session.scalar(
        select(func.count(Appeal.id)).where(Appeal.exam_id == exam.id, Appeal.decided_at.is_(None))
    )


lifecycle.register_open_appeals(open_count)


def exam_items(exam: Exam) -> list[AppealItem]:
    """Every appeal item of the exam, for the district's page."""
    return list(db.session.scalars(
        select(AppealItem).join(Appeal).where(Appeal.exam_id == exam.id).order_by(Appeal.filed_at, AppealItem.position)
    ))  # fmt: skip


def queue(user) -> list[AppealItem]:
    """Appeal items assigned to `user`, undecided first."""
    return list(db.session.scalars(
        select(AppealItem).join(Appeal).where(AppealItem.reviewer_id == user.id)
        .order_by(AppealItem.decided_at.is_not(None), Appeal.filed_at, AppealItem.position)
    ))  # fmt: skip


def unassigned(user) -> list[AppealItem]:
    """Undecided items without a reviewer, for the district to give out: not of an exam `user` is a candidate of."""
    items = db.session.scalars(
        select(AppealItem).join(Appeal)
        .where(AppealItem.reviewer_id.is_(None), AppealItem.decided_at.is_(None)).order_by(AppealItem.id)
    )  # fmt: skip
    return [item for item in items if not lifecycle.sat(user, item.appeal.exam_id)]
