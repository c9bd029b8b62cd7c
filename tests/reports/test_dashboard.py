"""The home page's dashboard: each figure for the district and for unit admins' subtrees (one unit, two units, a unit
admin who is also a cadre), the cards a role may see, the links behind the numbers, and the words of "My exams"."""

import re
from datetime import timedelta

import pytest

from archive import reading, records
from archive.models import CadreYear
from core.extensions import db as _db
from core.models import local_today
from core.policy import Role
from exam import answers, attempts, grading, publishing
from reports import dashboard
from reports.dashboard import MyStatus
from tests.exam.test_engine import T0, fill_bank, make_exam
from tests.factories import make_bank, make_cadre, make_question, make_unit, make_user

NOW = T0 + timedelta(hours=1)  # 2026-12-05 10:00 in Beijing
YEAR = 2026


@pytest.fixture
def district(app, db):
    """A district: the top unit, town A with its village A1, town B. Cadres: a1 (A), a2 (A1), lead (A, a section
    chief: managed by the district), b1 (B). Unit admins: ua of A (also a cadre of A) and ub of A1 and B. An org
    admin, a grader who is also a cadre of B, and an author."""
    top = make_unit("区委组织部", kind="party_committee")
    a = make_unit("青山镇", parent=top)
    a1 = make_unit("青山村", parent=a)
    b = make_unit("柳河镇", parent=top)
    people = {
        "a1": make_cadre(unit=a, name="甲一"),
        "a2": make_cadre(unit=a1, name="甲二"),
        "lead": make_cadre(unit=a, name="甲长", rank="section_chief"),
        "b1": make_cadre(unit=b, name="乙一"),
    }
    ua = make_user(roles=(Role.UNIT_ADMIN, Role.CADRE), unit=a, name="甲管理员")
    people["ua"] = make_cadre(unit=a, user=ua)
    ub = make_user(roles=(Role.UNIT_ADMIN,), unit=a1, name="乙管理员")
    from accounts.models import RoleAssignment

    ub.roles.append(RoleAssignment(role=Role.UNIT_ADMIN, unit=b))
    grader = make_user(roles=(Role.GRADER, Role.CADRE), name="阅卷人")
    people["grader"] = make_cadre(unit=b, user=grader)
    org = make_user(roles=(Role.ORG_ADMIN,), name="组织部")
    db.session.flush()
    units = {"top": top, "a": a, "a1": a1, "b": b}
    return {"units": units, "people": people, "ua": ua, "ub": ub, "grader": grader, "org": org}


def _exam(code, opens, closes, sections=(("single", 2, 2.0),), **kwargs):
    bank = make_bank()
    for qtype, count, _points in sections:
        fill_bank(bank, qtype, count + 1)
    exam = make_exam(bank, sections=sections, code=code, opens_at=opens, closes_at=closes, **kwargs)
    publishing.publish(make_user(roles=(Role.SYSTEM_ADMIN,)), exam, opens - timedelta(days=1))
    return exam


def test_open_exams_count_candidates_in_progress_and_submitted_in_scope(district):
    p = district["people"]
    soon = _exam("SOON", T0, T0 + timedelta(days=2))
    later = _exam("LATER", T0, T0 + timedelta(days=20))
    _exam("PAST", T0 - timedelta(days=9), T0 - timedelta(days=8))
    _exam("FUTURE", T0 + timedelta(days=1), T0 + timedelta(days=2))
    attempts.start_attempt(soon, p["a1"].user, NOW)  # in progress
    for key in ("a2", "b1"):
        attempts.submit(attempts.start_attempt(soon, p[key].user, NOW), NOW + timedelta(minutes=5))
    attempts.submit(attempts.start_attempt(later, p["a1"].user, NOW), NOW + timedelta(minutes=5))

    def figures(viewer):
        return {(r.exam.code, r.in_progress, r.submitted, r.closing_soon) for r in dashboard.open_exams(viewer, NOW)}

    assert figures(district["org"]) == {("SOON", 1, 2, True), ("LATER", 0, 1, False)}
    assert figures(district["ua"]) == {("SOON", 1, 1, True), ("LATER", 0, 1, False)}  # A and A1
    assert figures(district["ub"]) == {("SOON", 0, 2, True), ("LATER", 0, 0, False)}  # A1 and B
    assert [r.exam.code for r in dashboard.open_exams(district["org"], NOW)] == ["SOON", "LATER"]  # closing first
    board = dashboard.board(district["org"], NOW)
    assert board.closing_soon == 1


