"""Exam administration pages: access for every role, the detail page, publishing, files."""

import io
import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from core.models import LOCAL_ZONE
from core.policy import Role
from exam.files import export_exam
from exam.models import Exam, FixedItem
from tests.exam.test_engine import T0, fill_bank, make_exam
from tests.factories import make_bank, make_cadre, make_unit, make_user

ANON = "anonymous"
ROLES = [ANON, *[r.value for r in Role]]
DISTRICT = {"system_admin", "org_admin"}
ROUTES = {
    "exam.exams": ("GET", "/exams/"),
    "exam.exam_new": ("GET", "/exams/new"),
    "exam.import_file": ("POST", "/exams/import"),
    "exam.exam": ("GET", "/exams/{code}/"),
    "exam.exam_settings": ("GET", "/exams/{code}/settings"),
    "exam.access_code": ("POST", "/exams/{code}/access-code"),
    "exam.eligibility": ("GET", "/exams/{code}/eligibility"),
    "exam.eligible": ("GET", "/exams/{code}/eligible"),
    "exam.paper": ("GET", "/exams/{code}/paper"),
    "exam.section_add": ("POST", "/exams/{code}/sections"),
    "exam.section_edit": ("POST", "/exams/{code}/sections/{section}"),
    "exam.section_delete": ("POST", "/exams/{code}/sections/{section}/delete"),
    "exam.section_move": ("POST", "/exams/{code}/sections/{section}/move"),
    "exam.rule_add": ("POST", "/exams/{code}/sections/{section}/rules"),
    "exam.rule_delete": ("POST", "/exams/{code}/rules/{rule}/delete"),
    "exam.questions_add": ("POST", "/exams/{fixed}/sections/{fixed_section}/questions"),
    "exam.item_delete": ("POST", "/exams/{fixed}/items/{item}/delete"),
    "exam.item_move": ("POST", "/exams/{fixed}/items/{item}/move"),
    "exam.publish": ("POST", "/exams/{code}/publish"),
    "exam.prepare": ("POST", "/exams/{code}/prepare"),
    "exam.withdraw": ("POST", "/exams/{code}/withdraw"),
    "exam.release": ("POST", "/exams/{code}/release"),
    "exam.candidate": ("POST", "/exams/{code}/candidates"),
    "exam.conflict": ("POST", "/exams/{code}/conflicts"),
    "exam.export": ("GET", "/exams/{code}/export"),
    "exam.attempts": ("GET", "/exams/{code}/attempts"),
    "exam.attempt": ("GET", "/exams/{code}/attempts/{attempt}"),
    "exam.keys": ("GET", "/exams/{code}/keys"),
    "exam.key": ("GET", "/exams/{code}/keys/{version}"),
}


def test_every_exam_route_is_in_the_matrix(app):
    assert {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("exam.")} == set(ROUTES)


def _matrix_exams(db):
    """A published exam with an attempt, and a draft fixed exam with one question."""
    from exam import attempts, publishing

    bank = make_bank()
    questions = fill_bank(bank, n=3)
    unit = make_unit()
    sitter = make_cadre(unit=unit)
    exam = make_exam(bank, eligibility={"unit_ids": [unit.id]}, opens_at=T0 - timedelta(hours=1),
                     closes_at=T0 + timedelta(days=400))  # fmt: skip
    admin = make_user(roles=(Role.ORG_ADMIN,))
    publishing.publish(admin, exam, T0 - timedelta(days=1))
    attempt = attempts.start_attempt(exam, sitter.user, T0)
    fixed = make_exam(bank, mode="fixed", code="FIX")
    fixed.sections[0].fixed_items.append(FixedItem(position=1, question_version_id=questions[0].current_version_id))
    db.session.commit()
    return {"code": exam.code, "section": exam.sections[0].id, "rule": exam.sections[0].rules[0].id,
            "attempt": attempt.id, "fixed": fixed.code, "fixed_section": fixed.sections[0].id,
            "item": fixed.sections[0].fixed_items[0].id,
            "version": attempt.paper.items[0].question_version_id}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", sorted(ROUTES))
def test_access_matrix(client, auth, db, role, route):
    ids = _matrix_exams(db)
    if role != ANON:
        auth.login_as(role)
    method, template = ROUTES[route]
    url = template.format(**ids)
    response = client.get(url) if method == "GET" else client.post_form(url)
    if role in DISTRICT:
        assert response.status_code in (200, 302), (role, route, response.status_code)
    elif role == ANON:
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    else:
        assert response.status_code == 403, (role, route, response.status_code)


