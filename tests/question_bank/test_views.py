"""Question-bank pages: the access matrix of every route, authoring through the form, import, export, images."""

import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from core.policy import Role
from question_bank.models import Bank, Question, QuestionStatus
from question_bank.richtext import IMAGE_URL_PREFIX
from tests.factories import confirmation, make_bank, make_cadre, make_question, make_unit, make_user
from tests.question_bank.test_formats import row, xlsx

ANON = "anonymous"
ROLES = [ANON, *[r.value for r in Role]]
DISTRICT = {"system_admin", "org_admin"}
MANAGE = DISTRICT | {"author"}  # an author of the bank's own unit
VIEW = MANAGE | {"grader"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

# endpoint -> (method, url template, roles allowed). The author in this matrix belongs to the bank's unit.
ROUTES = {
    "question_bank.banks": ("GET", "/banks/", VIEW),
    "question_bank.bank_form": ("GET", "/banks/new", MANAGE),
    "question_bank.bank_form#edit": ("GET", "/banks/{bank}/edit", MANAGE),
    "question_bank.bank": ("GET", "/banks/{bank}/", VIEW),
    "question_bank.category_create": ("POST", "/banks/{bank}/categories", MANAGE),
    "question_bank.category_change": ("POST", "/banks/{bank}/categories/change", MANAGE),
    "question_bank.bank_practice": ("POST", "/banks/{bank}/practice", MANAGE),
    "question_bank.category_practice": ("POST", "/banks/{bank}/categories/practice", MANAGE),
    "question_bank.question_new": ("GET", "/banks/{bank}/questions/new?type=fill", MANAGE),
    "question_bank.question_edit": ("GET", "/banks/questions/{question}/edit", MANAGE),
    "question_bank.question": ("GET", "/banks/questions/{question}", VIEW),
    "question_bank.question_version": ("GET", "/banks/questions/{question}/versions/1", VIEW),
    "question_bank.question_step": ("POST", "/banks/questions/{question}/submit", MANAGE),
    "question_bank.question_step#approve": ("POST", "/banks/questions/{question}/approve", MANAGE),
    "question_bank.question_step#return": ("POST", "/banks/questions/{question}/return", MANAGE),
    "question_bank.question_step#retire": ("POST", "/banks/questions/{question}/retire", MANAGE),
    "question_bank.question_step#restore": ("POST", "/banks/questions/{question}/restore", MANAGE),
    "question_bank.bulk": ("POST", "/banks/{bank}/bulk", MANAGE),
    "question_bank.preview": ("POST", "/banks/preview?type=single", MANAGE),
    "question_bank.review": ("GET", "/banks/review", MANAGE),
    "question_bank.image_upload": ("POST", "/banks/images", MANAGE),
    "question_bank.image": ("GET", "/banks/images/{image}", VIEW),
    "question_bank.import_questions": ("GET", "/banks/{bank}/import", MANAGE),
    "question_bank.import_commit": ("POST", "/banks/{bank}/import/commit", MANAGE),
    "question_bank.import_template": ("GET", "/banks/import/template", MANAGE),
    "question_bank.export": ("GET", "/banks/{bank}/export?format=gift", MANAGE),
    "question_bank.export_check": ("GET", "/banks/{bank}/export/check?format=aiken", MANAGE),
}


def test_every_route_is_in_the_matrix(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("question_bank.")}
    assert endpoints == {key.split("#")[0] for key in ROUTES}


def _store_image(app) -> str:
    from question_bank.images import store_image

    return store_image(PNG).removeprefix(IMAGE_URL_PREFIX)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", sorted(ROUTES))
def test_access_matrix(client, auth, db, app, role, route):
    method, template, allowed = ROUTES[route]
    unit = make_unit()
    bank = make_bank(owner_unit=unit)
    question = make_question(bank=bank)
    from question_bank.services import ensure_category_path

    category = ensure_category_path(bank, "章/节")
    db.session.commit()
    if role == "author":
        user = make_cadre(unit=unit, roles=(Role.AUTHOR, Role.CADRE)).user
        db.session.commit()
        auth.login(user.username)
    elif role != ANON:
        auth.login_as(role, unit=unit) if role == "unit_admin" else auth.login_as(role)
    url = template.format(bank=bank.code, question=question.id, category=category.id, image=_store_image(app))
    if method == "GET":
        response = client.get(url)
    elif route == "question_bank.image_upload":
        response = client.post_form(url, {"image": (io.BytesIO(PNG), "a.png")}, content_type="multipart/form-data")
    else:
        response = client.post_form(
            url,
            {
                "name": "新名",
                "action": "difficulty",
                "difficulty": "2",
                "qid": question.id,
                "category_id": category.id,
                "opened": "1",
            },
        )
    if role in allowed:
        assert response.status_code in (200, 302), (role, route, response.status_code)
        if response.status_code == 302:
            assert "/login" not in response.headers["Location"]
    elif role == ANON:
        assert response.status_code in (302, 401) and (
            response.status_code == 401 or "/login" in response.headers["Location"]
        )
    else:
        assert response.status_code == 403, (role, route, response.status_code)


def test_author_of_another_unit_sees_nothing_of_the_bank(client, auth, db):
    bank = make_bank(owner_unit=make_unit())
    question = make_question(bank=bank)
    outsider = make_cadre(unit=make_unit(), roles=(Role.AUTHOR, Role.CADRE)).user
    db.session.commit()
    auth.login(outsider.username)
    assert client.get(f"/banks/{bank.code}/").status_code == 403
    assert client.get(f"/banks/questions/{question.id}").status_code == 403
    assert bank.name not in client.get("/banks/").get_data(as_text=True)


def test_cadre_never_sees_a_key(client, auth, db):
    question = make_question(status="active")
    db.session.commit()
    auth.login_as("cadre")
    for url in ("/banks/", f"/banks/questions/{question.id}", f"/banks/{question.bank.code}/export?format=xlsx"):
        response = client.get(url)
        assert response.status_code == 403
        assert "人民代表大会制度" not in response.get_data(as_text=True)


def test_write_a_question_through_the_form(client, auth, db):
    bank = make_bank(code="ZZLL")
    db.session.commit()
    auth.login_as("org_admin")
    form = {
        "stem": "<p>宪法规定，中华人民共和国的一切权力属于______。</p>",
        "blanks": "人民\n",
        "ignore_case": "y",
        "points": "1",
        "difficulty": "2",
        "category_id": "0",
        "tags": "宪法，总纲",
        "explanation": "见宪法第二条",
        "reference": "《宪法》第二条",
    }
    response = client.post_form("/banks/ZZLL/questions/new?type=fill", form)
    assert response.status_code == 302, response.get_data(as_text=True)
    q = db.session.scalar(select(Question).where(Question.bank_id == bank.id))
    assert q.type == "fill" and q.status == QuestionStatus.DRAFT
    assert q.current_version.answer == [["人民"]]
    assert q.current_version.settings["ignore_case"] is True and q.current_version.settings["ignore_punct"] is False
    assert q.current_version.settings["ignore_spaces"] is False  # unticked: spaces count for this question
    assert sorted(t.name for t in q.tags) == ["宪法", "总纲"]
    # Saving the same stem again warns of a duplicate first and saves only when confirmed.
    html = client.post_form("/banks/ZZLL/questions/new?type=fill", form).get_data(as_text=True)
    assert f"#{q.id}" in html
    assert db.session.scalar(select(func.count(Question.id))) == 1
    assert (
        client.post_form("/banks/ZZLL/questions/new?type=fill", {**form, "confirm_duplicate": "1"}).status_code == 302
    )
    assert db.session.scalar(select(func.count(Question.id))) == 2


def test_the_editor_shows_a_version_without_settings_as_ignoring_spaces(client, auth, db):
    """A version stored before the option existed (no settings) ignores spaces, as the README says: its editor
    ticks the box, and saving it unchanged keeps that meaning."""
    import re

    q = make_question(qtype="fill", status="active", settings={})
    db.session.commit()
    auth.login_as("org_admin")
    page = client.get(f"/banks/questions/{q.id}/edit").get_data(as_text=True)
    for name in ("ignore_case", "ignore_width", "ignore_punct", "ignore_spaces"):
        assert re.search(rf'<input[^>]*\bchecked\b[^>]*name="{name}"|<input[^>]*name="{name}"[^>]*\bchecked\b', page)


def test_edit_page_saves_a_new_version_and_shows_history(client, auth, db):
    q = make_question(status="active")
    db.session.commit()
    auth.login_as("org_admin")
    page = client.get(f"/banks/questions/{q.id}/edit").get_data(as_text=True)
    assert "人民代表大会制度" in page
    form = {
        "stem": "我国的根本政治制度是什么？______",
        "option_count": "3",
        "option_0": "人民代表大会制度",
        "option_1": "民族区域自治制度",
        "option_2": "基层群众自治制度",
        "correct": "0",
        "points": "1",
        "difficulty": "3",
        "category_id": "0",
        "tags": "",
    }
    assert client.post_form(f"/banks/questions/{q.id}/edit", form).status_code == 302
    html = client.get(f"/banks/questions/{q.id}").get_data(as_text=True)
    assert "第2版" in html or "Version 2" in html
    assert re.search(r'class="add">\+[^<]*什么', html)


def test_preview_renders_blanks_and_problems(client, auth, db):
    auth.login_as("org_admin")
    html = client.post_form("/banks/preview?type=fill", {"stem": "两空______和______", "blanks": "甲"}).get_data(
        as_text=True
    )
    assert html.count('class="blank"') == 2
    assert 'class="issues"' in html


def test_review_queue_and_approval(client, auth, db):
    unit = make_unit()
    author = make_cadre(unit=unit, roles=(Role.AUTHOR, Role.CADRE)).user
    bank = make_bank(owner_unit=unit)
    q = make_question(bank=bank, actor=author)
    db.session.commit()
    auth.login(author.username)
    client.post_form(f"/banks/questions/{q.id}/submit")
    assert f"/banks/questions/{q.id}" not in client.get("/banks/review").get_data(as_text=True)  # not one's own
    client.post_form(f"/banks/questions/{q.id}/approve")
    db.session.expire_all()
    assert db.session.get(Question, q.id).status == QuestionStatus.IN_REVIEW  # nobody approves their own
    client.post_form("/logout")
    reviewer = make_cadre(unit=unit, roles=(Role.AUTHOR, Role.CADRE)).user
    db.session.commit()
    auth.login(reviewer.username)
    assert f"/banks/questions/{q.id}" in client.get("/banks/review").get_data(as_text=True)
    client.post_form(f"/banks/questions/{q.id}/approve", {"comment": "好"})
    db.session.expire_all()
    assert db.session.get(Question, q.id).status == QuestionStatus.ACTIVE


def test_search_filters_and_bulk(client, auth, db):
    bank = make_bank(code="SRCH")
    make_question(bank=bank, stem="关于宪法的题目______", status="active")
    make_question(bank=bank, stem="关于公文的题目______", qtype="single", status="draft")
    db.session.commit()
    auth.login_as("org_admin")
    html = client.get("/banks/SRCH/?q=宪法").get_data(as_text=True)
    assert "关于宪法" in html and "关于公文" not in html
    make_question(bank=bank, stem="ＷＴＯ规则______", status="active")
    db.session.commit()
    assert "规则" in client.get("/banks/SRCH/?q=wto").get_data(as_text=True)  # width and case folded
    html = client.get("/banks/SRCH/?status=draft").get_data(as_text=True)
    assert "关于公文" in html and "关于宪法" not in html
    ids = db.session.scalars(select(Question.id).where(Question.bank_id == bank.id)).all()
    client.post_form("/banks/SRCH/bulk", {"action": "difficulty", "difficulty": "5", "qid": ids})
    db.session.expire_all()
    assert set(db.session.scalars(select(Question.difficulty).where(Question.bank_id == bank.id))) == {5}


def test_import_preview_then_commit(client, auth, db):
    bank = make_bank(code="IMP")
    db.session.commit()
    auth.login_as("org_admin")
    data = xlsx([row(stem="第一题______"), row(stem="第二题______", answer="B")])
    html = client.post_form(
        "/banks/IMP/import", {"file": (io.BytesIO(data), "q.xlsx"), "status": "active"},
        content_type="multipart/form-data",
    ).get_data(as_text=True)  # fmt: skip
    assert "/banks/IMP/import/commit" in html
    assert db.session.scalar(select(func.count(Question.id))) == 0
    assert client.post_form("/banks/IMP/import/commit", confirmation(html)).status_code == 302
    statuses = db.session.scalars(select(Question.status).where(Question.bank_id == bank.id)).all()
    assert statuses == ["active", "active"]


def test_import_bad_file_writes_nothing(client, auth, db):
    make_bank(code="IMP")
    db.session.commit()
    auth.login_as("org_admin")
    data = xlsx([row(), row(answer="Z")])
    html = client.post_form(
        "/banks/IMP/import", {"file": (io.BytesIO(data), "q.xlsx")}, content_type="multipart/form-data"
    ).get_data(as_text=True)
    assert "第3行 K列（答案）" in html
    assert client.post_form("/banks/IMP/import/commit").status_code == 302
    assert db.session.scalar(select(func.count(Question.id))) == 0


def test_export_and_what_aiken_cannot_hold(client, auth, db):
    bank = make_bank(code="EXP")
    make_question(bank=bank, status="active")
    make_question(bank=bank, qtype="essay", status="active")
    db.session.commit()
    auth.login_as("org_admin")
    response = client.get("/banks/EXP/export?format=xlsx")
    ws = load_workbook(io.BytesIO(response.data)).active
    assert ws.max_row == 3 and ws["A1"].value == "题型"
    check = client.get("/banks/EXP/export/check?format=aiken").get_data(as_text=True)
    assert "Aiken" in check
    assert client.get("/banks/EXP/export?format=aiken").headers["X-QualExam-Not-Exported"] == "2"


def test_images_are_checked_by_content(client, auth, db):
    auth.login_as("org_admin")
    response = client.post_form(
        "/banks/images", {"image": (io.BytesIO(b"<svg onload=alert(1)>"), "x.png")}, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    response = client.post_form(
        "/banks/images", {"image": (io.BytesIO(PNG), "a.png")}, content_type="multipart/form-data"
    )
    url = response.get_json()["url"]
    assert url.startswith(IMAGE_URL_PREFIX) and url.endswith(".png")
    served = client.get(url)
    assert served.status_code == 200 and served.mimetype == "image/png" and served.data == PNG
    assert client.get("/banks/images/secret_key.png").status_code == 404
    assert client.get(f"/banks/images/{'0' * 64}.png").status_code == 404


def test_create_bank_page(client, auth, db):
    unit = make_unit()
    db.session.commit()
    auth.login_as("org_admin")
    response = client.post_form(
        "/banks/new", {"code": "NEW1", "name": "新题库", "subject": "岗位知识", "owner_unit_id": unit.id}
    )
    assert response.status_code == 302
    assert db.session.scalar(select(Bank).where(Bank.code == "NEW1")).owner_unit_id == unit.id


def test_cli_banks_and_questions(runner, db, tmp_path):
    make_user(username="root", roles=(Role.SYSTEM_ADMIN,))
    make_unit(code="TOP")
    db.session.commit()
    assert (
        runner.invoke(args=["banks", "create", "CLI1", "--name", "命令行题库", "--subject", "政治理论"]).exit_code == 0
    )
    template = tmp_path / "t.xlsx"
    assert runner.invoke(args=["questions", "template", "-o", str(template)]).exit_code == 0
    result = runner.invoke(args=["questions", "import", str(template), "--bank", "CLI1", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count(Question.id))) == 0
    result = runner.invoke(args=["questions", "import", str(template), "--bank", "CLI1", "--status", "active"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count(Question.id))) == 5
    out = tmp_path / "out.txt"
    result = runner.invoke(args=["questions", "export", "--bank", "CLI1", "--format", "gift", "-o", str(out)])
    assert result.exit_code == 0 and "not exported" in result.output  # the two-blank fill example
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(xlsx([row(answer="Q")]))
    result = runner.invoke(args=["questions", "import", str(bad), "--bank", "CLI1"])
    assert result.exit_code == 1 and "第2行 K列（答案）" in result.output


def test_rename_and_delete_categories(client, auth, db):
    from question_bank.models import Category
    from question_bank.services import ensure_category_path

    bank = make_bank(code="CAT")
    leaf = ensure_category_path(bank, "章/节")
    db.session.commit()
    leaf_id, parent_id = leaf.id, leaf.parent_id
    auth.login_as("org_admin")
    client.post_form("/banks/CAT/categories/change", {"category_id": leaf_id, "op": "rename", "name": "新节"})
    db.session.expire_all()
    assert db.session.get(Category, leaf_id).name == "新节"
    client.post_form("/banks/CAT/categories/change", {"category_id": parent_id, "op": "delete"})
    db.session.expire_all()
    assert db.session.scalar(select(Category).where(Category.id == parent_id)) is not None  # not empty: refused
    client.post_form("/banks/CAT/categories/change", {"category_id": leaf_id, "op": "delete"})
    db.session.expire_all()
    assert db.session.scalar(select(Category).where(Category.id == leaf_id)) is None


def test_author_of_another_unit_cannot_write(client, auth, db):
    bank = make_bank(code="OTHR", owner_unit=make_unit())
    question = make_question(bank=bank)
    from question_bank.services import ensure_category_path

    category = ensure_category_path(bank, "章")
    outsider = make_cadre(unit=make_unit(), roles=(Role.AUTHOR, Role.CADRE)).user
    db.session.commit()
    auth.login(outsider.username)
    for method, template, _allowed in ROUTES.values():
        if "{bank}" not in template and "{question}" not in template:
            continue
        url = template.format(bank="OTHR", question=question.id, category=category.id, image="x")
        response = client.get(url) if method == "GET" else client.post_form(url, {"qid": question.id})
        assert response.status_code == 403, url
    db.session.expire_all()
    assert db.session.get(Question, question.id).status == QuestionStatus.DRAFT


def test_retire_and_restore_cannot_skip_review(client, auth, db):
    unit = make_unit()
    author = make_cadre(unit=unit, roles=(Role.AUTHOR, Role.CADRE)).user
    q = make_question(bank=make_bank(owner_unit=unit), actor=author)
    db.session.commit()
    auth.login(author.username)
    for step in ("retire", "restore", "approve"):
        client.post_form(f"/banks/questions/{q.id}/{step}")
    db.session.expire_all()
    assert db.session.get(Question, q.id).status == QuestionStatus.DRAFT


def test_double_confirmation_imports_once(client, auth, db):
    bank = make_bank(code="TWICE")
    db.session.commit()
    auth.login_as("org_admin")
    preview = client.post_form(
        "/banks/TWICE/import", {"file": (io.BytesIO(xlsx([row()])), "q.xlsx")}, content_type="multipart/form-data"
    ).get_data(as_text=True)
    assert client.post_form("/banks/TWICE/import/commit", confirmation(preview)).status_code == 302
    again = client.post_form("/banks/TWICE/import/commit", confirmation(preview))  # a second tab's confirmation
    assert again.status_code == 302
    assert db.session.scalar(select(func.count(Question.id)).where(Question.bank_id == bank.id)) == 1