def test_a_candidate_with_two_attempts_counts_once(district):
    p = district["people"]
    exam = _exam("TWICE", T0, T0 + timedelta(hours=5), attempts_allowed=2)
    first = attempts.start_attempt(exam, p["b1"].user, NOW)
    attempts.submit(first, NOW + timedelta(minutes=1))
    attempts.submit(attempts.start_attempt(exam, p["b1"].user, NOW + timedelta(minutes=2)), NOW + timedelta(minutes=3))
    [row] = dashboard.open_exams(district["org"], NOW)
    assert (row.in_progress, row.submitted) == (0, 1)


def test_answers_to_mark_leave_out_the_graders_own(district):
    p = district["people"]
    exam = _exam("ESSAY", T0, T0 + timedelta(hours=2), sections=(("essay", 1, 10.0),))
    for key in ("a1", "b1", "grader"):
        attempt = attempts.start_attempt(exam, p[key].user, NOW)
        answers.save_answer(attempt, 1, "答：要点", 1, NOW)
        attempts.submit(attempt, NOW + timedelta(minutes=30))
    running = _exam("RUNNING", T0, T0 + timedelta(hours=5), sections=(("essay", 1, 10.0),))
    answers.save_answer(attempts.start_attempt(running, p["a2"].user, NOW), 1, "未交卷", 1, NOW)

    blank = attempts.start_attempt(exam, p["lead"].user, NOW)  # a blank essay scores 0 by itself: nothing to mark
    answers.save_answer(blank, 1, "", 1, NOW)
    attempts.submit(blank, NOW + timedelta(minutes=30))

    def queue(grader):
        progress = grading.progress(exam, grader)
        return progress.total - progress.graded

    [row] = dashboard.answers_to_mark(district["grader"])
    assert (row.exam.code, row.waiting) == ("ESSAY", 2) == ("ESSAY", queue(district["grader"]))  # not their own
    assert [(r.exam.code, r.waiting) for r in dashboard.answers_to_mark(district["org"])] == [("ESSAY", 3)]
    assert queue(district["org"]) == 3
    answer = grading.next_to_grade(exam, grader=district["grader"])
    grading.grade_answer(district["grader"], answer, 6, "", NOW + timedelta(hours=3))
    assert [r.waiting for r in dashboard.answers_to_mark(district["grader"])] == [1] == [queue(district["grader"])]


def test_notes_to_review_follow_the_queue(district):
    p = district["people"]
    book = reading.add_book(district["org"], YEAR, "学习纲要", "", "", 10, NOW)
    for key in ("a1", "lead", "ua", "b1"):
        reading.submit_note(p[key].user, p[key], book, "读" * 20, NOW)
    rejected = reading.submit_note(p["a2"].user, p["a2"], book, "读" * 20, NOW)
    reading.review_note(district["org"], rejected, p["a2"], False, "太空泛", NOW)  # its newest version: none pending

    assert dashboard.notes_to_review(district["org"], YEAR) == 4
    assert dashboard.notes_to_review(district["ua"], YEAR) == 1  # a1: not the leading cadre's, not their own
    assert dashboard.notes_to_review(district["ub"], YEAR) == 1  # b1
    assert dashboard.notes_to_review(district["org"], YEAR - 1) == 0
    reading.submit_note(p["a2"].user, p["a2"], book, "学" * 20, NOW)
    assert dashboard.notes_to_review(district["ub"], YEAR) == 2


def test_questions_to_review_for_authors_and_the_district(district):
    bank = make_bank(owner_unit=district["units"]["top"])
    author = make_cadre(unit=district["units"]["top"], roles=(Role.AUTHOR,)).user
    for _ in range(3):
        make_question(bank=bank, actor=author, status="in_review")
    make_question(bank=bank, actor=author, status="draft")
    assert dashboard.questions_to_review(district["org"]) == 3
    assert dashboard.questions_to_review(author) == 0  # nobody reviews their own
    assert dashboard.board(district["ua"], NOW).questions_to_review is None  # a unit admin has no review queue


