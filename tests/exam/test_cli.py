"""`flask exams …` and `flask accounts token`."""

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from accounts.services import load_token_user
from core.models import now_utc
from core.policy import Role
from exam.models import Attempt, AttemptStatus, Exam, FixedItem, Paper
from tests.exam.test_engine import fill_bank, make_exam
from tests.factories import make_bank, make_cadre, make_unit, make_user


def setup_exam(db, code="CLI1"):
    make_user(username="root", roles=(Role.SYSTEM_ADMIN,))
    bank = make_bank(code="QB")
    fill_bank(bank, n=4)
    unit = make_unit(code="TOWN")
    for _ in range(3):
        make_cadre(unit=unit)
    now = now_utc()
    exam = make_exam(bank, code=code, opens_at=now - timedelta(hours=1), closes_at=now + timedelta(hours=2),
                     eligibility={"unit_ids": [unit.id]})  # fmt: skip
    db.session.commit()
    return exam


def test_publish_prepare_finalize_regrade(runner, db):
    exam = setup_exam(db)
    result = runner.invoke(args=["exams", "publish", "CLI1"])
    assert result.exit_code == 0 and "3 paper(s)" in result.output, result.output
    assert runner.invoke(args=["exams", "prepare", "CLI1"]).output.startswith("0 paper(s)")
    assert runner.invoke(args=["exams", "publish", "CLI1"]).exit_code != 0  # already published
    paper = db.session.scalar(select(Paper))
    started, deadline = now_utc() - timedelta(hours=1), now_utc() - timedelta(minutes=5)
    db.session.add(
        Attempt(exam_id=exam.id, user_id=paper.user_id, number=1, paper_id=paper.id, started_at=started,
                deadline_at=deadline)
    )  # fmt: skip
    db.session.commit()
    result = runner.invoke(args=["exams", "finalize-overdue"])
    assert result.exit_code == 0 and result.output.startswith("1 overdue")
    db.session.expire_all()
    assert db.session.scalar(select(Attempt.status)) == AttemptStatus.EXPIRED
    assert "0 score(s) changed" in runner.invoke(args=["exams", "regrade", "CLI1"]).output


def test_export_and_import_round_trip(runner, db, tmp_path):
    setup_exam(db)
    out = tmp_path / "exam.json"
    assert runner.invoke(args=["exams", "export", "CLI1", "-o", str(out)]).exit_code == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["format"] == "qualexam-exam" and data["eligibility"]["units"] == ["TOWN"]
    result = runner.invoke(args=["exams", "import", str(out), "--code", "CLI2"])
    assert result.exit_code == 0, result.output
    copy = db.session.scalar(select(Exam).where(Exam.code == "CLI2"))
    assert copy.status == "draft" and copy.sections[0].rules[0].bank.code == "QB"
    from exam.files import export_exam

    assert {**export_exam(copy), "code": "CLI1"} == data
    older = {k: v for k, v in data.items() if k != "publish_ranking"}  # a file from before the setting existed
    out.write_text(json.dumps(older), encoding="utf-8")
    assert runner.invoke(args=["exams", "import", str(out), "--code", "CLI4"]).exit_code == 0
    assert db.session.scalar(select(Exam.publish_ranking).where(Exam.code == "CLI4")) is False
    data["sections"][0]["rules"][0]["bank"] = "NOPE"
    out.write_text(json.dumps(data), encoding="utf-8")
    result = runner.invoke(args=["exams", "import", str(out), "--code", "CLI3"])
    assert result.exit_code == 1 and "/sections/0/rules/0/bank: " in result.output
    assert db.session.scalar(select(func.count(Exam.id))) == 3


@pytest.mark.parametrize(
    ("change", "place"),
    [
        (lambda d: d["sections"][0].update(points_per_question=0), "/sections/0: "),
        (lambda d: d["sections"][0].update(title="长" * 101), "/sections/0: "),
        (lambda d: d["sections"][0]["rules"][0].update(count=501), "/sections/0/rules/0: "),
        (lambda d: d["sections"][0]["rules"][0].update(tag=7), "/sections/0/rules/0: "),
        (lambda d: d["sections"][0]["rules"].append("a rule"), "/sections/0/rules/1: "),
        (lambda d: d["sections"].append(["not", "a", "section"]), "/sections/1: "),
        (lambda d: d.update(duration_minutes=0, attempts_allowed=99), "/duration_minutes: "),
        (lambda d: d["eligibility"].update(max_age=35, age_on=None), "/eligibility/age_on: "),
        (lambda d: d["eligibility"].update(units=["TOWN", "NOPE"]), "/eligibility/units/1: "),
        (lambda d: d["sections"][0]["rules"][0].update(category="无此分类"), "/sections/0/rules/0/category: "),
        (lambda d: d.pop("closes_at"), "/closes_at: "),
    ],
)
def test_import_checks_like_the_pages(runner, db, tmp_path, change, place):
    setup_exam(db)
    out = tmp_path / "exam.json"
    runner.invoke(args=["exams", "export", "CLI1", "-o", str(out)])
    data = json.loads(out.read_text(encoding="utf-8"))
    change(data)
    out.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(args=["exams", "import", str(out), "--code", "BAD1"])
    assert result.exit_code == 1 and place in result.output, result.output
    assert db.session.scalar(select(func.count(Exam.id))) == 1


