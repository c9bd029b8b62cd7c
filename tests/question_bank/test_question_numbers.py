"""Question numbers and versions where people look (bank list, question page, exports): what a fixed-paper exam file
names a question by (docs/exam-file.md)."""

import csv
import io
from datetime import timedelta

from openpyxl import load_workbook
from sqlalchemy import select

from core.models import now_utc
from core.policy import Role
from exam.files import FORMAT, VERSION, import_exam
from question_bank import services, transfer
from question_bank.formats import table
from question_bank.models import Question
from tests.factories import content, make_bank, make_question, make_user


def bank_with_a_second_version(db):
    """A bank of two active questions, the second one edited and approved again (version 2)."""
    bank = make_bank(code="ZZLL")
    first = make_question(bank=bank, status="active", stem="第一题______")
    second = make_question(bank=bank, status="active", stem="第二题______")
    editor = make_user(roles=(Role.SYSTEM_ADMIN,))
    services.update_question(editor, second, content("single", stem="第二题（改）______"), now_utc(),
                             category=None, tags=[], difficulty=3)  # fmt: skip
    services.approve(make_user(roles=(Role.SYSTEM_ADMIN,)), second, now_utc())
    db.session.commit()
    assert second.current_version.number == 2
    return bank, first, second


def test_the_bank_list_and_the_question_page_show_number_and_version(client, auth, db):
    _bank, first, second = bank_with_a_second_version(db)
    auth.login_as(Role.ORG_ADMIN)
    page = client.get("/banks/ZZLL/").get_data(as_text=True)
    assert f'<td>{first.id} <span class="muted">· v1</span></td>' in page
    assert f'<td>{second.id} <span class="muted">· v2</span></td>' in page
    page = client.get(f"/banks/questions/{second.id}").get_data(as_text=True)
    assert f'<code>{{"bank": "ZZLL", "question": {second.id}, "version": 2}}</code>' in page


def test_exports_carry_number_and_version_and_still_import(app, db):
    bank, first, second = bank_with_a_second_version(db)
    questions = list(db.session.scalars(select(Question).where(Question.bank_id == bank.id).order_by(Question.id)))
    data, _skipped, _n = transfer.export_questions(questions, "xlsx")
    ws = load_workbook(io.BytesIO(data)).active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0][-2:] == ["题目编号", "版本"]
    assert [r[-2:] for r in rows[1:]] == [[first.id, 1], [second.id, 2]]
    data, _skipped, _n = transfer.export_questions(questions, "csv")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r[-2:] for r in rows[1:]] == [[str(first.id), "1"], [str(second.id), "2"]]
    # the columns are read back as nothing: the export imports as new questions
    assert transfer.read_file("csv", data, make_bank(code="COPY")).ok
    assert len(table.HEADERS) == len(rows[0]) - 2


def test_the_exported_numbers_name_the_questions_of_a_fixed_paper(app, db):
    bank, _first, second = bank_with_a_second_version(db)
    data, _skipped, _n = transfer.export_questions([second], "csv")
    number, version = (int(v) for v in list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))[1][-2:])
    now = now_utc()
    exam_file = {
        "format": FORMAT,
        "version": VERSION,
        "code": "FIXED1",
        "title": "固定试卷",
        "subject": "政治理论",
        "paper_mode": "fixed",
        "opens_at": (now + timedelta(days=1)).isoformat(),
        "closes_at": (now + timedelta(days=1, hours=2)).isoformat(),
        "duration_minutes": 60,
        "attempts_allowed": 1,
        "pass_mark": 1,
        "shuffle_questions": False,
        "shuffle_options": False,
        "mc_policy": "all_or_nothing",
        "release_policy": "after_close",
        "review_policy": "score",
        "sections": [
            {
                "title": "单选题",
                "qtype": "single",
                "points_per_question": 2,
                "questions": [{"bank": "ZZLL", "question": number, "version": version}],
            }
        ],
    }
    exam = import_exam(make_user(roles=(Role.SYSTEM_ADMIN,)), exam_file, now)
    assert exam.sections[0].fixed_items[0].question_version_id == second.current_version_id
