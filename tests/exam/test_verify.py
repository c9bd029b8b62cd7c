"""`flask exams verify`: every ended attempt graded again from what is stored; a score changed behind the app's back
(raw SQL, with the database's guard triggers out of the way, as someone with the database's keys could) is named."""

import json

import pytest
from sqlalchemy import select, text

from core.models import now_utc
from core.policy import Role
from exam import grading
from exam.models import Answer, Attempt, AttemptStatus, Exam, KeyCorrection
from exam.verification import verify_scores
from tests.exam.test_grading import essay_answer, sat
from tests.factories import make_user


def tamper(db, sql: str, **params) -> None:
    """Change stored rows with raw SQL, bypassing the app and the guard triggers (committed)."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL session_replication_role = replica"))  # triggers off (a superuser's)
        db.session.execute(text(sql), params)
    else:  # SQLite cannot switch triggers off: dropped and made again in the same transaction
        triggers = db.session.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
        for name, _sql in triggers:
            db.session.execute(text(f'DROP TRIGGER "{name}"'))
        db.session.execute(text(sql), params)
        for _name, trigger_sql in triggers:
            db.session.execute(text(trigger_sql))
    db.session.commit()
    db.session.expire_all()


def json_param(db, name: str) -> str:
    """A JSON value as a raw statement's parameter (PostgreSQL's json column wants a cast from text)."""
    return f"CAST(:{name} AS JSON)" if db.engine.dialect.name == "postgresql" else f":{name}"


def verify(runner, *args):
    return runner.invoke(args=["exams", "verify", *args])


def graded_sat(db, n=2):
    """`sat` with every essay graded (1 point of 2): every attempt fully graded."""
    exam, people, attempts = sat(db, n=n, release="immediate")
    admin = make_user(roles=(Role.ORG_ADMIN,))
    for a in attempts:
        grading.grade_answer(admin, essay_answer(db, a), 1, "", now_utc())
    db.session.commit()
    return exam, people, attempts, admin


def item_of(attempt, qtype):
    return next(i for i in attempt.paper.items if i.section.qtype == qtype)


def test_the_demo_district_verifies_clean_and_every_changed_score_is_named(runner, db, monkeypatch):
    monkeypatch.setenv("QE_ALLOW_DEMO", "1")
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    result = verify(runner, "--all")
    assert result.exit_code == 0, result.output
    summary = result.output.strip().splitlines()[-1]
    attempts = db.session.scalar(select(Attempt.id).where(Attempt.status != AttemptStatus.IN_PROGRESS).limit(1))
    assert attempts is not None and summary.endswith(" 0 difference(s).") and not summary.startswith("0 attempt")

    victim = db.session.scalar(
        select(Attempt).where(Attempt.status != AttemptStatus.IN_PROGRESS, Attempt.fully_graded.is_(True))
        .order_by(Attempt.id.desc()).limit(1)
    )  # fmt: skip
    exam, username, attempt_id = victim.exam.code, victim.user.username, victim.id
    single = item_of(victim, "single")
    stored_points = db.session.scalar(
        select(Answer.points).where(Answer.attempt_id == attempt_id, Answer.position == single.position)
    )
    other = 0.0 if stored_points else float(single.points)

    # An item's points.
    tamper(db, "UPDATE answers SET points = :p WHERE attempt_id = :a AND position = :n",
           p=other, a=attempt_id, n=single.position)  # fmt: skip
    result = verify(runner, "--all")
    assert result.exit_code == 1
    line = f"{exam} attempt {attempt_id} ({username}): item {single.position} points: stored {other:g}"
    assert line in result.output, result.output
    assert result.output.strip().splitlines()[-1].endswith(" 1 difference(s).")
    assert verify(runner, exam).exit_code == 1  # by its code too
    tamper(db, "UPDATE answers SET points = :p WHERE attempt_id = :a AND position = :n",
           p=stored_points, a=attempt_id, n=single.position)  # fmt: skip
    assert verify(runner, exam).exit_code == 0

    # The total.
    score = victim.score
    tamper(db, "UPDATE attempts SET score = :s WHERE id = :a", s=score + 5, a=attempt_id)
    result = verify(runner, "--all")
    assert result.exit_code == 1
    assert f"{exam} attempt {attempt_id} ({username}): score: stored {score + 5:g}, recomputed {score:g}" in (
        result.output
    )
    tamper(db, "UPDATE attempts SET score = :s WHERE id = :a", s=score, a=attempt_id)

    # The pass flag.
    passed = victim.passed
    tamper(db, "UPDATE attempts SET passed = :p WHERE id = :a", p=not passed, a=attempt_id)
    result = verify(runner, "--all")
    assert result.exit_code == 1
    assert f"{exam} attempt {attempt_id} ({username}): passed: stored {not passed}, recomputed {passed}" in (
        result.output
    )
    tamper(db, "UPDATE attempts SET passed = :p WHERE id = :a", p=passed, a=attempt_id)
    assert verify(runner, "--all").exit_code == 0


def test_an_answer_changed_behind_the_app_is_caught_and_verify_writes_nothing(runner, db):
    exam, people, attempts, _admin = graded_sat(db)
    assert verify(runner, exam.code).exit_code == 0
    victim = attempts[1]
    single = item_of(victim, "single")
    wrong = next(i for i in range(len(single.version.options)) if i != single.version.answer[0])
    tamper(db, f"UPDATE answers SET value = {json_param(db, 'v')} WHERE attempt_id = :a AND position = :n",
           v=json.dumps(wrong), a=victim.id, n=single.position)  # fmt: skip
    result = verify(runner, exam.code)
    assert result.exit_code == 1
    head = f"{exam.code} attempt {victim.id} ({people[1].username}): "
    assert f"{head}item {single.position} points: stored 2, recomputed 0" in result.output, result.output
    assert f"{head}score: stored 3, recomputed 1" in result.output
    assert f"attempt {attempts[0].id} " not in result.output  # the other candidate is untouched
    assert "2 attempt(s), 6 item(s) checked, 2 difference(s)." in result.output
    db.session.expire_all()
    assert db.session.get(Attempt, victim.id).score == 3.0  # nothing was "fixed" by verifying
    stored = db.session.scalar(
        select(Answer.points).where(Answer.attempt_id == victim.id, Answer.position == single.position)
    )
    assert stored == 2.0


def test_a_key_correction_with_its_regrade_verifies_clean_and_without_it_does_not(runner, db):
    exam, people, attempts, admin = graded_sat(db, n=3)
    single = item_of(attempts[0], "single")
    wrong = next(i for i in range(len(single.version.options)) if i != single.version.answer[0])
    grading.correct_key(admin, exam, single.version, "ABCDEFGH"[wrong], "原答案录入错误", now_utc())
    db.session.commit()
    assert verify(runner, exam.code).exit_code == 0, verify(runner, exam.code).output
    summary = verify_scores([exam], batch=1)  # one attempt per round trip: the batches add up
    assert (summary.attempts, summary.items, summary.differences) == (3, 9, [])
    # A correction that no regrade followed (written behind the app's back): every attempt's scores differ.
    tamper(db, f"UPDATE exam_key_corrections SET answer = {json_param(db, 'k')} WHERE exam_id = :e",
           k=json.dumps(single.version.answer), e=exam.id)  # fmt: skip
    differences = verify_scores([db.session.get(Exam, exam.id)]).differences
    assert {(d.attempt_id, d.position, d.stored, d.recomputed) for d in differences if d.position} == {
        (a.id, item_of(a, "single").position, 0.0, 2.0) for a in attempts
    }
    assert db.session.scalar(select(KeyCorrection.id)) is not None


def test_written_points_come_from_the_grader_within_the_maximum(runner, db):
    exam, people, attempts = sat(db, n=2, release="immediate")
    assert verify(runner, exam.code).exit_code == 0  # essays not graded yet: no score is due, none is stored
    admin = make_user(roles=(Role.ORG_ADMIN,))
    grading.grade_answer(admin, essay_answer(db, attempts[0]), 1.5, "", now_utc())
    db.session.commit()
    assert verify(runner, exam.code).exit_code == 0
    essay = essay_answer(db, attempts[0])
    # More than the item's maximum (2).
    tamper(db, "UPDATE answers SET points = 9 WHERE id = :i", i=essay.id)
    result = verify(runner, exam.code)
    assert result.exit_code == 1
    assert f"attempt {attempts[0].id} ({people[0].username}): item {essay.position} points: stored 9, " in (
        result.output
    )
    assert "recomputed 0 to 2" in result.output
    # No grader's points, on an attempt that says it is fully graded.
    tamper(db, "UPDATE answers SET points = NULL WHERE id = :i", i=essay.id)
    result = verify(runner, exam.code)
    assert result.exit_code == 1
    assert f"item {essay.position} points: stored no grader's points" in result.output
    assert f"attempt {attempts[0].id} ({people[0].username}): fully_graded: stored True, recomputed False" in (
        result.output
    )
    # A row removed after the grading.
    tamper(db, "UPDATE answers SET points = 1.5 WHERE id = :i", i=essay.id)
    assert verify(runner, exam.code).exit_code == 0
    single = item_of(attempts[0], "single")
    tamper(db, "DELETE FROM answers WHERE attempt_id = :a AND position = :n", a=attempts[0].id, n=single.position)
    result = verify(runner, exam.code)
    assert result.exit_code == 1 and f"item {single.position} points: stored no answer row" in result.output


@pytest.mark.parametrize("args", [(), ("T1", "--all")])
def test_verify_needs_codes_or_all(runner, db, args):
    result = verify(runner, *args)
    assert result.exit_code == 2 and "--all" in result.output


def test_an_unknown_exam_is_an_error(runner, db):
    result = verify(runner, "NOPE")
    assert result.exit_code == 1 and "NOPE" in result.output