def test_import_refuses_inactive_fixed_questions(runner, db, tmp_path):
    from question_bank.services import retire

    root = make_user(username="root", roles=(Role.SYSTEM_ADMIN,))
    bank = make_bank(code="QB")
    questions = fill_bank(bank, n=2)
    exam = make_exam(bank, mode="fixed", code="FIX1", pass_mark=2)
    for i, q in enumerate(questions, start=1):
        exam.sections[0].fixed_items.append(FixedItem(position=i, question_version_id=q.current_version_id))
    db.session.commit()
    out = tmp_path / "exam.json"
    assert runner.invoke(args=["exams", "export", "FIX1", "-o", str(out)]).exit_code == 0
    retire(root, questions[1], now_utc())
    db.session.commit()
    result = runner.invoke(args=["exams", "import", str(out), "--code", "FIX2"])
    assert result.exit_code == 1 and "/sections/0/questions/1: " in result.output, result.output


def test_token_command(runner, db):
    user = make_user(username="script-user")
    db.session.commit()
    result = runner.invoke(args=["accounts", "token", "script-user", "--name", "导入脚本"])
    assert result.exit_code == 0
    assert load_token_user(result.output.strip(), now_utc()).id == user.id


def test_the_finalizer_goes_on_past_an_attempt_it_cannot_finalize(runner, db, monkeypatch):
    exam = setup_exam(db)
    assert runner.invoke(args=["exams", "publish", "CLI1"]).exit_code == 0
    started, deadline = now_utc() - timedelta(hours=1), now_utc() - timedelta(minutes=5)
    for paper in db.session.scalars(select(Paper)):
        db.session.add(Attempt(exam_id=exam.id, user_id=paper.user_id, number=1, paper_id=paper.id,
                               started_at=started, deadline_at=deadline))  # fmt: skip
    db.session.commit()
    first = min(db.session.scalars(select(Attempt.id)))
    from exam import attempts

    finalize = attempts.finalize

    def failing(attempt, now):
        if attempt.id == first:
            raise RuntimeError("a broken attempt")
        return finalize(attempt, now)

    monkeypatch.setattr(attempts, "finalize", failing)
    result = runner.invoke(args=["exams", "finalize-overdue"])
    assert result.exit_code == 0 and result.output.startswith("2 overdue"), result.output
    db.session.expire_all()
    statuses = dict(db.session.execute(select(Attempt.id, Attempt.status)).all())
    assert statuses.pop(first) == AttemptStatus.IN_PROGRESS  # left for the next sweep, the others done
    assert set(statuses.values()) == {AttemptStatus.EXPIRED}


def test_every_field_the_export_writes_is_documented(runner, db, tmp_path):
    """docs/exam-file.md's table names every key of an exported file (drawn and fixed), so the two cannot drift."""
    setup_exam(db)
    out = tmp_path / "exam.json"
    assert runner.invoke(args=["exams", "export", "CLI1", "-o", str(out)]).exit_code == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    keys = (
        set(data) | {f"eligibility.{k}" for k in data["eligibility"]} | {f"sections[].{k}" for k in data["sections"][0]}
    )
    keys |= {"sections[].questions"}  # fixed papers (test_import_refuses_inactive_fixed_questions exports one)
    doc = (Path(__file__).resolve().parents[2] / "docs" / "exam-file.md").read_text(encoding="utf-8")
    cells = re.findall(r"^\| ([^|]+) \|", doc, re.M)
    documented = {name.removesuffix("[]") for cell in cells for name in re.findall(r"`([^`]+)`", cell)}
    missing = keys - {"eligibility", "sections"} - documented
    assert not missing, sorted(missing)
