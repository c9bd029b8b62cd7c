"""An official exam sat by candidates, closed and fully graded, for the lifecycle's tests."""

from datetime import timedelta

from sqlalchemy import select

from core.models import now_utc
from core.policy import Role
from exam import answers, grading, papers
from exam.attempts import start_attempt, submit
from exam.models import Answer
from results import lifecycle
from tests.factories import make_cadre, make_open_exam, make_user


def official_exam(db, *, n=2, code="OF1", scope="candidates", days=5, graded=True, close=True):
    """(exam, candidates, attempts, registrar): an official exam (a single choice and an essay) sat by `n`
    candidates of one unit; the first answers the single choice right; essays graded 2 and 1 when `graded`; closed
    a minute ago when `close`."""
    exam, first = make_open_exam(release="immediate", review="answers", code=code, qtypes=("single", "essay"))
    registrar = make_user(roles=(Role.ORG_ADMIN,))
    lifecycle.register(registrar, exam, now_utc(), scope=scope, days=days, appeal_how="向区委组织部书面申诉")
    people = [first] + [make_cadre(unit=first.cadre.unit).user for _ in range(n - 1)]
    papers.prepare_papers(exam, now_utc())
    attempts = []
    for i, user in enumerate(people):
        attempt = start_attempt(exam, user, now_utc())
        for item in attempt.paper.items:
            if item.section.qtype == "essay":
                answers.save_answer(attempt, item.position, f"第{i}位考生的论述", 1, now_utc())
            elif i == 0:
                answers.save_answer(attempt, item.position, item.option_order.index(item.version.answer[0]), 1,
                                    now_utc())  # fmt: skip
        submit(attempt, now_utc())
        attempts.append(attempt)
    if graded:
        for i, attempt in enumerate(attempts):
            grading.grade_answer(registrar, essay(db, attempt), 2 if i == 0 else 1, "", now_utc())
    if close:
        exam.closes_at = now_utc() - timedelta(minutes=1)
    db.session.commit()
    return exam, people, attempts, registrar


def essay(db, attempt):
    item = next(i for i in attempt.paper.items if i.section.qtype == "essay")
    return db.session.scalar(select(Answer).where(Answer.attempt_id == attempt.id, Answer.position == item.position))


def district_admin(role=Role.ORG_ADMIN):
    return make_user(roles=(role,))