def test_detail_explains_eligibility_and_publish_draws_papers(client, auth, db):
    bank = make_bank()
    fill_bank(bank, n=4)
    unit = make_unit("青山镇")
    young = make_cadre(unit=unit, birth_date=date(2000, 1, 1))
    exam = make_exam(bank, eligibility={"unit_ids": [unit.id], "max_age": 35, "age_on": "2026-12-05"})
    db.session.commit()
    auth.login_as("org_admin")
    html = client.get(f"/exams/{exam.code}/?who={young.user.username}").get_data(as_text=True)
    assert "青山镇" in html and "符合“35岁以下”" in html
    assert html.count('class="question ') == 3  # the sample paper
    client.post_form(f"/exams/{exam.code}/publish")
    db.session.expire_all()
    assert db.session.get(Exam, exam.id).status == "published"


def test_import_and_export_through_the_pages(client, auth, db):
    bank = make_bank(code="QB")
    fill_bank(bank, n=3)
    exam = make_exam(bank, code="ORIG")
    db.session.commit()
    auth.login_as("org_admin")
    data = json.loads(client.get("/exams/ORIG/export").data)
    assert data == export_exam(exam)
    response = client.post_form(
        "/exams/import", {"file": (io.BytesIO(json.dumps(data).encode()), "e.json"), "code": "COPY"},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert response.headers["Location"].endswith("/exams/COPY/")
    assert db.session.scalar(select(Exam).where(Exam.code == "COPY")).status == "draft"
    response = client.post_form(
        "/exams/import", {"file": (io.BytesIO(b"{not json"), "e.json")}, content_type="multipart/form-data"
    )
    assert response.headers["Location"].endswith("/exams/")


@pytest.mark.usefixtures("clock_before_t0")
def test_hand_added_person_with_extra_time_gets_a_paper_and_the_time(client, auth, db):
    from exam import attempts, publishing
    from exam.models import Paper

    bank = make_bank()
    fill_bank(bank, n=3)
    exam = make_exam(bank, eligibility={"unit_ids": [make_unit().id]}, duration_minutes=60)
    outsider = make_cadre(unit=make_unit())
    publishing.publish(make_cadre(unit=make_unit(), roles=(Role.ORG_ADMIN,)).user, exam, T0 - timedelta(days=1))
    db.session.commit()
    auth.login_as("org_admin")
    form = {"username": outsider.user.username, "include": "add", "extra_minutes": "30", "note": "视力障碍"}
    client.post_form(f"/exams/{exam.code}/candidates", form)
    db.session.expire_all()
    assert db.session.scalar(select(Paper).where(Paper.user_id == outsider.user_id)) is not None
    attempt = attempts.start_attempt(db.session.get(Exam, exam.id), outsider.user, T0)
    assert attempt.deadline_at == T0 + timedelta(minutes=90)
    db.session.commit()
    # Nobody is removed in the middle of sitting the exam.
    client.post_form(f"/exams/{exam.code}/candidates", {**form, "include": "remove"})
    from exam.models import ExamCandidate

    db.session.expire_all()
    assert db.session.scalar(select(ExamCandidate.included).where(ExamCandidate.user_id == outsider.user_id)) is True


def test_candidate_form_shows_what_is_saved(client, auth, db):
    bank = make_bank()
    fill_bank(bank, n=3)
    exam = make_exam(bank)
    person = make_cadre(unit=make_unit())
    db.session.commit()
    auth.login_as("org_admin")
    client.post_form(f"/exams/{exam.code}/candidates", {"username": person.user.username, "include": "add",
                                                        "extra_minutes": "25", "note": "照顾"})  # fmt: skip
    html = client.get(f"/exams/{exam.code}/?who={person.user.username}").get_data(as_text=True)
    assert '<option value="add" selected>' in html and 'value="25"' in html and 'value="照顾"' in html


def _new_exam_form(**overrides):
    form = {"code": "ZZLL2027", "title": "2027年度政治理论水平任职资格考试", "subject": "政治理论",
            "instructions": "独立作答。", "paper_mode": "drawn", "duration_minutes": "90",
            "opens_at": "2026-12-05T09:00", "closes_at": "2026-12-05T12:00", "attempts_allowed": "1",
            "pass_mark": "6", "shuffle_questions": "y", "shuffle_options": "y", "mc_policy": "partial",
            "release_policy": "after_close", "review_policy": "answers", "focus_loss_limit": "5"}  # fmt: skip
    return {**form, **overrides}


@pytest.mark.usefixtures("clock_before_t0")
def test_an_exam_is_defined_through_the_pages(client, auth, db):
    bank = make_bank(code="QB")
    fill_bank(bank, n=6)
    town = make_unit("青山镇")
    chief = make_cadre(unit=town, rank="section_chief", birth_date=date(1995, 3, 1))
    staff = make_cadre(unit=town, rank="staff", birth_date=date(1995, 3, 1))
    db.session.commit()
    auth.login_as("org_admin")
    assert "新建考试" in client.get("/exams/new").get_data(as_text=True)
    response = client.post_form("/exams/new", _new_exam_form())
    assert response.status_code == 302 and response.headers["Location"].endswith("/exams/ZZLL2027/")
    exam = db.session.scalar(select(Exam).where(Exam.code == "ZZLL2027"))
    assert exam.opens_at.isoformat() == "2026-12-05T01:00:00+00:00"  # typed in Beijing time
    assert (exam.mc_policy, exam.focus_loss_limit, exam.shuffle_options) == ("partial", 5, True)
    # Errors come back next to their fields, and nothing is created.
    bad = _new_exam_form(code="X1", closes_at="2026-12-05T08:00")
    html = client.post_form("/exams/new", bad).get_data(as_text=True)
    assert "考试结束时间须晚于开始时间" in html and db.session.scalar(select(Exam).where(Exam.code == "X1")) is None
    client.post_form("/exams/ZZLL2027/eligibility", {"unit_ids": [str(town.id)], "ranks": ["section_chief"],
                                                   "max_age": "35", "age_on": "2026-12-05"})  # fmt: skip
    client.post_form("/exams/ZZLL2027/sections", {"title": "一、单选题", "qtype": "single", "points": "2"})
    db.session.expire_all()
    exam = db.session.get(Exam, exam.id)
    section = exam.sections[0]
    client.post_form(f"/exams/ZZLL2027/sections/{section.id}/rules", {"bank_id": str(bank.id), "category_id": "0",
                     "difficulty_min": "1", "difficulty_max": "5", "count": "4"})  # fmt: skip
    paper = client.get("/exams/ZZLL2027/paper").get_data(as_text=True)
    assert "一、单选题" in paper and ">6<" in paper  # the rule's pool: six active questions
    listed = client.get("/exams/ZZLL2027/eligible").get_data(as_text=True)
    assert chief.user.username in listed and staff.user.username not in listed
    detail = client.get("/exams/ZZLL2027/").get_data(as_text=True)
    assert "符合条件1人" in detail and detail.count('class="question ') == 4  # the sample paper
    assert client.post_form("/exams/ZZLL2027/publish").status_code == 302
    db.session.expire_all()
    exam = db.session.get(Exam, exam.id)
    assert exam.status == "published"
    from exam.models import Paper

    assert set(db.session.scalars(select(Paper.user_id))) == {chief.user_id}
    assert staff.user_id not in set(db.session.scalars(select(Paper.user_id)))
    # Published: the paper is read-only until the exam goes back to draft.
    client.post_form("/exams/ZZLL2027/sections", {"title": "二、判断题", "qtype": "truefalse", "points": "1"})
    db.session.expire_all()
    assert len(db.session.get(Exam, exam.id).sections) == 1
    client.post_form("/exams/ZZLL2027/withdraw")
    db.session.expire_all()
    assert db.session.get(Exam, exam.id).status == "draft" and db.session.scalar(select(Paper.id)) is None


def test_settings_lock_after_the_first_start(client, auth, db):
    from exam import attempts, publishing

    bank = make_bank()
    fill_bank(bank, n=3)
    unit = make_unit()
    sitter = make_cadre(unit=unit)
    close = T0 + timedelta(days=400, seconds=17)  # an imported close may have seconds
    exam = make_exam(bank, eligibility={"unit_ids": [unit.id]}, closes_at=close)
    publishing.publish(make_user(roles=(Role.ORG_ADMIN,)), exam, T0 - timedelta(days=1))
    attempts.start_attempt(exam, sitter.user, T0)
    db.session.commit()
    auth.login_as("org_admin")
    html = client.get(f"/exams/{exam.code}/settings").get_data(as_text=True)
    import re

    def tag(name):
        return re.search(rf'<(?:input|select|textarea)[^>]*name="{name}"[^>]*>', html).group(0)

    assert "disabled" in tag("duration_minutes") and "disabled" in tag("paper_mode")
    assert "disabled" not in tag("closes_at") and "disabled" not in tag("release_policy")
    # What a browser sends: the enabled fields only (disabled ones are left out of the form data).
    sent = {name: re.search(r'value="([^"]*)"', tag(name)).group(1) for name in ("closes_at",)}
    sent |= {"release_policy": "manual", "review_policy": "score"}
    response = client.post_form(f"/exams/{exam.code}/settings", sent)
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    exam = db.session.get(Exam, exam.id)
    assert exam.release_policy == "manual" and exam.closes_at == close  # the unchanged minute keeps its seconds
    assert exam.duration_minutes == 60 and exam.pass_mark == 4
    later = (close + timedelta(days=30)).astimezone(LOCAL_ZONE)
    client.post_form(f"/exams/{exam.code}/settings", {**sent, "closes_at": later.strftime("%Y-%m-%dT%H:%M")})
    db.session.expire_all()
    assert db.session.get(Exam, exam.id).closes_at.date() == (close + timedelta(days=30)).date()
    # A locked field sent anyway (a crafted request) changes nothing.
    client.post_form(f"/exams/{exam.code}/settings", {**sent, "duration_minutes": "5", "pass_mark": "1"})
    db.session.expire_all()
    assert db.session.get(Exam, exam.id).duration_minutes == 60
    client.post_form(f"/exams/{exam.code}/sections/{exam.sections[0].id}/delete")
    db.session.expire_all()
    assert len(db.session.get(Exam, exam.id).sections) == 1


def test_parts_of_another_exam_are_not_found(client, auth, db):
    ids = _matrix_exams(db)
    auth.login_as("org_admin")
    assert client.post_form(f"/exams/{ids['fixed']}/sections/{ids['section']}/delete").status_code == 404
    assert client.post_form(f"/exams/{ids['code']}/items/{ids['item']}/delete").status_code == 404
    assert client.get(f"/exams/{ids['fixed']}/attempts/{ids['attempt']}").status_code == 404


def test_reading_an_attempt_changes_nothing(client, auth, db):
    from exam.models import Attempt

    ids = _matrix_exams(db)
    from core.models import now_utc

    attempt = db.session.get(Attempt, ids["attempt"])
    overdue = now_utc() - timedelta(minutes=5)
    attempt.started_at, attempt.deadline_at = overdue - timedelta(hours=1), overdue  # its time ran out
    db.session.commit()
    auth.login_as("org_admin")
    html = client.get(f"/exams/{ids['code']}/attempts/{ids['attempt']}").get_data(as_text=True)
    assert "时间已到" in html
    db.session.expire_all()
    attempt = db.session.get(Attempt, ids["attempt"])
    assert attempt.status == "in_progress" and attempt.ended_at is None
    assert attempt.deadline_at == overdue
    # The list of attempts shows results, so overdue attempts are finalized first.
    client.get(f"/exams/{ids['code']}/attempts")
    db.session.expire_all()
    assert db.session.get(Attempt, ids["attempt"]).status == "expired"


def test_a_fixed_paper_is_chosen_from_a_bank(client, auth, db):
    bank = make_bank()
    singles = fill_bank(bank, n=3)
    fill_bank(bank, qtype="truefalse", n=2)
    db.session.commit()
    auth.login_as("org_admin")
    client.post_form("/exams/new", _new_exam_form(code="FX", paper_mode="fixed", pass_mark="2"))
    client.post_form("/exams/FX/sections", {"title": "一、单选题", "qtype": "single", "points": "2"})
    section = db.session.scalar(select(Exam).where(Exam.code == "FX")).sections[0]
    html = client.get(f"/exams/FX/paper?pick={section.id}&bank={bank.id}").get_data(as_text=True)
    assert html.count('name="picked"') == 3  # only active questions of the section's type
    client.post_form(f"/exams/FX/sections/{section.id}/questions", {"picked": [str(singles[1].id)],
                                                                  "ids": f"{singles[0].id}"})  # fmt: skip
    db.session.expire_all()
    section = db.session.scalar(select(Exam).where(Exam.code == "FX")).sections[0]
    chosen = [i.version.question_id for i in section.fixed_items]
    assert chosen == [singles[0].id, singles[1].id]
    response = client.post_form(f"/exams/FX/sections/{section.id}/questions", {"ids": "999999"}, follow_redirects=True)
    assert "999999" in response.get_data(as_text=True)


def test_release_by_hand(client, auth, db):
    from core.models import now_utc
    from exam import attempts, publishing
    from exam.models import Attempt

    bank = make_bank()
    fill_bank(bank, n=3)
    unit = make_unit()
    sitter = make_cadre(unit=unit)
    now = now_utc()
    exam = make_exam(bank, eligibility={"unit_ids": [unit.id]}, release_policy="manual",
                     opens_at=now - timedelta(hours=2), closes_at=now + timedelta(hours=1))  # fmt: skip
    publishing.publish(make_user(roles=(Role.ORG_ADMIN,)), exam, now - timedelta(days=1))
    attempt = attempts.start_attempt(exam, sitter.user, now - timedelta(hours=1))
    attempts.submit(attempt, now - timedelta(minutes=30))
    db.session.commit()
    auth.login_as("org_admin")
    response = client.post_form(f"/exams/{exam.code}/release", follow_redirects=True)
    assert "考试结束后才能发布成绩" in response.get_data(as_text=True)
    db.session.get(Exam, exam.id).closes_at = now - timedelta(minutes=1)
    db.session.commit()
    response = client.post_form(f"/exams/{exam.code}/release", follow_redirects=True)
    db.session.expire_all()
    assert db.session.get(Exam, exam.id).status == "released" and db.session.get(Exam, exam.id).released_at
    assert db.session.get(Attempt, attempt.id).status == "submitted"


def test_the_paper_page_folds_its_forms_proposes_the_subjects_bank_and_refuses_another_banks_category(client, auth, db):
    from exam import definition
    from tests.factories import make_category

    job = make_bank(code="GW", subject="岗位知识")  # listed first: the default used to be the first bank
    politics = make_bank(code="ZZ", subject="政治理论")
    job_category, politics_category = make_category(job, "财政业务"), make_category(politics, "党的建设")
    db.session.commit()
    auth.login_as("org_admin")
    client.post_form("/exams/new", _new_exam_form())  # subject 政治理论
    client.post_form("/exams/ZZLL2027/sections", {"title": "一、单选题", "qtype": "single", "points": "2"})
    exam = db.session.scalar(select(Exam).where(Exam.code == "ZZLL2027"))
    assert definition.default_bank(exam, [job, politics]) is politics
    exam.subject = "综合"
    assert definition.default_bank(exam, [job, politics]) is job  # no bank of the subject: the first one
    exam.qualification_part = "political_theory"
    assert definition.default_bank(exam, [job, politics]) is politics  # the part's subject
    db.session.rollback()
    html = client.get("/exams/ZZLL2027/paper").get_data(as_text=True)
    assert '<details class="add-form">' in html and '<details class="add-form" open' not in html  # folded
    bank_select = html.split('name="bank_id"', 1)[1].split("</select>", 1)[0]
    assert f'<option selected value="{politics.id}">' in bank_select
    categories = html.split('name="category_id"', 1)[1].split("</select>", 1)[0]
    assert f'<optgroup label="{politics.name}" data-bank="{politics.id}">' in categories  # grouped by bank
    section = db.session.scalar(select(Exam).where(Exam.code == "ZZLL2027")).sections[0]
    rule = {"bank_id": str(politics.id), "category_id": str(job_category.id), "difficulty_min": "1",
            "difficulty_max": "5", "count": "2"}  # fmt: skip
    html = client.post_form(f"/exams/ZZLL2027/sections/{section.id}/rules", rule, follow_redirects=True)
    text = html.get_data(as_text=True)
    assert "分类“财政业务”属于其他题库，不属于“题库" in text
    missing = {**rule, "category_id": "999999"}
    text = client.post_form(f"/exams/ZZLL2027/sections/{section.id}/rules", missing, follow_redirects=True)
    assert "请选择所选题库中的分类" in text.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(Exam).where(Exam.code == "ZZLL2027")).sections[0].rules == []
    client.post_form(f"/exams/ZZLL2027/sections/{section.id}/rules", {**rule, "category_id": str(politics_category.id)})
    db.session.expire_all()
    assert [r.category_id for r in db.session.get(Exam, exam.id).sections[0].rules] == [politics_category.id]
