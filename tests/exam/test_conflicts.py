"""Conflicts of interest (回避): the window, what the rule covers (fixed items, banks, category subtrees, tags), bank
lists, searches and exports, the decisions before publishing, the grading queue without the grader's own sheet,
and question images for a paper's own candidate."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from accounts.models import User
from core.audit import AuditEvent
from core.models import now_utc
from core.policy import Role
from exam import answers, conflicts, eligibility, grading, papers, publishing, visibility
from exam.attempts import grace, start_attempt, submit
from exam.models import Answer, Exam, ExamSection, ExamStatus, FixedItem, SectionRule
from question_bank import services as qb
from question_bank.models import Question
from question_bank.types import Content
from tests.factories import (
    PASSWORD,
    content,
    make_bank,
    make_cadre,
    make_category,
    make_question,
    make_unit,
    make_user,
)

SECRET = "回避测试的解析"
FORBIDDEN = "回避"  # in every refusal page of the rule (its Chinese text names it)
KEPT = "本单位唯一阅卷人，已签回避承诺"


def _q(bank, qtype="single", stem=None, **kwargs) -> Question:
    return make_question(
        bank=bank, qtype=qtype, status="active", explanation=SECRET, stem=stem or "题干______", **kwargs
    )


def _exam(code="COI1", unit=None, release="immediate", opens=None, closes=None, publish=True, **kwargs) -> Exam:
    """A drawn exam over `sections` (qtype, count, bank, category, tag) for the cadres of `unit`, open now."""
    now = now_utc()
    exam = Exam(
        code=code,
        title="回避测试考试",
        subject="政治理论",
        duration_minutes=60,
        opens_at=opens or now - timedelta(hours=1),
        closes_at=closes or now + timedelta(hours=2),
        pass_mark=1,
        eligibility={"unit_ids": [unit.id]},
        release_policy=release,
        review_policy="explanations",
        paper_mode=kwargs.pop("mode", "drawn"),
    )
    for i, (qtype, count, bank, category, tag) in enumerate(kwargs.pop("sections", ()), start=1):
        section = ExamSection(position=i, title=f"第{i}部分", qtype=qtype, points_per_question=2)
        section.rules.append(SectionRule(bank=bank, category=category, tag=tag, count=count))
        exam.sections.append(section)
    from core.extensions import db

    db.session.add(exam)
    db.session.flush()
    if publish:
        publishing.publish(make_user(roles=(Role.SYSTEM_ADMIN,)), exam, now)
    return exam


def _login(client, user):
    response = client.post_form("/login", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302


# ---------------------------------------------------------------- the window


def test_window_from_drawing_until_the_review_is_allowed(client, db):
    unit = make_unit()
    bank = make_bank()
    question = _q(bank)
    _q(bank)
    grader = make_cadre(unit=unit, roles=(Role.GRADER, Role.CADRE)).user
    exam = _exam(unit=unit, release="after_close", sections=[("single", 1, bank, None, None)], publish=False)
    db.session.commit()
    _login(client, grader)
    url = f"/banks/questions/{question.id}"
    assert client.get(url).status_code == 200  # before the papers are drawn: allowed

    publishing.publish(make_user(roles=(Role.ORG_ADMIN,)), exam, now_utc())
    db.session.commit()
    response = client.get(url)
    assert response.status_code == 403 and FORBIDDEN in response.get_data(as_text=True)
    assert SECRET not in response.get_data(as_text=True)

    # After the close but within the network grace: nobody's review is allowed yet.
    now = now_utc()
    exam.opens_at, exam.closes_at = now - timedelta(hours=3), now - timedelta(seconds=5)
    db.session.commit()
    assert client.get(url).status_code == 403
    # The close plus the grace has passed: the review is allowed, and so is the question again.
    exam.closes_at = now - grace() - timedelta(seconds=5)
    db.session.commit()
    assert client.get(url).status_code == 200
    # Released by hand: over too, whatever the policy.
    exam.release_policy, exam.opens_at, exam.closes_at = "manual", now - timedelta(days=2), now - timedelta(days=1)
    db.session.commit()
    assert client.get(url).status_code == 403  # by hand, closed, not released: no review yet
    exam.status = ExamStatus.RELEASED
    db.session.commit()
    assert client.get(url).status_code == 200


def test_window_agrees_with_review_visible(app, db):
    """The window's end is exam.visibility.review_visible's moment, for every policy and time."""
    unit = make_unit()
    bank = make_bank()
    _q(bank)
    cadre = make_cadre(unit=unit)
    for i, release in enumerate(("immediate", "after_close", "manual")):
        exam = _exam(code=f"W{i}", unit=unit, release=release, sections=[("single", 1, bank, None, None)])
        attempt = start_attempt(exam, cadre.user, now_utc())
        submit(attempt, now_utc())
        for offset in (timedelta(hours=-1), timedelta(hours=2, seconds=1), timedelta(hours=2) + grace()):
            now = now_utc() + offset
            assert conflicts.in_window(exam, now) == (not visibility.review_visible(attempt, now)), (release, offset)


# ---------------------------------------------------------------- what the rule covers


def test_rule_covers_fixed_items_banks_category_subtrees_and_tags(client, db):
    unit = make_unit()
    whole, by_category, by_tag, fixed_bank = make_bank(), make_bank(), make_bank(), make_bank()
    in_whole = _q(whole)
    essay_in_whole = _q(whole, qtype="essay")  # another type: no rule of this exam draws it
    chapter = make_category(by_category, "第一章")
    section = make_category(by_category, "第一节", parent=chapter)
    other_chapter = make_category(by_category, "第二章")
    in_subtree = _q(by_category, category=section)
    outside_subtree = _q(by_category, category=other_chapter)
    tagged = _q(by_tag)
    qb.update_question(
        make_user(roles=(Role.SYSTEM_ADMIN,)),
        tagged,
        qb.content_of(tagged.current_version),
        now_utc(),
        category=None,
        tags=["廉政"],
        difficulty=3,
    )
    untagged = _q(by_tag)
    draft_in_whole = make_question(bank=whole, status="draft")  # a draft can be approved before a retake's draw
    fixed_q = _q(fixed_bank)
    fixed_neighbour = _q(fixed_bank)

    _exam(
        unit=unit,
        sections=[
            ("single", 1, whole, None, None),
            ("single", 1, by_category, chapter, None),
            ("single", 1, by_tag, None, "廉政"),
        ],
    )
    fixed_exam = _exam(code="COI2", unit=unit, mode="fixed", publish=False)
    fixed_exam.sections.append(ExamSection(position=1, title="一", qtype="single", points_per_question=2))
    db.session.flush()
    fixed_exam.sections[0].fixed_items.append(FixedItem(position=1, question_version_id=fixed_q.current_version_id))
    db.session.flush()
    publishing.publish(make_user(roles=(Role.SYSTEM_ADMIN,)), fixed_exam, now_utc())
    grader = make_cadre(unit=unit, roles=(Role.GRADER, Role.CADRE)).user
    db.session.commit()

    _login(client, grader)
    covered = [in_whole, draft_in_whole, in_subtree, tagged, fixed_q]
    free = [essay_in_whole, outside_subtree, untagged, fixed_neighbour]
    for q in covered:
        for url in (f"/banks/questions/{q.id}", f"/banks/questions/{q.id}/versions/1"):
            response = client.get(url)
            assert response.status_code == 403, url
            assert FORBIDDEN in response.get_data(as_text=True) and SECRET not in response.get_data(as_text=True)
    for q in free:
        assert client.get(f"/banks/questions/{q.id}").status_code == 200, q.id


def test_bank_list_and_search_leave_them_out_and_the_export_is_refused(client, db):
    unit = make_unit()
    bank = make_bank(owner_unit=unit)
    chapter = make_category(bank, "第一章")
    pooled = [_q(bank, stem=f"池内题{i}______", category=chapter) for i in range(2)]
    free = _q(bank, stem="池外题______")
    in_review = make_question(bank=bank, status="in_review", stem="待审池内题", category=chapter)
    _exam(unit=unit, sections=[("single", 1, bank, chapter, None)])
    author = make_cadre(unit=unit, roles=(Role.AUTHOR, Role.CADRE)).user
    db.session.commit()
    _login(client, author)
    html = client.get(f"/banks/{bank.code}/").get_data(as_text=True)
    assert "池外题" in html and "池内题" not in html and FORBIDDEN in html
    html = client.get(f"/banks/{bank.code}/?q=池内").get_data(as_text=True)
    assert "池内题" not in html
    assert "待审池内题" not in client.get("/banks/review").get_data(as_text=True)
    for url in (
        f"/banks/{bank.code}/export?format=xlsx",
        f"/banks/{bank.code}/export/check?format=xlsx",
        f"/banks/{bank.code}/export?format=gift&category={chapter.id}",
    ):
        response = client.get(url)
        assert response.status_code == 403 and FORBIDDEN in response.get_data(as_text=True), url
    # Editing and the workflow are the question's pages too; bulk changes leave them alone.
    assert client.get(f"/banks/questions/{pooled[0].id}/edit").status_code == 403
    assert client.post_form(f"/banks/questions/{in_review.id}/approve").status_code == 403
    qids = [str(q.id) for q in [*pooled, free]]
    client.post_form(
        f"/banks/{bank.code}/bulk", {"action": "retire", "qid": qids, "difficulty": "3", "category_id": "0"}
    )
    db.session.expire_all()
    assert all(db.session.get(Question, q.id).status == "active" for q in pooled)
    assert db.session.get(Question, free.id).status == "retired"  # the action itself worked


# ---------------------------------------------------------------- before publishing


def _draft_with_conflicts(db):
    unit = make_unit("组织部")
    other_unit = make_unit("柳河镇")
    bank = make_bank(owner_unit=unit)
    for _i in range(3):
        _q(bank)
    author = make_cadre(unit=unit, roles=(Role.AUTHOR, Role.CADRE), name="作者甲").user
    far_author = make_cadre(unit=other_unit, roles=(Role.AUTHOR, Role.CADRE), name="外单位作者").user
    grader = make_cadre(unit=unit, roles=(Role.GRADER, Role.CADRE), name="阅卷乙").user
    org_admin = make_cadre(unit=unit, roles=(Role.ORG_ADMIN, Role.CADRE), name="管理丙").user
    plain = make_cadre(unit=unit, name="普通丁").user
    exam = Exam(
        code="DEC1",
        title="决定测试",
        subject="政治理论",
        duration_minutes=60,
        opens_at=now_utc() + timedelta(days=1),
        closes_at=now_utc() + timedelta(days=2),
        pass_mark=1,
        eligibility={"unit_ids": [unit.id, other_unit.id]},
    )
    section = ExamSection(position=1, title="一", qtype="single", points_per_question=2)
    section.rules.append(SectionRule(bank=bank, count=1))
    exam.sections.append(section)
    db.session.add(exam)
    db.session.commit()
    return exam, author, far_author, grader, org_admin, plain


def test_exam_page_lists_candidates_in_conflict_with_a_decision_each_audited(client, auth, db):
    exam, author, far_author, grader, org_admin, plain = _draft_with_conflicts(db)
    listed = {c.user.id for c in conflicts.pool_conflicts(exam)}
    assert listed == {author.id, grader.id, org_admin.id}  # the far author cannot read the bank; a cadre nothing
    auth.login_as("org_admin")
    html = client.get(f"/exams/{exam.code}/").get_data(as_text=True)
    assert "作者甲" in html and "阅卷乙" in html and "管理丙" in html and "外单位作者" not in html
    assert "待决定" in html or "未决定" in html

    # Keep needs a reason.
    client.post_form(f"/exams/{exam.code}/conflicts", {"user_id": grader.id, "decision": "keep", "reason": " "})
    assert conflicts.unresolved(exam) and all(c.kept_reason is None for c in conflicts.pool_conflicts(exam))
    client.post_form(f"/exams/{exam.code}/conflicts", {"user_id": grader.id, "decision": "keep", "reason": KEPT})
    client.post_form(f"/exams/{exam.code}/conflicts", {"user_id": author.id, "decision": "remove"})
    db.session.expire_all()
    assert eligibility.is_eligible(exam, grader) and not eligibility.is_eligible(exam, author)
    events = {e.action: e for e in db.session.scalars(select(AuditEvent).where(AuditEvent.target == "exam:DEC1"))}
    assert events["exam.conflict_kept"].detail == {"user": grader.id, "reason": KEPT}
    assert events["exam.conflict_removed"].detail == {"user": author.id}
    html = client.get(f"/exams/{exam.code}/").get_data(as_text=True)
    assert "本单位唯一阅卷人" in html
    assert author.id not in {c.user.id for c in conflicts.pool_conflicts(exam)}  # no longer a candidate
    # A plain cadre is no conflict to decide about.
    client.post_form(f"/exams/{exam.code}/conflicts", {"user_id": plain.id, "decision": "remove"})
    db.session.expire_all()
    assert eligibility.is_eligible(exam, plain)


def test_publishing_with_undecided_conflicts_asks_for_confirmation(client, auth, db):
    exam, _author, _far, _grader, org_admin, _plain = _draft_with_conflicts(db)
    auth.login_as("system_admin")
    html = client.get(f"/exams/{exam.code}/").get_data(as_text=True)
    assert 'name="accept_conflicts"' in html
    response = client.post_form(f"/exams/{exam.code}/publish", follow_redirects=True)
    assert "管理丙" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Exam, exam.id).status == "draft"
    client.post_form(f"/exams/{exam.code}/publish", {"accept_conflicts": "1"})
    db.session.expire_all()
    assert db.session.get(Exam, exam.id).status == "published"
    accepted = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "exam.conflicts_accepted"))
    assert set(accepted.detail["users"]) == {_author.id, _grader.id, org_admin.id}


def test_publish_command_refuses_undecided_conflicts_unless_accepted(runner, db):
    exam, *_people = _draft_with_conflicts(db)
    result = runner.invoke(args=["exams", "publish", exam.code])
    assert result.exit_code != 0
    db.session.expire_all()
    assert db.session.get(Exam, exam.id).status == "draft"
    result = runner.invoke(args=["exams", "publish", exam.code, "--accept-conflicts"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(Exam, exam.id).status == "published"


def test_once_all_are_decided_publishing_needs_no_confirmation_and_kept_people_stay_under_the_rule(client, auth, db):
    exam, author, far_author, grader, org_admin, _plain = _draft_with_conflicts(db)
    actor = make_user(roles=(Role.ORG_ADMIN,))
    conflicts.keep_conflicted(actor, exam, grader, "唯一阅卷人", now_utc())
    conflicts.keep_conflicted(actor, exam, org_admin, "分管领导须参考", now_utc())
    conflicts.remove_conflicted(actor, exam, author, now_utc())
    with pytest.raises(Exception, match="不在|not a candidate in conflict|回避"):
        conflicts.keep_conflicted(actor, exam, far_author, "x", now_utc())
    db.session.commit()
    auth.login_as("system_admin")
    client.post_form(f"/exams/{exam.code}/publish")
    db.session.expire_all()
    assert db.session.get(Exam, exam.id).status == "published"
    question = db.session.scalar(select(Question).where(Question.bank_id == exam.sections[0].rules[0].bank_id))
    auth.logout()
    _login(client, grader)
    assert client.get(f"/banks/questions/{question.id}").status_code == 403


# ---------------------------------------------------------------- grading


def _sat_with_grader(db, others=2):
    """An exam (single, true/false, essay) sat by a grader and `others` cadres, closed: only essays to grade."""
    from tests.factories import make_open_exam

    exam, first = make_open_exam(release="manual", review="answers", code="GR1")
    unit = first.cadre.unit
    grader = make_cadre(unit=unit, roles=(Role.GRADER, Role.CADRE)).user
    people = [grader, first] + [make_cadre(unit=unit).user for _ in range(others - 1)]
    papers.prepare_papers(exam, now_utc())
    attempts = {}
    for i, user in enumerate(people):
        attempt = start_attempt(exam, user, now_utc())
        for item in attempt.paper.items:
            if item.section.qtype == "essay":
                answers.save_answer(attempt, item.position, f"第{i}份论述", 1, now_utc())
        submit(attempt, now_utc())
        attempts[user.id] = attempt
    now = now_utc()
    exam.opens_at, exam.closes_at = now - timedelta(hours=3), now - timedelta(minutes=5)
    db.session.commit()
    return exam, grader, attempts


def _essay(db, attempt):
    item = next(i for i in attempt.paper.items if i.section.qtype == "essay")
    return db.session.scalar(select(Answer).where(Answer.attempt_id == attempt.id, Answer.position == item.position))


@pytest.mark.parametrize("by", ["item", "candidate"])
def test_grading_queue_skips_the_graders_own_sheet_and_says_why(client, db, by):
    exam, grader, attempts = _sat_with_grader(db)
    own = _essay(db, attempts[grader.id])
    own_id = own.id
    assert grading.next_to_grade(exam, grader=grader).id != own_id
    assert grading.progress(exam, grader).total == 2 and grading.progress(exam).total == 3
    _login(client, grader)
    html = client.get(f"/grading/{exam.code}/").get_data(as_text=True)
    assert "0 / 2" in html or "2 份" in html or "共 2" in html or "2" in html
    assert "其他阅卷人" in html  # why their own sheet is not there
    first = grading.next_to_grade(exam, grader=grader)
    seen = []
    answer_id = first.id
    while answer_id is not None and len(seen) < 5:
        assert answer_id != own_id
        seen.append(answer_id)
        response = client.post_form(f"/grading/{exam.code}/answers/{answer_id}?by={by}", {"points": "1"})
        assert response.status_code == 302
        location = response.headers["Location"]
        answer_id = int(location.split("/answers/")[1].split("?")[0]) if "/answers/" in location else None
    assert len(seen) == 2
    html = client.get(f"/grading/{exam.code}/", follow_redirects=True).get_data(as_text=True)
    assert "只剩你自己的答卷" in html
    # The own answer by a typed address: not shown, sent back with the reason.
    response = client.get(f"/grading/{exam.code}/answers/{own_id}", follow_redirects=True)
    text = response.get_data(as_text=True)
    assert "第0份论述" not in text and "其他阅卷人" in text
    db.session.expire_all()
    assert db.session.get(Answer, own_id).points is None


# ---------------------------------------------------------------- images


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


def test_a_papers_images_go_to_its_own_candidate_and_to_no_one_else_without_bank_rights(client, app, db):
    from question_bank.images import store_image

    url = store_image(PNG)
    name = url.rsplit("/", 1)[1]
    unit = make_unit()
    bank = make_bank()
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    stem = f'<p>看图作答：<img src="{url}" alt="图"></p>'
    qb.create_question(
        admin, bank, "single", Content(**{**content("single").__dict__, "stem": stem}), now_utc(), status="active"
    )
    exam = _exam(unit=unit, sections=[("single", 1, bank, None, None)])
    candidate = make_cadre(unit=unit).user
    stranger = make_cadre().user
    grader_candidate = make_cadre(unit=unit, roles=(Role.GRADER, Role.CADRE)).user
    outside_grader = make_user(roles=(Role.GRADER,))
    attempt = start_attempt(exam, candidate, now_utc())
    db.session.commit()

    image = f"/banks/images/{name}"
    _login(client, candidate)
    assert url in client.get(f"/my/attempts/{attempt.id}").get_data(as_text=True)
    response = client.get(image)
    assert response.status_code == 200 and response.data == PNG
    for who, status in ((stranger, 403), (grader_candidate, 403), (outside_grader, 200)):
        client.post_form("/logout")
        _login(client, who)
        response = client.get(image)
        assert response.status_code == status, who.username
    # The grader who sits it gets it once it is on the paper of their own attempt.
    start_attempt(exam, grader_candidate, now_utc())
    db.session.commit()
    client.post_form("/logout")
    _login(client, grader_candidate)
    assert client.get(image).status_code == 200
    # And the candidate keeps it for the review of a submitted attempt.
    submit(attempt, now_utc())
    db.session.commit()
    client.post_form("/logout")
    _login(client, candidate)
    assert client.get(image).status_code == 200


# ---------------------------------------------------------------- the demo district, as the issue found it


def test_demo_candidates_with_other_roles_cannot_read_their_running_paper(runner, app, db, monkeypatch):
    """grader01, author01 and zzb001 are candidates of GWZS2026 in the demo: with grader01's attempt running,
    their paper's question, the whole bank's export and the exam's keys are refused; the system admin, who does
    not sit it, still reads them."""
    from demo import district

    monkeypatch.setenv("QE_ALLOW_DEMO", "1")
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    exam = db.session.scalar(select(Exam).where(Exam.code == "GWZS2026"))
    names = ["grader01", "author01", "zzb001"]
    users = {u.username: u for u in db.session.scalars(select(User).where(User.username.in_(names)))}
    assert all(eligibility.is_eligible(exam, u) for u in users.values())
    attempt = start_attempt(exam, users["grader01"], now_utc())
    db.session.commit()
    version = attempt.paper.items[0].version
    bank = db.session.get(Question, version.question_id).bank

    def client_of(username):
        client = app.test_client()
        client.post_form("/login", {"username": username, "password": district.DEMO_PASSWORD})
        return client

    response = client_of("grader01").get(f"/banks/questions/{version.question_id}")
    assert response.status_code == 403 and FORBIDDEN in response.get_data(as_text=True)
    assert client_of("author01").get(f"/banks/{bank.code}/export?format=xlsx").status_code == 403
    assert client_of("zzb001").get("/exams/GWZS2026/keys").status_code == 403
    admin = client_of("admin")
    assert admin.get(f"/banks/questions/{version.question_id}").status_code == 200
    assert admin.get("/exams/GWZS2026/keys").status_code == 200


def test_another_exam_that_can_draw_the_pool_keeps_its_questions_but_not_its_results_from_the_candidate(client, db):
    """An admin sitting E may not read the keys, paper or item analysis of F, which draws from E's pool; F's
    ranking is not E's results, and an exam over another bank is not concerned at all."""
    unit = make_unit()
    shared, elsewhere = make_bank(), make_bank()
    for bank in (shared, shared, elsewhere):
        _q(bank)
    _exam(code="SITS", unit=unit, sections=[("single", 1, shared, None, None)])
    others = make_unit()
    other_exam = _exam(code="SHARE", unit=others, sections=[("single", 1, shared, None, None)])
    apart = _exam(code="APART", unit=others, sections=[("single", 1, elsewhere, None, None)])
    sitter = make_cadre(unit=others).user
    for exam in (other_exam, apart):
        submit(start_attempt(exam, sitter, now_utc()), now_utc())
    admin = make_cadre(unit=unit, roles=(Role.ORG_ADMIN, Role.CADRE)).user
    db.session.commit()
    _login(client, admin)
    for url in ("/exams/SHARE/keys", "/exams/SHARE/paper", "/reports/exams/SHARE/items", "/grading/SHARE/"):
        assert client.get(url).status_code == 403, url
    assert client.get("/reports/exams/SHARE/ranking").status_code == 200
    for url in ("/exams/APART/keys", "/reports/exams/APART/items"):
        assert client.get(url).status_code == 200, url