def _figures(user, hours, notes):
    _db.session.add(CadreYear(year=YEAR, user_id=user.id, hours=hours, notes_passed=notes, acknowledged=False))


def test_completion_by_unit_uses_the_archives_rule(district):
    p = district["people"]
    records.set_required_hours(district["org"], YEAR, 40, NOW)
    reading.add_book(district["org"], YEAR, "书一", "", "", 10, NOW)
    reading.add_book(district["org"], YEAR, "书二", "", "", 10, NOW)
    _figures(p["a1"].user, 40, 2)  # met, reading done
    _figures(p["a2"].user, 39.5, 2)  # short, reading done
    _figures(p["lead"].user, 60, 1)  # met, reading open
    _figures(p["b1"].user, 10, 0)
    _db.session.flush()  # ua and the grader have no figures: they count as zero
    u = district["units"]

    def rows(viewer):
        c = dashboard.completion(viewer, YEAR)
        return c, {(r.unit.name, r.own_only): (r.cadres, r.met, r.reading) for r in c.units}

    c, by_unit = rows(district["org"])
    assert (c.required, c.books, c.cadres, c.met, c.reading) == (40, 2, 6, 2, 2)
    assert by_unit == {("青山镇", False): (4, 2, 2), ("柳河镇", False): (2, 0, 0)}  # A rolls up A1
    assert [r.unit.id for r in c.units] == [u["a"].id, u["b"].id]
    c, by_unit = rows(district["ua"])
    assert by_unit == {("青山镇", True): (3, 2, 1), ("青山村", False): (1, 0, 1)}
    c, by_unit = rows(district["ub"])  # two units: both roots, each with its own cadres
    assert by_unit == {("青山村", True): (1, 0, 1), ("柳河镇", True): (2, 0, 0)}
    assert (c.cadres, c.met, c.reading) == (3, 0, 1)


def test_cards_follow_the_viewers_permissions(district):
    org = dashboard.board(district["org"], NOW)
    assert org.open_exams == [] and org.questions_to_review == 0 and org.answers_to_mark == []
    assert org.notes_to_review == 0 and org.completion is not None
    ua = dashboard.board(district["ua"], NOW)
    assert ua.open_exams == [] and ua.notes_to_review == 0 and ua.completion is not None
    assert ua.questions_to_review is None and ua.answers_to_mark is None
    grader = dashboard.board(district["grader"], NOW)
    assert grader.answers_to_mark == [] and grader.open_exams is None and grader.completion is None
    assert dashboard.home_values(district["people"]["a1"].user, NOW)["board"] is None


# ---------------------------------------------------------------- "My exams": one word per state, true for the person


def _sat(exam, cadre, when, answer=None):
    attempt = attempts.start_attempt(exam, cadre.user, when)
    if answer is not None:
        answers.save_answer(attempt, 1, answer, 1, when)
    return attempts.submit(attempt, when + timedelta(minutes=10))


def test_my_exam_status_words_are_true_whatever_the_release_policy(district):
    cadre = district["people"]["b1"]
    after = _exam("AFTER", T0, T0 + timedelta(hours=2), release_policy="after_close")
    manual = _exam("MANUAL", T0 + timedelta(days=1), T0 + timedelta(days=1, hours=2), release_policy="manual")
    essay = _exam("ESSAY2", T0 + timedelta(days=2), T0 + timedelta(days=2, hours=2), sections=(("essay", 1, 10.0),))
    _exam("MISSED", T0 + timedelta(days=3), T0 + timedelta(days=3, hours=2))
    _exam("COMING", T0 + timedelta(days=30), T0 + timedelta(days=31))
    later = T0 + timedelta(days=5)

    def statuses(now):
        return {row.exam.code: row.status for row in dashboard.my_exams(cadre.user, now)}

    _sat(after, cadre, NOW)
    assert statuses(NOW + timedelta(minutes=30)) == {
        "AFTER": MyStatus.GRADED,  # graded, but the policy shows the score only after the close
        **dict.fromkeys(("MANUAL", "ESSAY2", "MISSED", "COMING"), MyStatus.NOT_OPEN),
    }
    _sat(manual, cadre, NOW + timedelta(days=1))
    _sat(essay, cadre, NOW + timedelta(days=2), "答：要点")
    assert statuses(later) == {
        "AFTER": MyStatus.RELEASED,  # closed and shown: the same word as an exam released by hand
        "MANUAL": MyStatus.GRADED,  # graded, waiting for the release by hand
        "ESSAY2": MyStatus.AWAITING_GRADING,
        "MISSED": MyStatus.MISSED,
        "COMING": MyStatus.NOT_OPEN,
    }
    manual.status, manual.released_at = "released", later
    assert statuses(later)["MANUAL"] == MyStatus.RELEASED


