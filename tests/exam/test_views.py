"""Exam administration pages: access for every role, the detail page, publishing, files."""

import io
import json
from datetime import date

import pytest
from sqlalchemy import select

from core.policy import Role
from exam.files import export_exam
from exam.models import Exam
from tests.exam.test_engine import fill_bank, make_exam
from tests.factories import make_bank, make_cadre, make_unit

ANON = "anonymous"
ROLES = [ANON, *[r.value for r in Role]]
DISTRICT = {"system_admin", "org_admin"}
ROUTES = {
    "exam.exams": ("GET", "/exams/"),
    "exam.import_file": ("POST", "/exams/import"),
    "exam.exam": ("GET", "/exams/{code}/"),
    "exam.publish": ("POST", "/exams/{code}/publish"),
    "exam.candidate": ("POST", "/exams/{code}/candidates"),
    "exam.export": ("GET", "/exams/{code}/export"),
}


def test_every_exam_route_is_in_the_matrix(app):
    assert {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("exam.")} == set(ROUTES)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", sorted(ROUTES))
def test_access_matrix(client, auth, db, role, route):
    bank = make_bank()
    fill_bank(bank, n=3)
    exam = make_exam(bank)
    db.session.commit()
    if role != ANON:
        auth.login_as(role)
    method, template = ROUTES[route]
    url = template.format(code=exam.code)
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


def test_hand_added_person_with_extra_time_gets_a_paper_and_the_time(client, auth, db):
    from datetime import timedelta

    from exam import services
    from exam.models import Paper
    from tests.exam.test_engine import T0

    bank = make_bank()
    fill_bank(bank, n=3)
    exam = make_exam(bank, eligibility={"unit_ids": [make_unit().id]}, duration_minutes=60)
    outsider = make_cadre(unit=make_unit())
    services.publish(make_cadre(unit=make_unit(), roles=(Role.ORG_ADMIN,)).user, exam, T0 - timedelta(days=1))
    db.session.commit()
    auth.login_as("org_admin")
    form = {"username": outsider.user.username, "include": "add", "extra_minutes": "30", "note": "视力障碍"}
    client.post_form(f"/exams/{exam.code}/candidates", form)
    db.session.expire_all()
    assert db.session.scalar(select(Paper).where(Paper.user_id == outsider.user_id)) is not None
    attempt = services.start_attempt(db.session.get(Exam, exam.id), outsider.user, T0)
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