def test_the_audit_page_keeps_key_corrections_and_grades_from_a_candidate_in_conflict(runner, app, db, monkeypatch):
    """zzb001, an organisation-department admin who sits GWZS2026, reads the audit log; while the exam is in its
    window, the details of key corrections, regrades and manual grades (keys and points) are withheld from them,
    not from the system admin, who does not sit it."""
    from core import audit
    from demo import district

    monkeypatch.setenv("QE_ALLOW_DEMO", "1")
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    for action in ("exam.key_corrected", "exam.regraded", "answer.graded"):
        audit.record(action, target="exam:GWZS2026", detail={"secret": f"SECRET-{action}"})
    audit.record("exam.settings_changed", target="exam:GWZS2026", detail={"note": "PLAIN-DETAIL"})
    db.session.commit()

    def audit_page(username):
        client = app.test_client()
        client.post_form("/login", {"username": username, "password": district.DEMO_PASSWORD})
        response = client.get("/admin/audit?target=GWZS2026")
        assert response.status_code == 200
        return response.get_data(as_text=True)

    candidate, admin = audit_page("zzb001"), audit_page("admin")
    for action in ("exam.key_corrected", "exam.regraded", "answer.graded"):
        assert f"SECRET-{action}" not in candidate
        assert f"SECRET-{action}" in admin
    assert "PLAIN-DETAIL" in candidate


