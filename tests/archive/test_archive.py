"""Learning archives: record kinds, revisions, classes, reading, plans, assessments, qualifications, access."""

import io
import re
from datetime import date, datetime, timedelta

import pytest
from openpyxl import Workbook, load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from archive import assessment, qualifications, queries, reading, records, training
from archive.models import ArchiveEntry, Qualification
from core.errors import DomainError
from core.extensions import limiter
from core.policy import Role, can
from exam import answers, attempts, publishing
from tests.exam.test_engine import T0, fill_bank, make_exam, right_answer
from tests.factories import make_bank, make_cadre, make_unit, make_user

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=T0.tzinfo)
SELF = {"title": "学习新修订的条例", "starts_on": "2026-03-02", "hours": "6", "evidence": "笔记12页"}


def _org_admin():
    return make_user(roles=(Role.ORG_ADMIN,))


def _text(pdf_bytes: bytes) -> str:
    """The PDF's text without white space. (pypdf reads fpdf2's Identity-H strings as UTF-16 with a NUL before
    each character; the NULs are dropped here.)"""
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf_bytes)).pages)
    return re.sub(r"[\s\x00]+", "", text)


def test_kinds_check_their_fields(app, db):
    cadre, admin = make_cadre(), _org_admin()
    with pytest.raises(DomainError) as exc:
        records.add_entry(
            admin,
            cadre,
            "degree",
            {
                "institution": "省委党校",
                "major": "经济管理",
                "level": "bachelor",
                "study_mode": "part_time",
                "degree_status": "graduated",
                "starts_on": "2023-09-01",
            },
            NOW,
        )
    assert dict(exc.value.problems) == {"ends_on": "请填写毕业日期。"}
    with pytest.raises(DomainError) as exc:
        records.add_entry(
            admin,
            cadre,
            "training",
            {
                "title": "班",
                "organiser": "x",
                "place": "y",
                "class_type": "abroad",
                "hour_kind": "off_job",
                "starts_on": "2026-05-02",
                "ends_on": "2026-05-01",
                "hours": "0",
                "completion": "completed",
            },
            NOW,
        )
    assert {f for f, _m in exc.value.problems} == {"class_type", "hours", "ends_on"}
    degree = records.add_entry(
        admin,
        cadre,
        "degree",
        {
            "institution": "省委党校",
            "major": "经济管理",
            "level": "master",
            "study_mode": "part_time",
            "degree_status": "graduated",
            "starts_on": "2023-09-01",
            "ends_on": "2026-01-10",
        },
        NOW,
    )
    assert degree.hours == 0 and degree.hour_kind is None and degree.year == 2023
    assert cadre.education == "master"  # a graduated degree above the profile raises it


def test_the_cadre_adds_self_study_that_counts_once_accepted(app, db):
    cadre, admin = make_cadre(), _org_admin()
    with pytest.raises(DomainError):
        records.add_entry(cadre.user, cadre, "degree", {}, NOW)  # only self-study is the cadre's own
    entry = records.add_entry(cadre.user, cadre, "self_study", SELF, NOW)
    assert entry.status == "pending" and assessment.hours_by_kind(cadre.user_id, 2026)["self_study"] == 0
    with pytest.raises(DomainError):
        records.review_entry(cadre.user, entry, cadre, True, "", NOW)  # nobody reviews their own
    records.review_entry(admin, entry, cadre, True, "", NOW)
    assert assessment.hours_by_kind(cadre.user_id, 2026)["self_study"] == 6


def test_a_correction_is_a_revision_and_a_removal_is_soft(app, db):
    cadre, admin = make_cadre(), _org_admin()
    entry = records.add_entry(
        admin,
        cadre,
        "collective",
        {"title": "中心组学习", "organiser": "党组", "starts_on": "2026-04-01", "hours": "3"},
        NOW,
    )
    with pytest.raises(DomainError) as exc:
        records.correct_entry(
            admin,
            entry,
            cadre,
            {**entry.details, "title": "中心组学习", "starts_on": "2026-04-01", "hours": "4"},
            "",
            NOW,
        )
    assert exc.value.code == "reason_required"
    records.correct_entry(
        admin,
        entry,
        cadre,
        {"title": "中心组学习", "organiser": "党组", "starts_on": "2026-04-01", "hours": "4"},
        "签到表为4学时",
        NOW + timedelta(hours=1),
    )
    records.remove_entry(admin, entry, cadre, "重复登记", NOW + timedelta(hours=2))
    db.session.expire_all()
    entry = db.session.get(ArchiveEntry, entry.id)
    assert [(r.number, r.action, r.values["hours"], r.reason) for r in entry.revisions] == [
        (1, "created", 3.0, ""),
        (2, "corrected", 4.0, "签到表为4学时"),
        (3, "removed", 4.0, "重复登记"),
    ]
    assert entry.deleted_at is not None and not entry.counts
    assert assessment.hours_by_kind(cadre.user_id, 2026)["collective"] == 0
    with pytest.raises(DomainError):
        records.correct_entry(admin, entry, cadre, SELF, "再改", NOW)