def test_my_exam_status_while_sitting(district):
    cadre = district["people"]["a1"]
    exam = _exam("NOWOPEN", T0, T0 + timedelta(hours=3))
    assert [r.status for r in dashboard.my_exams(cadre.user, NOW)] == [MyStatus.OPEN]
    attempts.start_attempt(exam, cadre.user, NOW)
    assert [r.status for r in dashboard.my_exams(cadre.user, NOW)] == [MyStatus.IN_PROGRESS]


# ---------------------------------------------------------------- the page


def _login(client, auth, user):
    _db.session.commit()
    assert auth.login(user.username).status_code == 302
    return client.get("/").get_data(as_text=True)


def test_the_home_page_of_the_district_admin_links_each_number(client, auth, district):
    p = district["people"]
    exam = _exam("OPEN1", T0 - timedelta(days=400), T0 + timedelta(days=400))  # open whenever the test runs
    attempts.start_attempt(exam, p["a1"].user, T0)
    year = local_today().year
    book = reading.add_book(district["org"], year, "学习纲要", "", "", 10, NOW)
    reading.submit_note(p["b1"].user, p["b1"], book, "读" * 20, NOW)
    html = _login(client, auth, district["org"])
    assert 'id="board-exams"' in html and 'id="board-completion"' in html
    assert 'href="/exams/OPEN1/attempts">1</a>' in html
    assert re.search(rf'href="/archive/reading/review\?year={year}"><strong>1</strong>', html)
    assert 'href="/banks/review"' in html and 'href="/grading/"' in html
    town = district["units"]["a"].id
    assert f"/archive/overview/cadres?which=short&amp;year={year}&amp;unit={town}&amp;subtree=1" in html
    assert 'href="/admin/cadres"' in html and 'href="/admin/audit"' in html  # the menu of before stays
    for link in re.findall(r'href="(/archive/overview/cadres\?[^"]+)"', html)[:3]:
        assert client.get(link.replace("&amp;", "&")).status_code == 200


def test_the_home_page_of_a_unit_admin_who_is_a_cadre(client, auth, district):
    html = _login(client, auth, district["ua"])
    assert 'id="board-completion"' in html and 'id="board-notes"' in html
    assert 'id="board-questions"' not in html and 'id="board-answers"' not in html
    assert "柳河镇" not in html.split('id="board-completion"')[1]  # B is not theirs
    assert 'id="my-exams"' in html  # and their own exams as a cadre


def test_a_plain_cadre_sees_no_board(client, auth, district):
    html = _login(client, auth, district["people"]["a1"].user)
    assert 'id="board"' not in html and 'id="my-exams"' in html


def test_my_exams_on_the_page_say_results_released_for_a_graded_exam_shown_after_the_close(client, auth, district):
    from core.models import now_utc

    cadre = district["people"]["b1"]
    now = now_utc()
    opens = now - timedelta(days=2)
    after = _exam("SHOWN", opens, opens + timedelta(days=1), release_policy="after_close")
    manual = _exam("HELD", opens, opens + timedelta(days=1), release_policy="manual")
    for exam in (after, manual):
        _sat(exam, cadre, opens + timedelta(hours=1))
    html = _login(client, auth, cadre.user)
    assert 'data-status="released">已公布成绩</span>' in html
    assert 'data-status="graded">已阅卷，待公布成绩</span>' in html
    assert "已结束" not in html.split('id="my-exams"')[1]  # the old word for a graded exam not released by hand