def test_a_cadre_grader_who_sat_sees_why_grading_waits_then_is_led_from_sheet_to_sheet(client, db):
    """A cadre who is also a grader and a candidate of the exam: before the close the grading list says grading
    waits for the close (the rule core.policy applies) and offers no way in; after it, the list leads to the next
    answer they may grade, each save to the next such one, and the end says only their own sheet is left."""
    exam, grader, attempts = _sat_with_grader(db)
    assert grader.role_names >= {Role.CADRE, Role.GRADER}
    own_id = _essay(db, attempts[grader.id]).id
    closes = exam.closes_at
    exam.closes_at = now_utc() + timedelta(hours=1)
    db.session.commit()
    _login(client, grader)
    html = client.get("/grading/").get_data(as_text=True)
    assert exam.title in html and "考试结束后即可阅卷" in html
    assert "/answers/" not in html and f'href="/grading/{exam.code}/"' not in html
    refused = client.get(f"/grading/{exam.code}/")  # a typed address: refused with the same reason
    assert refused.status_code == 403 and "考试结束后即可阅卷" in refused.get_data(as_text=True)
    wait = grading.grading_wait(grader, exam, now_utc())
    assert wait.sits_it and wait.opens_at == exam.closes_at
    assert grading.grading_wait(grader, exam, exam.closes_at + timedelta(seconds=1)) is None
    exam.closes_at = closes
    db.session.commit()
    html = client.get("/grading/").get_data(as_text=True)
    assert "考试结束后即可阅卷" not in html
    link = html.split('href="/grading/GR1/answers/', 1)[1].split('"', 1)[0]
    answer_id = int(link.split("?")[0])
    seen = []
    while answer_id is not None:
        assert answer_id != own_id and answer_id not in seen
        seen.append(answer_id)
        assert "第" in client.get(f"/grading/{exam.code}/answers/{answer_id}").get_data(as_text=True)
        response = client.post_form(f"/grading/{exam.code}/answers/{answer_id}?by=item", {"points": "1"})
        location = response.headers["Location"]
        answer_id = int(location.split("/answers/")[1].split("?")[0]) if "/answers/" in location else None
    assert len(seen) == 2
    html = client.get("/grading/").get_data(as_text=True)
    assert "/answers/" not in html and "只剩你自己的答卷" in html