def test_a_closed_year_is_read_only(app, db):
    cadre, admin = make_cadre(), _org_admin()
    records.close_year(admin, 2025, NOW)
    with pytest.raises(DomainError) as exc:
        records.add_entry(admin, cadre, "self_study", {**SELF, "starts_on": "2025-05-01"}, NOW)
    assert exc.value.code == "year_closed"
    with pytest.raises(DomainError):
        records.close_year(admin, 2027, NOW)  # not begun


def test_a_unit_admin_keeps_ordinary_cadres_and_the_department_keeps_leading_cadres(app, db):
    town = make_unit("青山镇")
    admin = make_user(roles=(Role.UNIT_ADMIN,), unit=town)
    staff = make_cadre(unit=make_unit("村", parent=town))
    chief = make_cadre(unit=town, rank="section_chief")
    elsewhere = make_cadre(unit=make_unit("柳河镇"))
    assert can(admin, "archive.manage", staff) and can(admin, "archive.view", chief)
    assert not can(admin, "archive.manage", chief) and not can(admin, "archive.view", elsewhere)
    assert can(_org_admin(), "archive.manage", chief)


def _class(admin, unit, **kw):
    values = {
        "code": "PX1",
        "name": "青年干部培训班",
        "organiser": "区委组织部",
        "place": "北京大学",
        "class_type": "university",
        "hour_kind": "off_job",
        "starts_on": date(2026, 5, 10),
        "ends_on": date(2026, 5, 20),
        "hours": 40.0,
        "spending": 12000.0,
        "unit_id": unit.id,
        **kw,
    }
    return training.create_class(admin, values, NOW)


def _sheet(*numbers) -> bytes:
    wb = Workbook()
    wb.active.append(["工号"])
    for n in numbers:
        wb.active.append([n])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_class_attendance_writes_every_participants_archive(app, db):
    unit, admin = make_unit("区委组织部"), _org_admin()
    a, b, c = (make_cadre(unit=unit, birth_date=date(1996, 1, 1)) for _ in range(3))
    old = make_cadre(unit=unit, birth_date=date(1970, 1, 1))
    klass = _class(admin, unit)
    with pytest.raises(DomainError):
        training.enrol_by_numbers(admin, klass, [a.employee_number, "NOBODY"], NOW)
    assert training.enrol_by_numbers(admin, klass, [a.employee_number], NOW) == 1
    added, issues = training.enrol_from_sheet(admin, klass, _sheet(b.employee_number, "NOBODY"), NOW)
    assert added == 0 and [(i.row, i.column) for i in issues] == [(3, "A")]
    assert training.enrol_from_sheet(admin, klass, _sheet(b.employee_number), NOW) == (1, [])
    assert training.enrol_by_rules(admin, klass, {"unit_ids": [unit.id], "max_age": 35}, klass.starts_on, NOW) == 1
    assert old.user_id not in {e.user_id for e in klass.enrolments}
    rows = {e.id: {"attendance": "attended", "completion": "completed"} for e in klass.enrolments}
    ec = next(e for e in klass.enrolments if e.user_id == c.user_id)
    rows[ec.id] = {"attendance": "partial", "hours": 20.0, "completion": "not_completed"}
    training.record_attendance(admin, klass, rows, "", NOW)
    assert assessment.hours_by_kind(a.user_id, 2026)["off_job"] == 40
    assert assessment.hours_by_kind(c.user_id, 2026)["off_job"] == 20
    entry = db.session.scalar(select(ArchiveEntry).where(ArchiveEntry.user_id == a.user_id))
    with pytest.raises(DomainError) as exc:
        records.correct_entry(admin, entry, a, SELF, "改", NOW)
    assert exc.value.code == "class_entry"
    with pytest.raises(DomainError):  # a correction needs a reason
        training.update_class(admin, klass, {"hours": 36.0}, "", NOW)
    training.update_class(admin, klass, {"hours": 36.0}, "课表调整", NOW)
    ea = next(e for e in klass.enrolments if e.user_id == a.user_id)
    training.record_attendance(admin, klass, {ea.id: {"attendance": "absent"}}, "请假未参加", NOW)
    assert assessment.hours_by_kind(a.user_id, 2026)["off_job"] == 0
    assert assessment.hours_by_kind(b.user_id, 2026)["off_job"] == 36
    db.session.expire_all()
    assert [r.action for r in db.session.get(ArchiveEntry, entry.id).revisions] == ["class", "class", "removed"]
    [figures] = training.class_figures(admin, 2026)
    assert (figures["classes"], figures["people"], figures["hours"], figures["spending"]) == (1, 2, 56.0, 12000.0)


