"""The required reading's written exam (S4 of the district's report, issue 24): an ordinary exam attached to a
year's list whose rules draw only the questions tagged with the books' knowledge points; its results reach the
archive's reading section and the annual assessment's summary."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from archive import assessment, queries, reading, records
from archive.models import ReadingExam
from core.errors import DomainError
from core.extensions import db
from core.policy import Role
from exam import papers, publishing
from exam.models import Exam
from question_bank.services import get_tags
from tests.archive.test_archive import NOW, _pass
from tests.exam.test_engine import T0, make_exam
from tests.factories import PASSWORD, make_bank, make_cadre, make_question, make_unit, make_user

BOOK = "中国共产党简史"


def _admin():
    return make_user(roles=(Role.ORG_ADMIN,))


def _tagged(bank, tag, qtype="single", n=3, **kw):
    rows = [make_question(bank=bank, qtype=qtype, status="active", stem=f"{tag}{qtype}{i}", **kw) for i in range(n)]
    tags = get_tags([tag])
    for q in rows:
        q.tags = list(tags)
    db.session.flush()
    return rows


def _reading_exam(unit, admin, year=2026):
    """A published exam on the 2026 list (three single-choice questions on the book), results released at once."""
    reading.add_book(admin, year, BOOK, "", "", 10, NOW)
    bank = make_bank()
    _tagged(bank, BOOK)
    exam = make_exam(bank, code="READ", eligibility={"unit_ids": [unit.id]}, release_policy="immediate")
    exam.sections[0].rules[0].tag = BOOK
    reading.attach_exam(admin, year, exam, NOW)
    publishing.publish(admin, exam, T0 - timedelta(days=1))
    return exam


def test_a_books_knowledge_point_is_its_title_unless_named(app, db):
    admin = _admin()
    plain = reading.add_book(admin, 2026, BOOK, "", "", 10, NOW)
    named = reading.add_book(admin, 2026, "习近平谈治国理政（第四卷）", "", "", 10, NOW, tag=" 治国理政四 ")
    assert (plain.tag, named.tag) == (BOOK, "治国理政四")
    assert reading.book_tags(2026) == {BOOK, "治国理政四"}
    with pytest.raises(DomainError) as exc:
        reading.add_book(admin, 2026, "书", "", "", 10, NOW, tag="长" * 51)
    assert dict(exc.value.problems)["tag"]


def test_only_an_exam_drawing_the_books_questions_can_be_attached(app, db):
    admin = _admin()
    bank = make_bank()
    _tagged(bank, BOOK)
    exam = make_exam(bank, code="R1")
    with pytest.raises(DomainError) as exc:
        reading.attach_exam(admin, 2026, exam, NOW)
    assert exc.value.code == "no_books"
    reading.add_book(admin, 2026, BOOK, "", "", 10, NOW)
    with pytest.raises(DomainError) as exc:  # a rule drawing any knowledge point of the bank
        reading.attach_exam(admin, 2026, exam, NOW)
    assert exc.value.code == "bad_pool"
    exam.sections[0].rules[0].tag = "党章"
    with pytest.raises(DomainError) as exc:
        reading.attach_exam(admin, 2026, exam, NOW)
    assert exc.value.code == "bad_pool" and "党章" in exc.value.message
    exam.sections[0].rules[0].tag = BOOK
    row = reading.attach_exam(admin, 2026, exam, NOW)
    assert row.exam.code == "R1" and reading.reading_exam(2026).exam_id == exam.id
    reading.add_book(admin, 2025, BOOK, "", "", 10, NOW)
    with pytest.raises(DomainError) as exc:  # one exam, one list
        reading.attach_exam(admin, 2025, exam, NOW)
    assert exc.value.code == "exam_taken"

    fixed = make_exam(bank, code="R2", mode="fixed")
    untagged = make_question(bank=bank, status="active")
    from exam import definition

    definition.add_fixed_questions(admin, fixed.sections[0], [untagged.id], NOW)
    assert reading.pool_problems(fixed, {BOOK})  # a chosen question not on a book
    reading.detach_exam(admin, 2026, NOW)
    assert reading.reading_exam(2026) is None and db.session.get(Exam, exam.id) is not None  # the exam stays
    records.close_year(admin, 2026, NOW)
    with pytest.raises(DomainError) as exc:
        reading.attach_exam(admin, 2026, exam, NOW)
    assert exc.value.code == "year_closed"


def test_the_drafted_exam_draws_only_the_books_questions(app, db):
    admin = _admin()
    reading.add_book(admin, 2026, BOOK, "", "", 10, NOW)
    reading.add_book(admin, 2026, "之江新语", "", "", 10, NOW)
    with pytest.raises(DomainError) as exc:
        reading.draft_exam(admin, 2026, NOW)
    assert exc.value.code == "no_questions"
    bank = make_bank()
    on_book = _tagged(bank, BOOK, n=7) + _tagged(bank, "之江新语", qtype="truefalse", n=2)
    practice_only = _tagged(bank, BOOK, n=2)
    for q in practice_only:
        q.usage = "practice"
    _tagged(bank, "党章", n=4)  # on no book of the list
    make_question(bank=bank, status="active")  # untagged

    row = reading.draft_exam(admin, 2026, NOW)
    exam = row.exam
    assert exam.status == "draft" and exam.code == "READ2026" and reading.pool_problems(exam, {BOOK, "之江新语"}) == []
    assert [(s.qtype, [(r.tag, r.count) for r in s.rules]) for s in exam.sections] == [
        ("single", [(BOOK, 5)]),
        ("truefalse", [("之江新语", 2)]),
    ]
    assert papers.check_pools(exam) == []
    drawable = {qid for s in exam.sections for r in s.rules for qid, _v in papers.rule_pool(r, s.qtype)}
    assert drawable == {q.id for q in on_book}  # not the practice-only, the other tags or the untagged
    assert exam.pass_mark == pytest.approx(0.6 * 14)
    with pytest.raises(DomainError) as exc:
        reading.draft_exam(admin, 2026, NOW)
    assert exc.value.code == "exam_exists"


def test_results_reach_the_reading_section_and_the_assessment_summary(app, db):
    unit = make_unit()
    cadre, admin = make_cadre(unit=unit), _admin()
    exam = _reading_exam(unit, admin)
    before = assessment.summary(cadre, 2026, NOW)
    assert before["reading_exam"] == {"code": "READ", "title": exam.title}
    assert not before["reading_exam_sat"] and not before["reading_exam_passed"]
    _pass(exam, cadre.user, T0)

    [year] = [y for y in queries.timeline(cadre, True, T0 + timedelta(hours=1)) if y["year"] == 2026]
    assert year["reading_exam"].exam_id == exam.id
    assert [r.exam_code for r in year["reading_results"]] == ["READ"] and year["reading_results"][0].passed

    appraisal = "该同志按要求完成必读书目学习，读书笔记和笔试均合格。"
    row = assessment.appraise(admin, cadre, 2026, appraisal, "excellent", "", T0 + timedelta(hours=1))
    assert row.summary["reading_exam_sat"] and row.summary["reading_exam_passed"]
    exam.release_policy = "manual"  # the release withdrawn: the kept summary no longer tells the result
    shown = assessment.visible_summary(row.summary, T0 + timedelta(hours=2))
    assert not shown["reading_exam_sat"] and not shown["reading_exam_passed"] and shown["reading_exam"]


def test_the_pages_show_the_exam_to_its_candidates_and_let_the_department_attach_one(
    app, db, client, auth, clock_before_t0
):
    unit = make_unit()
    cadre = make_cadre(unit=unit, username="reader1")
    # The department's admin who is also a cadre of the unit (people hold several roles).
    both = make_cadre(unit=unit, username="orgcadre", roles=(Role.ORG_ADMIN, Role.CADRE))
    make_user(username="unitadm", roles=(Role.UNIT_ADMIN,), unit=unit)
    admin = _admin()
    reading.add_book(admin, 2026, BOOK, "", "", 10, NOW)
    bank = make_bank()
    _tagged(bank, BOOK, n=4)
    db.session.commit()

    auth.login("orgcadre", PASSWORD)
    page = client.get("/archive/reading?year=2026").get_data(as_text=True)
    assert 'id="reading-exam-setup"' in page
    assert client.post("/archive/reading/exam?year=2026", data={"draft": "1"}).status_code == 400  # no CSRF token
    assert db.session.scalar(select(ReadingExam)) is None
    assert client.post_form("/archive/reading/exam?year=2026", {"code": "NOPE"}).status_code == 302
    assert db.session.scalar(select(ReadingExam)) is None
    assert client.post_form("/archive/reading/exam?year=2026", {"draft": "1"}).status_code == 302
    written = db.session.scalar(select(ReadingExam))
    assert written.year == 2026 and written.exam.status == "draft"
    page = client.get("/archive/reading?year=2026").get_data(as_text=True)
    assert f'data-exam="{written.exam.code}"' in page and "reading-exam-take" not in page  # a draft: nothing to sit
    auth.logout()
    auth.login("reader1", PASSWORD)  # a draft is the department's: cadres see nothing of it
    assert 'id="reading-exam"' not in client.get("/archive/reading?year=2026").get_data(as_text=True)
    auth.logout()

    auth.login("unitadm", PASSWORD)  # a unit's admin keeps archives but does not set the district's list
    assert client.post_form("/archive/reading/exam/detach?year=2026").status_code == 403
    auth.logout()

    exam = written.exam
    exam.eligibility = {"unit_ids": [unit.id]}
    exam.release_policy = "immediate"
    exam.opens_at, exam.closes_at = T0, T0 + timedelta(hours=3)
    publishing.publish(admin, exam, T0 - timedelta(days=1))
    db.session.commit()
    auth.login("reader1", PASSWORD)
    page = client.get("/archive/reading?year=2026").get_data(as_text=True)
    assert 'id="reading-exam-take"' in page and f"/exams/{exam.code}/" in page and "reading-exam-setup" not in page
    auth.logout()

    attempt = _pass(exam, cadre.user, T0)
    db.session.commit()
    auth.login("reader1", PASSWORD)
    page = client.get("/archive/reading?year=2026").get_data(as_text=True)
    assert 'id="reading-exam-results"' in page and 'data-passed="yes"' in page and "reading-exam-take" not in page
    exam.release_policy = "manual"  # sat, the result not out: no way back in, and no result yet
    db.session.commit()
    page = client.get("/archive/reading?year=2026").get_data(as_text=True)
    assert 'data-state="sat"' in page and "reading-exam-take" not in page and "reading-exam-results" not in page
    exam.release_policy = "immediate"
    db.session.commit()
    archive = client.get("/archive/", follow_redirects=True).get_data(as_text=True)
    assert f'data-reading-exam="{exam.code}"' in archive
    auth.logout()
    auth.login("orgcadre", PASSWORD)  # the department's view of the summary the assessment takes
    summary = client.get("/archive/cadres/reader1/assessments/2026").get_data(as_text=True)
    assert 'data-reading-exam="passed"' in summary
    assert attempt.user_id == cadre.user_id and both.user_id != cadre.user_id


def test_a_result_counts_once_in_its_lists_year(app, db):
    """The 2025 list's exam sat in 2026 counts in 2025's summary, not in 2026's as well."""
    unit = make_unit()
    cadre, admin = make_cadre(unit=unit), _admin()
    exam = _reading_exam(unit, admin, year=2025)
    _pass(exam, cadre.user, T0)
    later = T0 + timedelta(hours=1)
    listed, sat = assessment.summary(cadre, 2025, later), assessment.summary(cadre, 2026, later)
    assert (listed["exams_taken"], listed["reading_exam_passed"]) == (1, True)
    assert (sat["exams_taken"], sat["exams"], sat["reading_exam"]) == (0, [], None)


def test_one_who_sits_the_written_exam_does_not_set_it_up(app, db, client, auth, clock_before_t0):
    """An org admin who is also a cadre and a candidate of the list's exam (ahead): no attaching, detaching or
    replacing it, and the reading page shows neither its editor nor what breaks the list's rule."""
    unit = make_unit()
    both = make_cadre(unit=unit, username="orgsits", roles=(Role.ORG_ADMIN, Role.CADRE))
    exam = _reading_exam(unit, _admin())
    db.session.commit()
    for action in (lambda: reading.detach_exam(both.user, 2026, NOW),
                   lambda: reading.attach_exam(both.user, 2026, exam, NOW)):  # fmt: skip
        with pytest.raises(DomainError) as exc:
            action()
        assert exc.value.status == 403
    auth.login("orgsits", PASSWORD)
    page = client.get("/archive/reading?year=2026").get_data(as_text=True)
    assert 'id="reading-exam-take"' in page and "编辑考试" not in page and "reading-exam-setup" not in page
    assert client.post_form("/archive/reading/exam/detach?year=2026").status_code == 403
    assert reading.reading_exam(2026) is not None
