"""Bank and question rules: versions, the review workflow, bulk changes, duplicates, scope."""

from datetime import timedelta

import pytest

from core.errors import DomainError
from core.models import now_utc
from core.policy import Role
from question_bank import services
from question_bank.models import QuestionStatus, QuestionVersion  # noqa: F401
from question_bank.richtext import IMAGE_URL_PREFIX, from_text, sanitize
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
    assert q.status == QuestionStatus.IN_REVIEW  # the new wording is reviewed before papers use it
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
    # Underscores in an attribute never become a blank, and attributes other than an image's are dropped.
    from question_bank.rendering import stem_with_blanks

    stem = sanitize(f'<span title="___">甲</span><img src="{IMAGE_URL_PREFIX}{"a" * 64}.png" alt="x___y">乙______')
    assert "title" not in stem and "___" not in stem.split("乙")[0]
    assert str(stem_with_blanks(stem)).count("<input") == 1


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
    db.session.flush()
    assert services.category_path_names(c.parent) == "党章党规/纪律处分"
    assert [x.name for x in services.category_tree(bank)] == ["党章党规", "纪律处分"]
    with pytest.raises(DomainError):
        services.create_category(bank, "甲>乙")
    sibling = services.ensure_category_path(bank, "党章党规/其他")
    with pytest.raises(DomainError):
        services.rename_category(sibling, "纪律处分")


def test_editing_an_active_question_sends_it_to_review(app, db):
    unit = make_unit()
    author = make_cadre(unit=unit, roles=(Role.AUTHOR, Role.CADRE)).user
    editor = make_cadre(unit=unit, roles=(Role.AUTHOR, Role.CADRE)).user
    reviewer = make_cadre(unit=unit, roles=(Role.AUTHOR, Role.CADRE)).user
    q = make_question(bank=make_bank(owner_unit=unit), actor=author, status="active")
    version = services.update_question(
        editor, q, content("single", stem="新的措辞______"), now_utc(), category=None, tags=[], difficulty=3
    )
    assert q.status == QuestionStatus.IN_REVIEW
    with pytest.raises(DomainError):
        services.approve(editor, q, now_utc())  # the last editor is an author too
    with pytest.raises(DomainError) as exc:
        services.approve(reviewer, q, now_utc(), version_id=version.id - 1)  # read an older version
    assert exc.value.code == "stale_review"
    services.approve(reviewer, q, now_utc(), version_id=version.id)
    assert q.status == QuestionStatus.ACTIVE


def test_restore_goes_through_review(app, db):
    admin = make_user(roles=(Role.ORG_ADMIN,))
    q = make_question(status="active")
    with pytest.raises(DomainError):
        services.retire(admin, make_question(), now_utc())  # a draft is not retired, just never submitted
    services.retire(admin, q, now_utc())
    services.restore(admin, q, now_utc())
    assert q.status == QuestionStatus.IN_REVIEW


def test_new_tag_on_many_questions_at_once(app, db):
    bank = make_bank()
    questions = [make_question(bank=bank, stem=f"题{i}______") for i in range(3)]
    services.bulk_update(make_user(roles=(Role.ORG_ADMIN,)), questions, "tag", now_utc(), tags=["全新的知识点"])
    db.session.flush()
    assert all([t.name for t in q.tags] == ["全新的知识点"] for q in questions)


def test_duplicate_index_compares_a_bounded_number_of_alike_stems(app, monkeypatch):
    index = services.DuplicateIndex()
    for i in range(3000):
        index.add(i + 1, services.fingerprint(f"下列关于宪法的说法正确的是第{i}条{'甲乙丙丁'[i % 4] * (i % 7)}"))
    made = []
    real = services.difflib.SequenceMatcher
    monkeypatch.setattr(services.difflib, "SequenceMatcher", lambda *a, **k: made.append(1) or real(*a, **k))
    index.match(services.fingerprint("下列关于宪法的说法正确的是第99999条"))
    assert 0 < len(made) <= 2 * services.DuplicateIndex.MAX_COMPARISONS  # not one per stored stem