def test_reading_notes_are_reviewed_and_resubmitted(app, db):
    town = make_unit()
    reviewer = make_user(roles=(Role.UNIT_ADMIN,), unit=town)
    cadre = make_cadre(unit=town)
    book = reading.add_book(_org_admin(), 2026, "习近平新时代中国特色社会主义思想学习纲要", "", "", 20, NOW)
    with pytest.raises(DomainError) as exc:
        reading.submit_note(cadre.user, cadre, book, "太短", NOW)
    assert exc.value.code == "too_short"
    first = reading.submit_note(cadre.user, cadre, book, "读" * 30, NOW)
    with pytest.raises(DomainError):
        reading.review_note(reviewer, first, cadre, False, "", NOW)  # a fail needs a comment
    reading.review_note(reviewer, first, cadre, False, "联系工作实际不够", NOW)
    second = reading.submit_note(cadre.user, cadre, book, "学" * 40, NOW)
    assert second.version == 2
    reading.review_note(reviewer, second, cadre, True, "", NOW)
    with pytest.raises(DomainError):
        reading.submit_note(cadre.user, cadre, book, "再" * 40, NOW)
    assert assessment.summary(cadre, 2026)["books_passed"] == 1


def test_the_assessment_summary_comes_from_the_archive(app, db):
    cadre, admin = make_cadre(), _org_admin()
    records.set_required_hours(admin, 2026, 10, NOW)
    records.add_entry(admin, cadre, "self_study", SELF, NOW)
    records.add_entry(
        admin,
        cadre,
        "collective",
        {"title": "集中学习", "organiser": "支部", "starts_on": "2026-02-01", "hours": "5"},
        NOW,
    )
    plan = assessment.save_plan(cadre.user, cadre, 2026, "全年学习目标", {"self_study": 8, "collective": 4}, "", NOW)
    assert plan.agreed_at is None
    assessment.agree_plan(admin, plan, cadre, NOW)
    row = assessment.appraise(
        admin, cadre, 2026, "该同志学习态度端正，全年完成各项学习任务，读书笔记质量较高。", "excellent", "", NOW
    )
    s = row.summary
    assert s["hours"]["self_study"] == 6 and s["hours"]["collective"] == 5 and s["total_hours"] == 11
    assert s["planned_total"] == 12 and s["plan_agreed"] and s["required_hours"] == 10 and s["meets_minimum"]
    assessment.acknowledge(cadre.user, cadre, row, "已阅", NOW)
    again = assessment.appraise(
        admin, cadre, 2026, "补充鉴定：该同志全年完成学习任务，表现突出，予以肯定。", "competent", "更正等次", NOW
    )
    assert again.version == 2 and again.acknowledged_at is None
    overview = queries.unit_overview(admin, 2026)
    [unit_row] = [u for u in overview["units"] if u["unit"].id == cadre.unit_id]
    assert (unit_row["cadres"], unit_row["met"], unit_row["assessed"], unit_row["acknowledged"]) == (1, 1, 1, 0)


def _pass(exam, user, now):
    attempt = attempts.start_attempt(exam, user, now)
    for item in attempt.paper.items:
        answers.save_answer(attempt, item.position, right_answer(attempt, item.position), item.position, now)
    attempts.submit(attempt, now + timedelta(minutes=5))
    return attempt


