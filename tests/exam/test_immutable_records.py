"""Records that cannot change behind anyone's back (exam/integrity.py, migration 0013): used question versions,
papers and paper items, and finalized attempts with their answers, refused by the database (raw SQL) and by the
ORM, while every documented path (the finalizer, manual grading, key correction and regrading, withdrawing an
exam nobody started, the demo) still works and is audited with old and new values."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from core import guards
from core.audit import AuditEvent
from core.errors import is_database_unavailable
from core.models import now_utc
from core.policy import Role
from exam import answers, attempts, definition, grading, integrity, papers
from exam.models import Answer, Attempt, AttemptStatus, Paper, PaperItem
from question_bank.models import QuestionVersion
from tests.factories import make_cadre, make_open_exam, make_question, make_user


@dataclass
class Records:
    exam: object
    finished: Attempt  # submitted: finalized
    sitting: Attempt  # in progress
    waiting_paper: Paper  # drawn, nobody started it: not used
    used_version: QuestionVersion  # on every paper of the exam
    unused_version: QuestionVersion  # in the bank, on no paper


@pytest.fixture
def records(db):
    exam, second = make_open_exam(release="manual", review="answers")
    unit = second.cadre.unit
    # The candidate who finished also grades and administers the system: roles change nothing of the guards.
    first = make_cadre(unit=unit, roles=(Role.CADRE, Role.GRADER, Role.SYSTEM_ADMIN)).user
    third = make_cadre(unit=unit).user
    now = now_utc()
    papers.prepare_papers(exam, now)
    finished = attempts.start_attempt(exam, first, now)
    for item in finished.paper.items:
        value = {"single": 0, "truefalse": True, "essay": "我的论述"}[item.section.qtype]
        answers.save_answer(finished, item.position, value, 1, now)
    attempts.submit(finished, now + timedelta(minutes=10))
    sitting = attempts.start_attempt(exam, second, now)
    answers.save_answer(sitting, 1, 0, 1, now)
    waiting = db.session.scalar(select(Paper).where(Paper.exam_id == exam.id, Paper.user_id == third.id))
    used = db.session.get(QuestionVersion, finished.paper.items[0].question_version_id)
    unused = make_question().current_version
    db.session.commit()
    return Records(exam, finished, sitting, waiting, used, unused)


#: A time no attempt of these tests has (as SQL: a literal both databases read as a time).
LONG_AGO = "'2000-01-01 00:00:00+00:00'"


def refused(db, sql: str, **params) -> None:
    """The statement fails with the guards' refusal (a 500, not an outage), and changes nothing."""
    with pytest.raises(DBAPIError) as caught, db.session.begin_nested():
        db.session.execute(text(sql), params)
    assert guards.is_refusal(caught.value), caught.value
    assert not is_database_unavailable(caught.value)


def allowed(db, sql: str, **params) -> int:
    """The statement runs (and is undone at once); returns how many rows it touched."""
    savepoint = db.session.begin_nested()
    try:
        return db.session.execute(text(sql), params).rowcount
    finally:
        savepoint.rollback()


def orm_refused(db, change) -> None:
    """The ORM refuses the change before anything reaches the database."""
    with pytest.raises(guards.RecordIsImmutable), db.session.begin_nested():
        change()
        db.session.flush()
    db.session.rollback()


# ---------------------------------------------------------------- the database (raw SQL)


def test_the_database_refuses_to_change_a_used_question_version(db, records):
    used, unused = records.used_version.id, records.unused_version.id
    refused(db, "UPDATE question_versions SET stem = 'changed' WHERE id = :id", id=used)
    refused(db, "UPDATE question_versions SET answer = '[1]' WHERE id = :id", id=used)
    refused(db, "DELETE FROM question_versions WHERE id = :id", id=used)
    # A version no attempt uses is not guarded (papers drawn and not started, or none at all).
    assert allowed(db, "UPDATE question_versions SET stem = 'changed' WHERE id = :id", id=unused) == 1