def test_grading_waits_for_the_review_of_an_exam_that_shares_the_questions(db):
    """A grader who sits exam A, whose questions exam B can draw: B's grading waits until A's review is allowed
    (A's close plus grace; with a manual release, A's release)."""
    unit = make_unit()
    bank = make_bank(owner_unit=unit)
    for i in range(2):
        _q(bank, stem=f"共享题{i}______")
    now = now_utc()
    mine = _exam("OWNA", unit=unit, release="immediate", sections=(("single", 1, bank, None, None),))
    other = _exam("OTHB", unit=make_unit(), opens=now - timedelta(hours=3), closes=now - timedelta(hours=2),
                  sections=(("single", 1, bank, None, None),))  # fmt: skip
    apart = make_bank(owner_unit=unit)
    _q(apart, stem="无关题______")
    _exam("OWNC", unit=unit, release="manual", sections=(("single", 1, apart, None, None),))  # shares nothing
    grader = make_cadre(unit=unit, roles=(Role.GRADER, Role.CADRE)).user
    db.session.commit()
    wait = grading.grading_wait(grader, other, now)
    assert wait is not None and not wait.sits_it and [e.code for e in wait.own_exams] == ["OWNA"]
    assert wait.opens_at == mine.closes_at + grace()
    mine.release_policy = "manual"
    db.session.commit()
    assert grading.grading_wait(grader, other, now).opens_at is None
