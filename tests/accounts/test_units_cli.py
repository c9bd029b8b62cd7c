"""`flask units create|list|template|import` and the audit of unit creations (the page's too)."""

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from accounts.models import Unit
from core.audit import AuditEvent
from core.policy import Role
from jobs.models import Job, StoredFile
from tests.factories import make_unit, make_user, workbook_bytes

HEADERS = ["单位代码", "单位名称", "上级单位", "单位类型"]


@pytest.fixture
def admin(db):
    user = make_user(username="root", roles=(Role.SYSTEM_ADMIN,))
    db.session.commit()
    return user


def unit(db, code):
    return db.session.scalar(select(Unit).where(Unit.code == code))


def unit_count(db):
    return db.session.scalar(select(func.count(Unit.id)))


def audit_actions(db, action):
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_create_and_list_a_fresh_tree(runner, db, admin):
    assert "No units yet" in runner.invoke(args=["units", "list"]).output
    result = runner.invoke(args=["units", "create", "区委", "--code", "QW", "--kind", "party_committee"])
    assert result.exit_code == 0, result.output
    assert "at the top of the tree" in result.output
    assert runner.invoke(args=["units", "create", "组织部", "--code", "ZZB", "--parent", "QW"]).exit_code == 0
    # a parent by its path of names, full-width slash accepted
    result = runner.invoke(args=["units", "create", "干部科", "--code", "GBK", "--parent", "区委／组织部"])
    assert result.exit_code == 0, result.output
    assert unit(db, "GBK").parent.code == "ZZB" and unit(db, "GBK").path.startswith(unit(db, "QW").path)
    listing = runner.invoke(args=["units", "list"]).output.splitlines()
    assert [line.split()[0] for line in listing[:3]] == ["QW", "ZZB", "GBK"]
    assert "    干部科" in listing[2] and listing[-1] == "3 unit(s)."
    events = audit_actions(db, "unit.created")
    assert len(events) == 3 and all(e.actor_id == admin.id for e in events)
    assert events[1].detail == {"code": "ZZB", "name": "组织部", "parent": "QW"}


def test_create_refuses_duplicates_and_unknown_or_ambiguous_parents(runner, db, admin):
    top = make_unit(name="区委", code="QW")
    make_unit(name="办公室", code="BGS1", parent=top)
    make_unit(name="办公室", code="BGS2", parent=make_unit(name="区政府", code="QZF"))
    db.session.commit()
    result = runner.invoke(args=["units", "create", "重复", "--code", "QW"])
    assert result.exit_code == 1 and "单位代码QW已被使用" in result.output
    result = runner.invoke(args=["units", "create", "甲", "--code", "J1", "--parent", "区委/无此部门"])
    assert result.exit_code == 1 and "没有单位代码或单位路径为“区委/无此部门”的单位" in result.output
    result = runner.invoke(args=["units", "create", "甲", "--code", "J1", "--parent", "办公室"])
    assert result.exit_code == 1 and "有多个单位与“办公室”相符" in result.output
    assert runner.invoke(args=["units", "create", "甲", "--code", "J1", "--parent", "区政府/办公室"]).exit_code == 0
    assert unit(db, "J1").parent.code == "BGS2"
    assert len(audit_actions(db, "unit.created")) == 1


def test_commands_need_a_system_administrator(runner, db):
    result = runner.invoke(args=["units", "create", "区委", "--code", "QW"])
    assert result.exit_code == 1 and "create-admin" in result.output
    assert unit_count(db) == 0