def _qualified(db):
    unit = make_unit()
    cadre = make_cadre(unit=unit, name="李晓明")
    admin = _org_admin()
    exams = []
    for code, part in (("ZZ", "political_theory"), ("GW", "job_knowledge")):
        bank = make_bank()
        fill_bank(bank, n=3)
        exam = make_exam(
            bank,
            code=code,
            eligibility={"unit_ids": [unit.id]},
            release_policy="immediate",
            qualification_part=part,
            qualification_cycle="2026",
        )
        publishing.publish(admin, exam, T0 - timedelta(days=1))
        exams.append(exam)
    _pass(exams[0], cadre.user, T0)
    assert qualifications.active(cadre.user_id, "2026") is None  # one part is not enough
    _pass(exams[1], cadre.user, T0 + timedelta(hours=1))
    db.session.commit()
    return cadre, qualifications.active(cadre.user_id, "2026")


def test_passing_both_parts_grants_a_verifiable_certificate(app, db, client, auth):
    cadre, qual = _qualified(db)
    assert qual.granted_on == date(2026, 12, 5) and qual.valid_until == date(2029, 12, 5)
    auth.login(cadre.employee_number)
    response = client.get(f"/archive/qualifications/{qual.id}/certificate.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = _text(response.data)
    assert "李晓明" in text and "任职资格证书" in text and qual.code in text
    auth.logout()
    limiter.reset()
    page = client.get(f"/verify/{qual.code.lower().replace('-', '')}")  # typed loosely: still found
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "李晓明" in html and "2029-12-05" in html
    assert cadre.employee_number not in html and cadre.unit.name not in html  # nothing beyond what it shows
    wrong = client.get("/verify/ABCD-EFGH-JKMN-PQRS")
    assert wrong.status_code == 404 and "李晓明" not in wrong.get_data(as_text=True)


def test_a_regrade_that_undoes_a_pass_revokes_the_qualification(app, db, client):
    cadre, qual = _qualified(db)
    from archive.models import ExamResultRecord

    for record in db.session.scalars(select(ExamResultRecord).where(ExamResultRecord.user_id == cadre.user_id)):
        record.passed = False
    qualifications.refresh(cadre.user_id, "2026", NOW)
    db.session.commit()
    assert db.session.get(Qualification, qual.id).revoked_at is not None
    limiter.reset()
    assert client.get(f"/verify/{qual.code}").status_code == 404


def test_verification_is_rate_limited(app, db, client):
    limiter.reset()
    app.config["VERIFY_RATE_LIMIT"] = "3 per minute"
    codes = [client.get("/verify/AAAA-BBBB-CCCC-DDDD").status_code for _ in range(4)]
    assert codes == [404, 404, 404, 429]
    limiter.reset()


def test_the_cadres_own_archive_and_exports(app, db, client, auth):
    cadre, admin = make_cadre(name="张文博"), _org_admin()
    records.add_entry(
        admin,
        cadre,
        "collective",
        {"title": "理论学习中心组", "organiser": "党组", "starts_on": "2026-03-01", "hours": "4"},
        NOW,
    )
    other = make_cadre()
    db.session.commit()
    auth.login(cadre.employee_number)
    html = client.get(f"/archive/cadres/{cadre.employee_number}").get_data(as_text=True)
    assert "理论学习中心组" in html and "添加在职自学" in html
    assert client.get(f"/archive/cadres/{other.employee_number}").status_code == 404  # as for nobody
    response = client.post_form(f"/archive/cadres/{cadre.employee_number}/entries/new?kind=self_study", SELF)
    assert response.status_code == 302
    assert client.post_form(f"/archive/cadres/{cadre.employee_number}/entries/new?kind=degree", {}).status_code == 403
    wb = load_workbook(io.BytesIO(client.get(f"/archive/cadres/{cadre.employee_number}/archive.xlsx").data))
    titles = [row[2] for row in wb.worksheets[0].iter_rows(min_row=2, values_only=True)]
    assert sorted(titles) == ["学习新修订的条例", "理论学习中心组"]
    assert "张文博" in _text(client.get(f"/archive/cadres/{cadre.employee_number}/archive.pdf").data)


def test_unit_overview_and_roster_stay_in_scope(app, db, client, auth):
    town, other = make_unit("青山镇"), make_unit("柳河镇")
    mine, theirs = make_cadre(unit=town, name="王一"), make_cadre(unit=other, name="李二")
    db.session.commit()
    auth.login_as("unit_admin", unit=town)
    html = client.get("/archive/overview?year=2026").get_data(as_text=True)
    assert "青山镇" in html and "柳河镇" not in html
    listing = client.get("/archive/overview/cadres?year=2026&which=all").get_data(as_text=True)
    assert mine.name in listing and theirs.name not in listing
    assert client.get(f"/archive/overview/cadres?unit={other.id}").status_code == 403
    wb = load_workbook(io.BytesIO(client.get("/archive/overview/roster.xlsx?year=2026").data))
    names = {row[1] for row in wb.worksheets[0].iter_rows(min_row=2, values_only=True)}
    assert mine.name in names and theirs.name not in names


def test_education_profile_share_of_leading_cadres(app, db):
    unit = make_unit()
    for education in ("bachelor", "master", "college"):
        c = make_cadre(unit=unit, rank="section_chief")
        c.education = education
    make_cadre(unit=unit, rank="staff").education = "college"
    data = queries.education_profile(_org_admin())
    assert data["totals"]["count"] == 3 and data["totals"]["share"] == pytest.approx(2 / 3)


def test_an_exam_names_its_part_and_cycle_together(app, db):
    from exam import definition

    exam = make_exam(make_bank(), code="Q1")
    admin = _org_admin()
    with pytest.raises(DomainError) as exc:
        definition.update_settings(admin, exam, {"qualification_part": "political_theory"}, NOW)
    assert [f for f, _m in exc.value.problems] == ["qualification_cycle"]
    with pytest.raises(DomainError):
        definition.update_settings(admin, exam, {"qualification_part": "history", "qualification_cycle": "2026"}, NOW)
    definition.update_settings(
        admin, exam, {"qualification_part": "job_knowledge", "qualification_cycle": " 2026 "}, NOW
    )
    assert (exam.qualification_part, exam.qualification_cycle) == ("job_knowledge", "2026")
    definition.update_settings(admin, exam, {"qualification_part": "", "qualification_cycle": ""}, NOW)
    assert (exam.qualification_part, exam.qualification_cycle) == (None, None)


def test_the_forms_save_and_show_refusals_at_their_fields(app, db, client, auth):
    unit = make_unit("青山镇")
    cadre = make_cadre(unit=unit, name="赵六")
    book = reading.add_book(_org_admin(), 2026, "中国共产党简史", "", "", 10, NOW)
    db.session.commit()
    auth.login(cadre.employee_number)
    plan_url = f"/archive/cadres/{cadre.employee_number}/plans/2026"
    assert client.post_form(plan_url, {"goals": "学习目标", "self_study": "12"}).status_code == 302
    refused = client.post_form(plan_url, {"goals": "新目标", "self_study": "12"})  # a second version needs a reason
    assert refused.status_code == 422 and "请填写原因" in refused.get_data(as_text=True)
    short = client.post_form(f"/archive/reading/books/{book.id}/note", {"body": "短"})
    assert short.status_code == 422 and "至少需要10字" in short.get_data(as_text=True)
    assert client.post_form(f"/archive/reading/books/{book.id}/note", {"body": "读" * 12}).status_code == 302
    auth.logout()
    auth.login_as("org_admin")
    url = f"/archive/cadres/{cadre.employee_number}/assessments/2026"
    refused = client.post_form(url, {"grade": "excellent", "appraisal": "太短"})
    assert refused.status_code == 422 and "20至5000字" in refused.get_data(as_text=True)
    saved = client.post_form(
        url, {"grade": "excellent", "appraisal": "该同志认真完成全年学习任务，读书笔记质量高。" * 2}
    )
    assert saved.status_code == 302
    values = {
        "code": "PX9",
        "name": "专题培训班",
        "organiser": "区委组织部",
        "place": "区委党校",
        "class_type": "party_school",
        "hour_kind": "off_job",
        "starts_on": "2026-04-01",
        "ends_on": "2026-03-01",
        "hours": "16",
        "spending": "0",
        "unit_id": str(unit.id),
    }
    refused = client.post_form("/archive/classes/new", values)
    assert refused.status_code == 422 and "结束日期早于开始日期" in refused.get_data(as_text=True)
    created = client.post_form("/archive/classes/new", {**values, "ends_on": "2026-04-02"})
    assert created.headers["Location"].endswith("/archive/classes/PX9/")
    enrol = client.post_form("/archive/classes/PX9/enrol", {"mode": "numbers", "numbers": cadre.employee_number})
    assert enrol.status_code == 302
    detail = client.get("/archive/classes/PX9/").get_data(as_text=True)
    assert "赵六" in detail
    assert client.post_form("/archive/years", {"year": "2026", "required_hours": "60"}).status_code == 302
    assert records.archive_year(2026).required_hours == 60


def _figures():
    from archive.models import CadreYear
    from core.extensions import db as database

    return {
        (r.year, r.user_id): (float(r.hours), r.notes_passed, r.grade, r.acknowledged)
        for r in database.session.scalars(select(CadreYear))
    }


def test_kept_figures_equal_a_fresh_count(app, db):
    """Every write above kept archive_cadre_years up to date: rebuilding it from the records changes nothing."""
    from archive import figures

    test_class_attendance_writes_every_participants_archive(app, db)
    test_reading_notes_are_reviewed_and_resubmitted(app, db)
    test_the_assessment_summary_comes_from_the_archive(app, db)
    kept = _figures()
    assert kept and any(v[0] for v in kept.values()) and any(v[2] for v in kept.values())
    figures.rebuild()
    assert _figures() == kept


def test_a_unit_admin_enrols_only_the_cadres_whose_archives_the_unit_keeps(app, db):
    town = make_unit("青山镇")
    unit_admin = make_user(roles=(Role.UNIT_ADMIN,), unit=town)
    staff, chief = make_cadre(unit=town), make_cadre(unit=town, rank="section_chief")
    klass = _class(unit_admin, town)
    with pytest.raises(DomainError):
        training.enrol_by_numbers(unit_admin, klass, [staff.employee_number, chief.employee_number], NOW)
    assert training.enrol_by_rules(unit_admin, klass, {"unit_ids": [town.id]}, klass.starts_on, NOW) == 2 - 1
    # The department enrols the chief: the class is now beyond the unit admin's authority.
    training.enrol_by_numbers(_org_admin(), klass, [chief.employee_number], NOW)
    rows = {e.id: {"attendance": "attended"} for e in klass.enrolments}
    with pytest.raises(DomainError) as exc:
        training.record_attendance(unit_admin, klass, rows, "", NOW)
    assert exc.value.status == 403
    training.record_attendance(_org_admin(), klass, rows, "", NOW)
    assert assessment.hours_by_kind(chief.user_id, 2026)["off_job"] == 40


def test_an_admin_adds_only_self_study_to_their_own_archive(app, db):
    town = make_unit()
    unit_admin = make_user(roles=(Role.UNIT_ADMIN,), unit=town)
    own = make_cadre(unit=town, user=unit_admin)
    assert records.may_add(unit_admin, own, "self_study") and not records.may_add(unit_admin, own, "collective")
    entry = records.add_entry(unit_admin, own, "self_study", SELF, NOW)
    assert entry.status == "pending"  # nobody accepts their own


def test_a_kept_summary_hides_results_whose_release_was_withdrawn(app, db):
    cadre, _qual = _qualified(db)
    row = assessment.appraise(
        _org_admin(), cadre, 2026, "该同志学习认真，两部分任职资格考试均合格，完成全年学习任务。", "excellent", "", NOW
    )
    assert row.summary["exams_passed"] == 2
    from exam.models import Exam

    for exam in db.session.scalars(select(Exam)):
        exam.release_policy = "manual"
    shown = assessment.visible_summary(row.summary, NOW)
    assert shown["exams"] == [] and shown["exams_passed"] == 0 and shown["exams_taken"] == 0


def test_the_figures_can_be_rebuilt_from_the_command_line(app, db, runner):
    from archive.models import CadreYear

    cadre = make_cadre()
    records.add_entry(_org_admin(), cadre, "self_study", SELF, NOW)
    db.session.query(CadreYear).delete()
    db.session.commit()
    result = runner.invoke(args=["archive", "rebuild-figures"])
    assert result.exit_code == 0 and "1 cadre-year" in result.output
    assert db.session.get(CadreYear, (2026, cadre.user_id)).hours == 6