def test_the_database_refuses_to_change_a_used_paper_and_its_items(db, records):
    for attempt in (records.finished, records.sitting):  # in progress counts: the candidate has seen it
        paper = attempt.paper_id
        item = db.session.scalar(select(PaperItem.id).where(PaperItem.paper_id == paper).limit(1))
        section = db.session.scalar(select(PaperItem.section_id).where(PaperItem.id == item))
        refused(db, "UPDATE papers SET seed = seed + 1 WHERE id = :id", id=paper)
        refused(db, "DELETE FROM papers WHERE id = :id", id=paper)
        refused(db, "UPDATE paper_items SET points = 100 WHERE id = :id", id=item)
        refused(db, "UPDATE paper_items SET option_order = '[]' WHERE id = :id", id=item)
        refused(db, "UPDATE paper_items SET question_version_id = :v WHERE id = :id", id=item,
                v=records.unused_version.id)  # fmt: skip
        refused(db, "DELETE FROM paper_items WHERE id = :id", id=item)
        columns = "paper_id, position, section_id, question_version_id, option_order, points"
        spare = records.unused_version.id
        refused(
            db, f"INSERT INTO paper_items ({columns}) VALUES (:p, 99, :s, :v, '[]', 50)", p=paper, s=section, v=spare
        )
    # Nor may an item be moved from an unused paper into a used one.
    spare = db.session.scalar(select(PaperItem.id).where(PaperItem.paper_id == records.waiting_paper.id).limit(1))
    refused(db, "UPDATE paper_items SET paper_id = :p, position = 99 WHERE id = :id", p=records.finished.paper_id,
            id=spare)  # fmt: skip
    # A paper nobody has started is not guarded (withdrawing an exam discards such papers).
    assert allowed(db, "UPDATE papers SET seed = seed + 1 WHERE id = :id", id=records.waiting_paper.id) == 1
    assert allowed(db, "DELETE FROM paper_items WHERE paper_id = :id", id=records.waiting_paper.id) == 3


def test_the_database_refuses_to_change_a_finalized_attempts_answers(db, records):
    finished, sitting = records.finished.id, records.sitting.id
    answer = db.session.scalar(select(Answer.id).where(Answer.attempt_id == finished, Answer.position == 1))
    for assignment in (
        "value = '\"tampered\"'",
        "value = NULL",
        "seq = seq + 1",
        f"saved_at = {LONG_AGO}",
        "position = 99",
    ):
        refused(db, f"UPDATE answers SET {assignment} WHERE id = :id", id=answer)
    refused(db, "DELETE FROM answers WHERE id = :id", id=answer)
    refused(db, "DELETE FROM answers WHERE attempt_id = :a", a=finished)
    refused(db, "INSERT INTO answers (attempt_id, position, value, seq, saved_at, comment) "
            "VALUES (:a, 99, '0', 1, '2026-12-01 00:00:00', '')", a=finished)  # fmt: skip
    # An answer of the running attempt may not be moved into the finalized one either.
    running = db.session.scalar(select(Answer.id).where(Answer.attempt_id == sitting))
    refused(db, "UPDATE answers SET attempt_id = :a, position = 99 WHERE id = :id", a=finished, id=running)
    # Grading's columns stay writable in the database (flask exams verify finds a score changed behind its back).
    assert allowed(db, "UPDATE answers SET points = 0, comment = 'x' WHERE id = :id", id=answer) == 1
    # The running attempt's answers are the candidate's to change.
    assert allowed(db, "UPDATE answers SET value = '1', seq = seq + 1 WHERE id = :id", id=running) == 1


def test_the_database_refuses_to_change_a_finalized_attempt(db, records):
    finished = records.finished.id
    for assignment in (
        "status = 'in_progress'",
        "status = 'expired'",
        f"user_id = {records.sitting.user_id}",
        "number = 2",
        f"paper_id = {records.waiting_paper.id}",
        f"started_at = {LONG_AGO}",
        f"deadline_at = {LONG_AGO}",
        f"ended_at = {LONG_AGO}",
        "ended_at = NULL",
        "extra_minutes = 30",
    ):
        refused(db, f"UPDATE attempts SET {assignment} WHERE id = :id", id=finished)
    refused(db, "DELETE FROM attempts WHERE id = :id", id=finished)
    # The score stays writable in the database (verify recomputes it); the running attempt is not finalized.
    assert allowed(db, "UPDATE attempts SET score = 100 WHERE id = :id", id=finished) == 1
    assert allowed(db, "UPDATE attempts SET extra_minutes = 30 WHERE id = :id", id=records.sitting.id) == 1


def test_a_refusal_is_a_server_error_not_an_outage(app, db, records):
    """A refusal is a bug of whoever sent the statement: a 500 with the generic page, never the 503 that tells the
    exam page to keep the answer and send it again."""
    from core.errors import _database_error

    try:
        with db.session.begin_nested():
            db.session.execute(text("DELETE FROM attempts WHERE id = :id"), {"id": records.finished.id})
    except DBAPIError as exc:
        caught = exc
    with app.test_request_context("/api/v1/attempts/1/answers/1", method="PUT"):
        response = _database_error(caught)
    assert response[1] == 500 and response[0].get_json()["error"]["code"] == "500"


# ---------------------------------------------------------------- the ORM


