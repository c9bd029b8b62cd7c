"""The access matrix of the archive pages (and the public verification page): every route, every role."""

import difflib
import re
from datetime import UTC, date, datetime

import pytest

from archive import assessment, reading, records, training
from archive.models import Qualification
from core.extensions import limiter
from core.policy import Role
from tests.factories import make_cadre, make_unit, make_user

ANON = "anonymous"
ROLES = [ANON, *[r.value for r in Role]]
ALL = set(ROLES)
ADMINS = {"system_admin", "org_admin", "unit_admin"}
DISTRICT = {"system_admin", "org_admin"}
WITH_PROFILE = {"unit_admin", "cadre"}  # the test's unit admin and cadre have cadre profiles; the others do not
NOBODY: set = set()  # only the archive's owner, who is none of the test's users
NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)

# endpoint -> (method, url template, roles allowed); written out by hand, not derived from the policy.
ROUTES = {
    "archive.home": ("GET", "/archive/", ADMINS | {"cadre"}),
    "archive.overview": ("GET", "/archive/overview?year=2026", ADMINS),
    "archive.overview_cadres": ("GET", "/archive/overview/cadres?year=2026&unit={unit}&which=met", ADMINS),
    "archive.roster_export": ("GET", "/archive/overview/roster.xlsx?year=2026", ADMINS),
    "archive.education": ("GET", "/archive/education", ADMINS),
    "archive.cadre": ("GET", "/archive/cadres/{username}", ADMINS),
    "archive.cadre_pdf": ("GET", "/archive/cadres/{username}/archive.pdf", ADMINS),
    "archive.cadre_xlsx": ("GET", "/archive/cadres/{username}/archive.xlsx", ADMINS),
    "archive.entry_new": ("GET", "/archive/cadres/{username}/entries/new?kind=collective", ADMINS),
    "archive.entry": ("GET", "/archive/entries/{entry}", ADMINS),
    "archive.entry_correct": ("GET", "/archive/entries/{entry}/correct", ADMINS),
    "archive.entry_remove": ("POST", "/archive/entries/{entry}/remove", ADMINS),
    "archive.entry_review": ("POST", "/archive/entries/{pending}/review", ADMINS),
    "archive.plan": ("GET", "/archive/cadres/{username}/plans/2026", ADMINS),
    "archive.plan_agree": ("POST", "/archive/plans/{plan}/agree", ADMINS),
    "archive.assessment_page": ("GET", "/archive/cadres/{username}/assessments/2026", ADMINS),
    "archive.acknowledge": ("POST", "/archive/assessments/{assessment}/acknowledge", NOBODY),
    # The row rests on no released results: nobody may print it (keepers are told it is not there).
    "archive.certificate": ("GET", "/archive/qualifications/{qualification}/certificate.pdf", NOBODY),
    "archive.reading_list": ("GET", "/archive/reading?year=2026", ADMINS | {"cadre"}),
    "archive.book_add": ("POST", "/archive/reading/books?year=2026", DISTRICT),
    "archive.book_withdraw": ("POST", "/archive/reading/books/{book}/withdraw", DISTRICT),
    "archive.note": ("GET", "/archive/reading/books/{book}/note", WITH_PROFILE),
    "archive.notes_queue": ("GET", "/archive/reading/review?year=2026", ADMINS),
    "archive.note_review": ("POST", "/archive/reading/notes/{note}/review", ADMINS),
    "archive.reading_exam_attach": ("POST", "/archive/reading/exam?year=2026", DISTRICT, {"code": "NOPE"}),
    "archive.reading_exam_detach": ("POST", "/archive/reading/exam/detach?year=2026", DISTRICT),
    "archive.classes": ("GET", "/archive/classes?year=2026", ADMINS),
    "archive.class_new": ("GET", "/archive/classes/new", ADMINS),
    "archive.class_detail": ("GET", "/archive/classes/{klass}/", ADMINS),
    "archive.class_edit": ("GET", "/archive/classes/{klass}/edit", ADMINS),
    "archive.class_enrol": ("POST", "/archive/classes/{klass}/enrol", ADMINS, {"mode": "numbers", "numbers": ""}),
    "archive.class_unenrol": ("POST", "/archive/classes/{klass}/enrolments/{enrolment}/remove", ADMINS),
    "archive.class_attendance": ("POST", "/archive/classes/{klass}/attendance", ADMINS),
    "archive.years": ("GET", "/archive/years", DISTRICT),
    "archive.year_close": ("POST", "/archive/years/2025/close", DISTRICT),
    "verify.form": ("GET", "/verify/", ALL),
    "verify.check": ("GET", "/verify/{code}", ALL),
}


