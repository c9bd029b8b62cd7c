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