def test_the_orm_refuses_to_change_used_versions_and_papers(db, records):
    version = db.session.get(QuestionVersion, records.used_version.id)
    paper = db.session.get(Paper, records.finished.paper_id)
    orm_refused(db, lambda: setattr(version, "stem", "改过的题干"))
    orm_refused(db, lambda: db.session.delete(db.session.get(QuestionVersion, records.used_version.id)))
    orm_refused(db, lambda: setattr(db.session.get(Paper, paper.id), "seed", 1))
    orm_refused(db, lambda: setattr(db.session.get(Paper, paper.id).items[0], "points", 100))
    orm_refused(db, lambda: setattr(db.session.get(Paper, paper.id).items[0], "option_order", []))
    orm_refused(db, lambda: db.session.delete(db.session.get(Paper, paper.id).items[0]))

    def add_item():
        item = db.session.get(Paper, paper.id).items[0]
        spare = records.unused_version.id
        db.session.add(PaperItem(paper_id=paper.id, position=99, section_id=item.section_id,
                                 question_version_id=spare, option_order=[], points=50))  # fmt: skip

    orm_refused(db, add_item)
    # Bulk statements through the session, which never reach a flush.
    used = QuestionVersion.id == records.used_version.id
    orm_refused(db, lambda: db.session.execute(update(QuestionVersion).where(used).values(stem="x")))
    orm_refused(db, lambda: db.session.execute(delete(PaperItem).where(PaperItem.paper_id == paper.id)))
    orm_refused(db, lambda: db.session.execute(update(Paper).values(seed=1)))
    # Unused rows are not guarded.
    db.session.get(QuestionVersion, records.unused_version.id).stem = "改过的题干"
    db.session.execute(update(Paper).where(Paper.id == records.waiting_paper.id).values(seed=1))
    db.session.flush()


def test_the_orm_refuses_to_change_a_finalized_attempt_and_its_answers(db, records):
    finished = records.finished.id

    def answer():
        return db.session.scalar(select(Answer).where(Answer.attempt_id == finished, Answer.position == 1))

    orm_refused(db, lambda: setattr(answer(), "value", ["tampered"]))
    orm_refused(db, lambda: setattr(answer(), "seq", 5))
    orm_refused(db, lambda: db.session.delete(answer()))
    orm_refused(db, lambda: db.session.add(Answer(attempt_id=finished, position=99, value=0, seq=1,
                                                  saved_at=now_utc())))  # fmt: skip
    # Points, grader and comment (the database lets them be) change only on a documented path.
    orm_refused(db, lambda: setattr(answer(), "points", 100))
    orm_refused(db, lambda: setattr(answer(), "comment", "改判"))
    orm_refused(db, lambda: setattr(db.session.get(Attempt, finished), "score", 100))
    orm_refused(db, lambda: setattr(db.session.get(Attempt, finished), "passed", False))
    orm_refused(db, lambda: setattr(db.session.get(Attempt, finished), "status", AttemptStatus.IN_PROGRESS))

    def reopen_unread():  # the old status never loaded into the session: the rule asks the database
        attempt = db.session.get(Attempt, finished)
        db.session.expire(attempt)
        attempt.status = AttemptStatus.IN_PROGRESS

    orm_refused(db, reopen_unread)
    orm_refused(db, lambda: setattr(db.session.get(Attempt, finished), "ended_at", now_utc()))
    orm_refused(db, lambda: db.session.delete(db.session.get(Attempt, finished)))
    orm_refused(db, lambda: db.session.execute(update(Answer).where(Answer.attempt_id == finished).values(points=9)))
    orm_refused(db, lambda: db.session.execute(update(Answer).where(Answer.attempt_id == finished).values(seq=9)))
    orm_refused(db, lambda: db.session.execute(delete(Answer).where(Answer.attempt_id == finished)))
    orm_refused(db, lambda: db.session.execute(update(Attempt).values(score=100)))
    orm_refused(db, lambda: db.session.execute(update(Attempt).where(Attempt.id == finished).values(number=2)))
    # Inside a documented path the points may change (the path audits them); the running attempt is the
    # candidate's, and the exam page's counters stay writable.
    with integrity.rescoring("appeal"):
        answer().points = 1
    db.session.execute(update(Attempt).where(Attempt.id == finished).values(focus_losses=Attempt.focus_losses + 1))
    db.session.get(Attempt, records.sitting.id).deadline_at += timedelta(minutes=5)
    db.session.flush()
    with pytest.raises(ValueError), integrity.rescoring("because I say so"):
        pass