def test_every_archive_route_is_in_the_matrix(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith(("archive.", "verify."))}
    assert endpoints == set(ROUTES)


def _archive(db, unit):
    """A staff cadre of `unit` with a record, a pending self-study, a plan, an assessment, a reading note, a class
    and a qualification row."""
    admin = make_user(roles=(Role.ORG_ADMIN,))
    owner = make_cadre(unit=unit)
    entry = records.add_entry(
        admin,
        owner,
        "collective",
        {"title": "集中学习", "organiser": "支部", "starts_on": "2026-03-01", "hours": "2"},
        NOW,
    )
    pending = records.add_entry(
        owner.user,
        owner,
        "self_study",
        {"title": "自学", "starts_on": "2026-03-02", "hours": "2", "evidence": "笔记"},
        NOW,
    )
    plan = assessment.save_plan(owner.user, owner, 2026, "目标", {"self_study": 10}, "", NOW)
    row = assessment.appraise(
        admin, owner, 2026, "全年学习认真，完成计划规定的各项学习任务。" * 2, "competent", "", NOW
    )
    book = reading.add_book(admin, 2026, "必读书", "", "", 1, NOW)
    note = reading.submit_note(owner.user, owner, book, "读书有得", NOW)
    klass = training.create_class(
        admin,
        {
            "code": "K1",
            "name": "培训班",
            "organiser": "组织部",
            "place": "党校",
            "class_type": "party_school",
            "hour_kind": "off_job",
            "starts_on": date(2026, 5, 1),
            "ends_on": date(2026, 5, 3),
            "hours": 16.0,
            "spending": 0,
            "unit_id": unit.id,
        },
        NOW,
    )
    training.enrol_by_numbers(admin, klass, [owner.employee_number], NOW)
    qual = Qualification(
        user_id=owner.user_id,
        cycle="2026",
        code="ABCD-EFGH-JKMN-PQRS",
        granted_on=date(2026, 5, 1),
        valid_until=date(2029, 5, 1),
        created_at=NOW,
    )
    db.session.add(qual)
    db.session.commit()
    return {
        "username": owner.employee_number,
        "entry": entry.id,
        "pending": pending.id,
        "plan": plan.id,
        "assessment": row.id,
        "book": book.id,
        "note": note.id,
        "klass": klass.code,
        "unit": unit.id,
        "enrolment": klass.enrolments[0].id,
        "qualification": qual.id,
        "code": qual.code,
    }


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(client, auth, db, role):
    """Every route for one role, on one archive: pages first, then the POSTs (which may change what later POSTs
    find, never whether they are allowed)."""
    unit = make_unit("青山镇")
    ids = _archive(db, unit)
    if role != ANON:
        auth.login_as(role, unit=unit) if role == "unit_admin" else auth.login_as(role)
    wrong = []
    for route in sorted(ROUTES, key=lambda r: (ROUTES[r][0] == "POST", r)):
        limiter.reset()
        method, template, allowed, *data = ROUTES[route]
        url = template.format(**ids)
        response = client.get(url) if method == "GET" else client.post_form(url, *data)
        status, location = response.status_code, response.headers.get("Location", "")
        if route == "verify.check" or route == "archive.certificate" and role in ADMINS:
            # /verify is public, and keepers may read the certificate's archive; but the qualification rests on no
            # released results, so neither shows it.
            ok = status == 404
        elif role in allowed:
            ok = status == 200 or status == 302 and "/login" not in location
        elif role == ANON:
            ok = status == 302 and "/login" in location
        else:
            # An archive named by employee number answers as if there were none: numbers cannot be probed.
            ok = status == (404 if "{username}" in template else 403)
        if not ok:
            wrong.append((route, status))
    assert wrong == []