def test_import_parents_by_code_and_path_dry_run_then_real(runner, db, admin, tmp_path):
    make_unit(name="区委", code="QW")
    db.session.commit()
    path = tmp_path / "units.xlsx"
    path.write_bytes(
        workbook_bytes(
            HEADERS,
            [
                ["ZZB", "组织部", "QW", "区直单位"],
                ["GBK", "干部科", "区委/组织部", None],
                [None, None, None, None],  # an empty row is skipped
                ["QSZ", "青山镇", None, "town"],
            ],
        )
    )
    result = runner.invoke(args=["units", "import", str(path), "--dry-run"])
    assert result.exit_code == 0 and "3 unit(s) would be imported" in result.output, result.output
    assert unit_count(db) == 1
    result = runner.invoke(args=["units", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert unit(db, "GBK").parent.code == "ZZB" and unit(db, "ZZB").kind == "department"
    assert unit(db, "QSZ").parent is None and unit(db, "QSZ").kind == "town"
    assert unit(db, "GBK").kind == "other"
    assert len(audit_actions(db, "unit.created")) == 3
    assert audit_actions(db, "unit.import")[0].detail == {"count": 3}
    # Run as a recorded job, with its progress row by row; the file does not stay in the database.
    job = db.session.scalar(select(Job))
    assert (job.kind, job.state, job.done, job.total, job.created_by_id) == (
        "accounts.import-units",
        "done",
        3,
        3,
        admin.id,
    )
    assert job.result["url"] == "/admin/units" and "3 unit(s) imported." in result.output
    assert db.session.scalar(select(func.count(StoredFile.id))) == 0


def test_import_is_all_or_nothing_with_a_message_per_row(runner, db, admin, tmp_path):
    make_unit(name="区委", code="QW")
    db.session.commit()
    path = tmp_path / "units.xlsx"
    rows = [
        ["ZZB", "组织部", "QW", None],  # fine
        ["QW", "重复", None, None],  # code in the system
        ["ZZB", "又一个", None, None],  # code on an earlier row
        ["A1", None, "区委", None],  # no name
        ["A2", "甲", "区委/宣传部", None],  # no such path
        ["A3", "乙", "后面", None],  # a parent on a later row is not found
        ["A4", "后面", None, "工厂"],  # unknown kind
    ]
    path.write_bytes(workbook_bytes(HEADERS, rows))
    result = runner.invoke(args=["units", "import", str(path)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[:6] == [
        "第3行 A列（单位代码）：单位代码QW已被使用。",
        "第4行 A列（单位代码）：单位代码ZZB在第2行也出现了。",
        "第5行 B列（单位名称）：此单元格为必填项。",
        "第6行 C列（上级单位）：系统中及本表之前各行均无单位代码或单位路径为“区委/宣传部”的单位。",
        "第7行 C列（上级单位）：系统中及本表之前各行均无单位代码或单位路径为“后面”的单位。",
        "第8行 D列（单位类型）：此处不允许填写“工厂”，请从以下值中选择：党委部门、区直单位、镇、街道、其他。",
    ], lines
    assert "6 problem(s) found; nothing was imported." in result.output
    assert unit_count(db) == 1 and not audit_actions(db, "unit.created")


def test_import_refuses_a_workbook_without_the_code_column(runner, db, admin, tmp_path):
    path = tmp_path / "units.xlsx"
    path.write_bytes(workbook_bytes(["名称"], [["区委"]]))
    result = runner.invoke(args=["units", "import", str(path)])
    assert result.exit_code == 1 and "无法识别的列标题" in result.output and "缺少必填列“单位代码”" in result.output


def test_template_lists_existing_units_and_imports_back(runner, db, admin, tmp_path):
    make_unit(name="区委", code="QW")
    db.session.commit()
    out = tmp_path / "template.xlsx"
    assert runner.invoke(args=["units", "template", "-o", str(out)]).exit_code == 0
    wb = load_workbook(io.BytesIO(out.read_bytes()))
    assert [c.value for c in wb.worksheets[0][1]] == HEADERS
    assert ["QW", "区委", None] in [[c.value for c in row] for row in wb.worksheets[1].iter_rows()]
    wb.worksheets[0].append(["ZZB", "组织部", "QW", None])
    wb.save(out)
    assert runner.invoke(args=["units", "import", str(out)]).exit_code == 0
    assert unit(db, "ZZB").parent.code == "QW"


def test_the_unit_page_audits_a_creation(client, auth, db):
    auth.login_as(Role.ORG_ADMIN)
    form = {"code": "NEW", "name": "新单位", "kind": "other", "parent_id": "0", "sort_order": "0"}
    response = client.post_form("/admin/units/new", form)
    assert response.status_code == 302
    (event,) = audit_actions(db, "unit.created")
    assert event.target == f"unit:{unit(db, 'NEW').id}"


def test_a_fresh_install_goes_from_no_units_to_a_bank(runner, db, admin):
    result = runner.invoke(args=["banks", "create", "ZZLL", "--name", "政治理论题库", "--subject", "政治理论"])
    assert result.exit_code == 1 and "flask units create" in result.output
    assert runner.invoke(args=["units", "create", "区委组织部", "--code", "ZZB"]).exit_code == 0
    result = runner.invoke(
        args=["banks", "create", "ZZLL", "--name", "政治理论题库", "--subject", "政治理论", "--unit", "QT"]
    )
    assert result.exit_code == 1 and "flask units list" in result.output
    result = runner.invoke(args=["banks", "create", "ZZLL", "--name", "政治理论题库", "--subject", "政治理论"])
    assert result.exit_code == 0 and "owned by 区委组织部 (ZZB)" in result.output