def test_a_score_is_voided_only_by_a_decision(db, records):
    """voided_at and void_reason change only through exam.adjustments.void and restore (audited, on the timeline):
    not by setting them, nor by a bulk statement."""
    from exam import adjustments
    from exam.models import AttemptEvent, EventKind

    finished = records.finished.id
    orm_refused(db, lambda: setattr(db.session.get(Attempt, finished), "voided_at", now_utc()))
    orm_refused(db, lambda: setattr(db.session.get(Attempt, finished), "void_reason", "tampered"))
    voiding = update(Attempt).where(Attempt.id == finished).values(voided_at=now_utc())
    orm_refused(db, lambda: db.session.execute(voiding))
    assert db.session.get(Attempt, finished).voided_at is None
    admin = make_user(roles=(Role.ORG_ADMIN,))
    adjustments.void(db.session.get(Attempt, finished), admin, "代考，经查属实", now_utc())
    adjustments.restore(db.session.get(Attempt, finished), admin, "复查后撤销", now_utc())
    db.session.commit()
    attempt = db.session.get(Attempt, finished)
    assert attempt.voided_at is None and attempt.void_reason is None
    kinds = db.session.scalars(select(AttemptEvent.kind).where(AttemptEvent.attempt_id == finished)).all()
    assert EventKind.VOIDED in kinds and EventKind.RESTORED in kinds


# ---------------------------------------------------------------- the documented paths


def test_the_finalizer_grades_an_overdue_attempt(db, records):
    sitting = db.session.get(Attempt, records.sitting.id)
    later = sitting.deadline_at + timedelta(minutes=5)
    assert attempts.finalize_overdue(later, records.exam) == 1
    db.session.commit()
    sitting = db.session.get(Attempt, records.sitting.id)
    assert sitting.status == AttemptStatus.EXPIRED
    points = db.session.scalars(select(Answer.points).where(Answer.attempt_id == sitting.id)).all()
    assert len(points) == 3  # every item has a row: the unanswered ones got theirs from grading


def test_manual_grading_changes_points_and_audits_the_total(db, records):
    grader = make_user(roles=(Role.GRADER,))
    essay = db.session.scalar(
        select(Answer).where(Answer.attempt_id == records.finished.id, Answer.points.is_(None))
    )  # the essay waits for its grader
    now = now_utc() + timedelta(hours=3)
    records.exam.closes_at = now - timedelta(minutes=1)
    grading.grade_answer(grader, essay, 1, "", now)
    grading.grade_answer(grader, essay, 2, "改判", now)
    db.session.commit()
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "answer.graded")).all()
    objective = records.finished.score - 2
    assert [(e.detail["old"], e.detail["new"], e.detail["score_old"], e.detail["score_new"]) for e in events] == [
        (None, 1.0, None, objective + 1),
        (1.0, 2.0, objective + 1, objective + 2),
    ]


def test_a_key_correction_regrades_and_audits_every_changed_item(db, records):
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    finished = db.session.get(Attempt, records.finished.id)
    single = next(i for i in finished.paper.items if i.section.qtype == "single")
    chosen = db.session.scalar(select(Answer.value).where(Answer.attempt_id == finished.id,
                                                          Answer.position == single.position))  # fmt: skip
    before = db.session.scalar(select(Answer.points).where(Answer.attempt_id == finished.id,
                                                           Answer.position == single.position))  # fmt: skip
    # Correct the key to the option the candidate chose: their points for the item change.
    key = "ABCDEFGH"[chosen] if before == 0 else "ABCDEFGH"[(chosen + 1) % len(single.version.options)]
    grading.correct_key(admin, records.exam, single.version, key, "原答案录入错误", now_utc())
    db.session.commit()
    entry = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "exam.regraded"))
    [change] = entry.detail["changed"]
    after = 2.0 if before == 0 else 0.0
    # The essay waits for its grader, so the total is not final yet (None): the item's change is kept all the same.
    assert change["attempt"] == finished.id and change["items"] == [[single.position, float(before), after]]
    assert change["old"] is None and change["new"] is None
    # The version itself never changed: the correction lives beside it.
    assert db.session.get(QuestionVersion, single.question_version_id).answer == single.version.answer


def test_withdrawing_an_exam_nobody_started_discards_its_papers(db):
    exam, _user = make_open_exam(code="W1")
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    exam.opens_at = now_utc() + timedelta(days=1)  # published, not yet open
    exam.closes_at = exam.opens_at + timedelta(hours=2)
    assert definition.withdraw(admin, exam, now_utc()) == 1
    db.session.commit()
    assert db.session.scalar(select(Paper.id).where(Paper.exam_id == exam.id)) is None


@pytest.mark.fresh_app
def test_a_refused_write_in_a_request_answers_500(app, client, db, records):
    attempt_id = records.finished.id

    @app.route("/test-tamper")
    def tamper():
        from core.extensions import db as database

        database.session.execute(text("UPDATE attempts SET status = 'in_progress' WHERE id = :id"), {"id": attempt_id})
        return "changed"

    response = client.get("/test-tamper", headers={"Accept": "application/json"})
    assert response.status_code == 500 and response.get_json()["error"]["code"] == "500"
    assert db.session.scalar(select(Attempt.status).where(Attempt.id == attempt_id)) == AttemptStatus.SUBMITTED