def test_a_unit_admin_elsewhere_reaches_nothing_of_this_archive(client, auth, db):
    ids = _archive(db, make_unit("青山镇"))
    auth.login_as("unit_admin", unit=make_unit("柳河镇"))
    for route in (
        "archive.cadre",
        "archive.cadre_pdf",
        "archive.cadre_xlsx",
        "archive.plan",
        "archive.assessment_page",
    ):
        assert client.get(ROUTES[route][1].format(**ids)).status_code == 404, route
    for route in (
        "archive.entry",
        "archive.entry_correct",
        "archive.certificate",
        "archive.class_detail",
    ):
        assert client.get(ROUTES[route][1].format(**ids)).status_code == 403, route
    for route in ("archive.entry_remove", "archive.note_review", "archive.plan_agree", "archive.class_attendance"):
        assert client.post_form(ROUTES[route][1].format(**ids)).status_code == 403, route
    assert client.get(f"/archive/overview/cadres?unit={ids['unit']}").status_code == 403


def test_the_owner_acknowledges_and_reads_but_does_not_manage(client, auth, db):
    ids = _archive(db, make_unit())
    auth.login(ids["username"])
    assert client.get(f"/archive/cadres/{ids['username']}").status_code == 200
    assert client.post_form(f"/archive/entries/{ids['entry']}/remove", {"reason": "不想要"}).status_code == 403
    assert client.post_form(f"/archive/entries/{ids['pending']}/review", {"decision": "accept"}).status_code == 403
    assert client.post_form(f"/archive/reading/notes/{ids['note']}/review", {"decision": "accept"}).status_code == 403
    response = client.post_form(f"/archive/assessments/{ids['assessment']}/acknowledge", {"feedback": "已阅"})
    assert response.status_code == 302
    # The qualification row rests on no released results: its holder does not see it yet.
    assert client.get(f"/archive/qualifications/{ids['qualification']}/certificate.pdf").status_code == 404


#: Every route keyed by an employee number, in the archive and elsewhere, with the methods it allows.
BY_NUMBER = [
    ("GET", "/archive/cadres/{n}"),
    ("GET", "/archive/cadres/{n}/archive.pdf"),
    ("GET", "/archive/cadres/{n}/archive.xlsx"),
    ("GET", "/archive/cadres/{n}/entries/new?kind=self_study"),
    ("POST", "/archive/cadres/{n}/entries/new?kind=self_study"),
    ("GET", "/archive/cadres/{n}/plans/2026"),
    ("POST", "/archive/cadres/{n}/plans/2026"),
    ("GET", "/archive/cadres/{n}/assessments/2026"),
    ("POST", "/archive/cadres/{n}/assessments/2026"),
    ("GET", "/reports/people/{n}/history"),
]


def test_every_route_keyed_by_username_is_in_the_probe_list(app):
    keyed = {r.rule.replace("<year:year>", "2026") for r in app.url_map.iter_rules() if "<username>" in r.rule}
    listed = {re.sub(r"\?.*", "", path).replace("{n}", "<username>") for _m, path in BY_NUMBER}
    assert keyed == listed


@pytest.mark.parametrize("who", ["cadre", "unit_admin", "grader"])
def test_someone_elses_archive_answers_like_no_archive_at_all(client, auth, db, who):
    """A cadre (or a unit admin of another unit, also a cadre; or a grader who is also a cadre) cannot tell an
    existing employee number from a made-up one: both answer 404 with the same page."""
    ids = _archive(db, make_unit("青山镇"))
    if who == "unit_admin":
        auth.login_as("unit_admin", unit=make_unit("柳河镇"))
    elif who == "grader":
        user = make_user(roles=(Role.GRADER, Role.CADRE))
        make_cadre(user=user)
        db.session.commit()
        auth.login(user.username)
    else:
        auth.login_as("cadre")
    for method, template in BY_NUMBER:
        answers = []
        for number in (ids["username"], "NOBODY-9999"):
            url = template.format(n=number)
            response = client.get(url) if method == "GET" else client.post_form(url, {"title": "x"})
            body = response.get_data(as_text=True).replace(number, "")
            token = re.search(r'name="csrf-token" content="([^"]+)"', body)
            if token:  # signed anew with the time: differs from one second to the next
                body = body.replace(token.group(1), "")
            answers.append((response.status_code, body))
        assert answers[0][0] == 404, (template, answers[0][0])
        if answers[0] != answers[1]:
            diff = difflib.unified_diff(answers[0][1].splitlines(), answers[1][1].splitlines(), lineterm="", n=0)
            raise AssertionError((template, "\n".join(diff)))
