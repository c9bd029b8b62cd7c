"""`flask exams …` and `flask accounts token`."""

import json
from datetime import timedelta

from sqlalchemy import func, select

from accounts.services import load_token_user
from core.models import now_utc
from core.policy import Role
from exam.models import Attempt, AttemptStatus, Exam, Paper
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
    data["sections"][0]["rules"][0]["bank"] = "NOPE"
    out.write_text(json.dumps(data), encoding="utf-8")
    result = runner.invoke(args=["exams", "import", str(out), "--code", "CLI3"])
    assert result.exit_code == 1 and "sections[1].rules[1].bank" in result.output
    assert db.session.scalar(select(func.count(Exam.id))) == 2


def test_token_command(runner, db):
    user = make_user(username="script-user")
    db.session.commit()
    result = runner.invoke(args=["accounts", "token", "script-user", "--name", "导入脚本"])
    assert result.exit_code == 0
    assert load_token_user(result.output.strip(), now_utc()).id == user.id
