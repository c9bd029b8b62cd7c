"""Bank and question rules: versions, the review workflow, bulk changes, duplicates, scope."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.errors import DomainError
from core.models import now_utc
from core.policy import Role
from question_bank import services
from question_bank.models import QuestionStatus, QuestionVersion
from question_bank.richtext import from_text, sanitize
from tests.factories import content, make_bank, make_cadre, make_question, make_unit, make_user


def test_editing_makes_a_new_version_and_keeps_the_old_one(app, db):
    q = make_question(status="active")
    v1 = q.current_version
    v1_id, v1_stem = v1.id, v1.stem
    editor = make_user(roles=(Role.ORG_ADMIN,))
    later = now_utc() + timedelta(minutes=5)
    v2 = services.update_question(
        editor, q, content("single", stem="改过的题干______"), later, category=None, tags=["新"], difficulty=4
    )
    db.session.commit()
    db.session.expire_all()
    old = db.session.get(QuestionVersion, v1_id)
    assert old.stem == v1_stem and old.number == 1
    assert q.current_version.id == v2.id and v2.number == 2 and "改过的题干" in v2.stem
    assert v2.created_by_id == editor.id
    assert q.status == QuestionStatus.ACTIVE
    changes = services.version_diff(old, v2)
    assert [c["field"] for c in changes] == ["stem"]
    assert any(line.startswith("+") and "改过的题干" in line for line in changes[0]["lines"])


def test_metadata_edit_makes_no_version(app, db):
    q = make_question()
    assert services.update_question(
        make_user(roles=(Role.ORG_ADMIN,)), q, content("single"), now_utc(), category=None, tags=["甲"], difficulty=5
    ) is None  # fmt: skip
    assert len(q.versions) == 1 and q.difficulty == 5 and [t.name for t in q.tags] == ["甲"]


def test_retired_questions_stay_readable_but_not_editable(app, db):
    q = make_question(status="active")
    admin = make_user(roles=(Role.ORG_ADMIN,))
    services.retire(admin, q, now_utc())
    assert q.current_version.stem
    with pytest.raises(DomainError):
        services.update_question(admin, q, content("single"), now_utc(), category=None, tags=[], difficulty=3)


def test_review_workflow(app, db):
    unit = make_unit()
    author = make_cadre(unit=unit, roles=(Role.AUTHOR, Role.CADRE)).user
    other_author = make_cadre(unit=unit, roles=(Role.AUTHOR, Role.CADRE)).user
    bank = make_bank(owner_unit=unit)
    q = make_question(bank=bank, actor=author)
    assert q.status == QuestionStatus.DRAFT
    with pytest.raises(DomainError):
        services.approve(other_author, q, now_utc())  # not submitted yet
    services.submit_for_review(author, q, now_utc())
    with pytest.raises(DomainError) as exc:
        services.approve(author, q, now_utc())
    assert exc.value.code == "own_question"
    with pytest.raises(DomainError):
        services.return_to_author(other_author, q, now_utc(), "")  # a return needs a comment
    services.return_to_author(other_author, q, now_utc(), "选项C表述不准确")
    assert q.status == QuestionStatus.DRAFT and q.review_comment == "选项C表述不准确"
    services.submit_for_review(author, q, now_utc())
    services.approve(other_author, q, now_utc())
    assert q.status == QuestionStatus.ACTIVE and q.reviewer_id == other_author.id
    with pytest.raises(DomainError):
        services.submit_for_review(author, q, now_utc())


def test_authors_work_only_in_their_units_banks(app, db):
    mine, other = make_unit(), make_unit()
    author = make_cadre(unit=mine, roles=(Role.AUTHOR, Role.CADRE)).user
    foreign = make_bank(owner_unit=other)
    with pytest.raises(DomainError):
        services.create_question(author, foreign, "single", content("single"), now_utc())
    with pytest.raises(DomainError):
        services.create_bank(author, "X1", "外单位题库", "政治理论", other, "", now_utc())
    assert services.create_bank(author, "X2", "本单位题库", "政治理论", mine, "", now_utc()).code == "X2"
    grader = make_user(roles=(Role.GRADER,))
    with pytest.raises(DomainError):
        services.create_question(grader, foreign, "single", content("single"), now_utc())


def test_invalid_content_is_refused_with_reasons(app, db):
    bank = make_bank()
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    with pytest.raises(DomainError) as exc:
        services.create_question(admin, bank, "fill", content("fill", answer=[["一"]]), now_utc())
    assert "2" in str(exc.value.message)  # two blanks, one answer
    with pytest.raises(DomainError):
        services.create_question(admin, bank, "single", content("single", stem=""), now_utc())


def test_stems_are_sanitised(app, db):
    q = make_question(stem="x")
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    dirty = content("single")
    dirty.stem = '<p onclick="x()">题<script>alert(1)</script><img src="https://evil.example/a.png"></p>______'
    services.update_question(admin, q, dirty, now_utc(), category=None, tags=[], difficulty=3)
    assert "script" not in q.current_version.stem and "onclick" not in q.current_version.stem
    assert "evil" not in q.current_version.stem
    assert sanitize("<b>粗</b>") == "<b>粗</b>"


def test_likely_duplicates(app, db):
    bank = make_bank()
    q = make_question(bank=bank, stem="我国的根本政治制度是什么制度？请选择______。")
    db.session.flush()
    near = "我国的根本政治制度是什么制度?请选择：______"
    assert [d.id for d in services.likely_duplicates(bank, from_text(near))] == [q.id]
    assert services.likely_duplicates(bank, from_text("完全不同的一道题目，关于公文处理的规定。")) == []
    assert services.likely_duplicates(bank, from_text(near), exclude_id=q.id) == []


def test_bulk_update(app, db):
    bank = make_bank()
    questions = [make_question(bank=bank, status="active", stem=f"第{i}题______") for i in range(3)]
    admin = make_user(roles=(Role.ORG_ADMIN,))
    chapter = services.ensure_category_path(bank, "第一章/第二节")
    assert services.bulk_update(admin, questions, "move", now_utc(), category=chapter).changed == 3
    assert all(q.category_id == chapter.id for q in questions)
    services.bulk_update(admin, questions, "tag", now_utc(), tags=["宪法"])
    services.bulk_update(admin, questions, "difficulty", now_utc(), difficulty=5)
    result = services.bulk_update(admin, questions[:2], "retire", now_utc())
    assert result.changed == 2 and [q.status for q in questions] == ["retired", "retired", "active"]
    assert services.bulk_update(admin, questions[:1], "retire", now_utc()).refused  # already retired


def test_category_paths(app, db):
    bank = make_bank()
    c = services.ensure_category_path(bank, "党章党规 / 纪律处分 / 处分种类")
    assert services.category_path_names(c) == "党章党规/纪律处分/处分种类"
    assert services.ensure_category_path(bank, "党章党规/纪律处分/处分种类").id == c.id
    with pytest.raises(DomainError):
        services.delete_category(c.parent)  # not empty
    services.delete_category(c)
    assert db.session.scalar(select(QuestionVersion).limit(1)) is None
