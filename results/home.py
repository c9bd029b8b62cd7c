"""The candidate's view of their results' state: a line on the home page for each official exam they sat, and the
state on their result page (exam.result_page's provider). Before the notice no score is shown (exam.visibility);
after it, the notice and the appeal deadline; once final, the result as archived."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from accounts import home
from core.extensions import db
from exam import result_page
from exam.models import Attempt, AttemptStatus, Exam
from results import lifecycle
from results.models import Notice, OfficialExam, State


@dataclass(frozen=True)
class MyResultState:
    exam: Exam
    state: State
    #: The current notice once published (its serial, period and appeal deadline), else None.
    notice: Notice | None

    @property
    def label(self) -> str:
        return str(lifecycle.STATE_LABELS[self.state])

    @property
    def appeal_deadline(self) -> datetime | None:
        return self.notice.ends_at if self.notice is not None else None

    def appeal_open(self, now: datetime) -> bool:
        """During the notice, before its deadline (where the appeals package puts its link)."""
        return self.state == State.NOTICE and self.notice is not None and now < self.notice.ends_at


def my_state(user, exam, now: datetime) -> MyResultState | None:
    """The state of the user's results of an official exam, or None (not official)."""
    current = lifecycle.state(exam, now)
    if current is None:
        return None
    notice = lifecycle.current_notice(exam) if current in (State.NOTICE, State.FINAL) else None
    return MyResultState(exam, current, notice)


def my_states(user, now: datetime) -> list[MyResultState]:
    """One per official exam the user sat (an ended attempt), latest exam first."""
    exams = db.session.scalars(
        select(Exam)
        .join(OfficialExam, OfficialExam.exam_id == Exam.id)
        .where(
            select(Attempt.id)
            .where(Attempt.exam_id == Exam.id, Attempt.user_id == user.id, Attempt.status != AttemptStatus.IN_PROGRESS)
            .exists()
        )
        .order_by(Exam.closes_at.desc())
    ).all()
    return [s for s in (my_state(user, e, now) for e in exams) if s is not None]


def home_values(user, now: datetime) -> dict:
    return {"my_result_states": my_states(user, now)} if user.is_authenticated else {}


def result_page_values(attempt, user, outcome, now: datetime) -> dict:
    if attempt.user_id != getattr(user, "id", None):
        return {}
    found = my_state(user, attempt.exam, now)
    return {"result_state": found} if found is not None else {}


home.register(home_values)
result_page.register(result_page_values)
