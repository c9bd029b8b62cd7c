"""Stored XSS: script, event-handler, javascript: and SVG payloads put into every field that reaches a page (by the
forms, the services behind them, and the imports), then every page that shows them rendered as the role that
reads it. A payload may be shown as text or cleaned away; it must never become markup that runs."""

import io
import json
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from accounts.models import Cadre, Unit, User
from archive import assessment, reading, records
from core.models import now_utc
from core.policy import Role
from exam import answers, attempts, grading, papers, publishing
from exam.models import Answer, Exam, ExamSection, SectionRule
from question_bank import services as qb
from question_bank.formats import table
from question_bank.models import Question
from question_bank.richtext import sanitize
from tests.archive.test_archive import _class
from tests.factories import confirmation, content, make_bank, make_cadre, make_unit, make_user

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
LINK = '<a href="javascript:alert(1)">j</a>'
SVG = "<svg onload=alert(1)>"
#: Everything at once (111 characters); fields of at most 64 take SHORT.
FULL = IMG + SCRIPT + LINK + SVG
SHORT = IMG + SCRIPT
#: How a payload shown as text looks in the page: escaped.
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


class _LiveMarkup(HTMLParser):
    """Collects what would run in a browser: an inline script (not a JSON data block), an event-handler attribute,
    a javascript: URL, an <svg>/<iframe>/<object>/<embed>/<base>, and an image from outside the app."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = {k for k, _v in attrs}
        if tag == "script" and "src" not in names and ("type", "application/json") not in attrs:
            self.found.append(f"<script> {attrs}")
        if tag in ("svg", "iframe", "object", "embed", "base", "math"):
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=…>")
            if value and re.sub(r"[\s\x00-\x1f]", "", value).lower().startswith(("javascript:", "vbscript:")):
                self.found.append(f"<{tag} {name}={value}>")
            if tag == "img" and name == "src" and not (value or "").startswith(("/", "data:image/png")):
                self.found.append(f"<img src={value}>")

    handle_startendtag = handle_starttag


def live_markup(html: str) -> list[str]:
    parser = _LiveMarkup()
    parser.feed(html)
    parser.close()
    return parser.found


def test_the_detector_sees_each_payload():
    """The check itself can fail: each payload, unescaped, is found; escaped, it is not."""
    for payload in (SCRIPT, IMG, LINK, SVG, "<IMG SRC=JaVaScRiPt:alert(1)>", "<b/onclick=alert(1)>"):
        assert live_markup(f"<p>{payload}</p>"), payload
    from markupsafe import escape

    assert live_markup(f"<p>{escape(FULL)}</p>") == []
    assert live_markup('<script type="application/json">{"a": "\\u003cscript\\u003e"}</script>') == []


def _inert(response, where, shown=True):
    """The page has no live markup; with `shown`, the payload reached it (as escaped text)."""
    assert response.status_code == 200, (where, response.status_code)
    html = response.get_data(as_text=True)
    assert live_markup(html) == [], where
    if shown:
        assert ESCAPED in html or "&lt;img src=x onerror" in html or "&#34;&gt;&lt;img" in html, where
    return html


# ---------------------------------------------------------------- the sanitizer of rich text

_IMAGE = "/banks/images/" + "a" * 64 + ".png"
VECTORS = [
    SCRIPT,
    IMG,
    LINK,
    SVG,
    "<svg><script>alert(1)</script></svg>",
    f'<img src="{_IMAGE}" onerror="alert(1)">',
    f'<img src="{_IMAGE}" width="1 onerror=alert(1)">',
    "<IMG SRC=JaVaScRiPt:alert(1)>",
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    '<img src="/banks/images/../../static/x.png">',
    '<span style="background:url(javascript:alert(1))" onmouseover="alert(1)">x</span>',
    '<p class="x" id="y" title="z">t</p>',
    "<iframe src=javascript:alert(1)></iframe>",
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    "<scr<script>ipt>alert(1)</script>",
    "<b/onclick=alert(1)>b</b>",
    "<!--<script>alert(1)</script>-->",
    '<form action="javascript:alert(1)"><button>go</button></form>',
    '<object data="javascript:alert(1)"></object><embed src="x.swf">',
    "<style>@import 'http://evil.example/x.css';</style>",
    '<base href="http://evil.example/">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<input autofocus onfocus="alert(1)">',
    '<details open ontoggle="alert(1)">',
    "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>",
]


@pytest.mark.parametrize("vector", VECTORS)
def test_the_sanitizer_keeps_nothing_that_runs(vector):
    cleaned = sanitize(vector)
    assert live_markup(cleaned) == [], cleaned
    assert not re.search(r"<(?!/?(p|br|strong|b|em|i|u|sub|sup|ul|ol|li|img|span|code)\b)[a-z!]", cleaned, re.I), (
        cleaned
    )
    assert not re.search(r"\s(on\w+|style|class|id|href|action|data)\s*=", cleaned, re.I), cleaned
    assert "javascript:" not in cleaned.lower()


def test_the_sanitizer_keeps_what_authors_need():
    """The positive control: sanitize is not just "drop everything"."""
    kept = f'<p><strong>重点</strong><br><img src="{_IMAGE}" alt="图" width="20"></p><ul><li><code>x</code></li></ul>'
    assert sanitize(kept) == kept


# ---------------------------------------------------------------- accounts: units, cadres, the cadre import


def test_unit_and_cadre_names_entered_in_the_forms_are_inert(client, auth, db):
    admin = auth.login_as("org_admin")
    response = client.post_form("/admin/units/new", {"code": "X1", "name": FULL[:100], "kind": "town",
                                                      "parent_id": "0", "sort_order": "0"})  # fmt: skip
    assert response.status_code == 302
    unit = db.session.scalar(select(Unit).where(Unit.code == "X1"))
    response = client.post_form("/admin/cadres/new", {
        "employee_number": "X0001", "name": SHORT, "gender": "male", "birth_date": "1990-01-01", "unit_id": unit.id,
        "rank": "staff", "position": FULL[:100], "education": "bachelor", "political_status": "cpc_member",
        "status": "serving"})  # fmt: skip
    _inert(response, "initial password page")
    cadre = db.session.scalar(select(Cadre).join(User).where(User.username == "X0001"))
    assert cadre.name == SHORT  # kept as typed: escaping is the page's job
    for url in ("/admin/units", "/admin/cadres", f"/admin/cadres?q={SHORT[:10]}", f"/admin/cadres/{cadre.id}/edit",
                "/admin/users", f"/admin/users/{cadre.user_id}", f"/admin/units/{unit.id}/edit", "/admin/audit",
                "/archive/cadres/X0001", "/archive/overview", "/archive/overview/cadres"):  # fmt: skip
        _inert(client.get(url), url, shown=url not in ("/admin/audit", "/archive/overview"))
    assert admin.username


def test_names_from_the_cadre_import_are_inert(client, auth, db):
    make_unit(FULL[:100], code="QSZ", kind="town")
    auth.login_as("org_admin")
    wb = Workbook()
    wb.active.append(["工号", "姓名", "性别", "出生日期", "单位", "职级", "职务", "学历", "政治面貌", "手机号码"])
    wb.active.append(["X0002", SHORT, "男", "1990-01-01", "QSZ", "科员", FULL[:100], "大学本科", "中共党员", ""])
    buf = io.BytesIO()
    wb.save(buf)
    preview = client.post_form("/admin/cadres/import", {"file": (io.BytesIO(buf.getvalue()), "c.xlsx")})
    _inert(preview, "import preview")
    done = client.post_form("/admin/cadres/import/commit", confirmation(preview.get_data(as_text=True)))
    _inert(done, "import done")
    _inert(client.get("/admin/cadres"), "cadre list")


# ---------------------------------------------------------------- questions: editor, preview, imports


def _question_form(stem=FULL, option=FULL, explanation=FULL):
    return {
        "stem": stem,
        "option_count": "2",
        "option_0": option,
        "option_1": "乙",
        "correct": "0",
        "points": "1",
        "difficulty": "3",
        "category_id": "0",
        "tags": "",
        "explanation": explanation,
        "reference": FULL,
    }


def test_questions_from_the_editor_and_its_preview_are_inert(client, auth, db):
    bank = make_bank()
    db.session.commit()
    auth.login_as("org_admin")
    preview = client.post_form("/banks/preview?type=single", _question_form())
    assert preview.status_code == 200 and live_markup(preview.get_data(as_text=True)) == []
    response = client.post_form(f"/banks/{bank.code}/questions/new?type=single", _question_form())
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    question = db.session.scalar(select(Question))
    version = question.current_version
    for stored in (version.stem, *version.options, version.explanation):
        assert live_markup(stored) == [] and "alert(1)" not in stored.replace("onerror=alert(1)&gt;", "")
    for url in (
        f"/banks/{bank.code}/",
        f"/banks/questions/{question.id}",
        f"/banks/questions/{question.id}/edit",
        f"/banks/questions/{question.id}/versions/1",
        "/banks/review",
        f"/banks/{bank.code}/export/check",
    ):
        _inert(client.get(url), url, shown=False)


def _import_files():
    """The same hostile question in each import format."""
    cells = dict.fromkeys(table.HEADERS, "")
    cells.update({"题型": "单选题", "题干": FULL + "______", "答案": "A", "选项A": FULL, "选项B": "乙", "解析": FULL})
    wb = Workbook()
    wb.active.append(table.HEADERS)
    wb.active.append([cells[h] for h in table.HEADERS])
    buf = io.BytesIO()
    wb.save(buf)
    csv_line = ",".join('"' + cells[h].replace('"', '""') + '"' for h in table.HEADERS)
    gift_text = FULL.replace("=", "\\=").replace("{", "\\{").replace("}", "\\}").replace("~", "\\~")
    return {
        "q.xlsx": buf.getvalue(),
        "q.csv": (",".join(table.HEADERS) + "\r\n" + csv_line + "\r\n").encode(),
        "q.gift": f"::T1:: [html]{gift_text} {{=[html]{gift_text} ~乙}}\n".encode(),
        "q.aiken": f"{FULL}\nA. {FULL}\nB. 乙\nANSWER: A\n".encode(),
    }


@pytest.mark.parametrize("filename", ["q.xlsx", "q.csv", "q.gift", "q.aiken"])
def test_questions_from_every_import_format_are_inert(client, auth, db, filename):
    bank = make_bank()
    db.session.commit()
    auth.login_as("org_admin")
    data = _import_files()[filename]
    preview = client.post_form(f"/banks/{bank.code}/import", {"file": (io.BytesIO(data), filename), "status": "draft"})
    html = preview.get_data(as_text=True)
    assert "道试题待导入" in html, re.findall(r"<li>[^<]*</li>", html)
    assert live_markup(html) == []
    assert client.post_form(f"/banks/{bank.code}/import/commit", confirmation(html)).status_code == 302
    question = db.session.scalar(select(Question))
    assert question is not None
    for url in (f"/banks/{bank.code}/", f"/banks/questions/{question.id}"):
        _inert(client.get(url), url, shown=False)


# ---------------------------------------------------------------- an exam: taking, grading, results


@pytest.fixture
def sat_exam(db):
    """A released-on-grading exam whose title, instructions, question texts and candidate name are payloads; the
    candidate has started it and written a hostile essay."""
    now = now_utc()
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    bank = make_bank()
    payload = content("single", stem=FULL + "______", options=[FULL, "乙"], answer=[0], explanation=FULL)
    qb.create_question(admin, bank, "single", payload, now, status="active")
    essay = content("essay", stem=FULL, explanation=FULL,
                    answer={"reference": FULL, "scoring_points": [FULL, SHORT]})  # fmt: skip
    qb.create_question(admin, bank, "essay", essay, now, status="active")
    unit = make_unit(FULL[:100])
    cadre = make_cadre(unit=unit, name=SHORT)
    exam = Exam(code="XSS1", title=FULL, subject="政治理论", duration_minutes=60, opens_at=now - timedelta(hours=1),
                closes_at=now + timedelta(hours=2), pass_mark=1, eligibility={"unit_ids": [unit.id]},
                release_policy="immediate", review_policy="explanations", instructions=FULL * 3,
                publish_ranking=True)  # fmt: skip
    for i, qtype in enumerate(("single", "essay"), start=1):
        section = ExamSection(position=i, title=SHORT, qtype=qtype, points_per_question=2)
        section.rules.append(SectionRule(bank=bank, count=1))
        exam.sections.append(section)
    db.session.add(exam)
    db.session.flush()
    publishing.publish(admin, exam, now)
    db.session.commit()
    return exam, cadre.user, admin


def test_the_exam_pages_a_candidate_sees_are_inert(client, auth, db, sat_exam):
    exam, user, _admin = sat_exam
    auth.login(user.username)
    _inert(client.get("/"), "dashboard")
    _inert(client.get("/my/exams/XSS1/"), "start page")
    csrf = {"X-CSRFToken": client.csrf_token()}
    attempt = client.post("/api/v1/exams/XSS1/attempts", json={}, headers=csrf).get_json()
    html = _inert(client.get(f"/my/attempts/{attempt['id']}"), "exam page")
    state = re.search(r'<script type="application/json" id="exam-state">(.*?)</script>', html, re.S).group(1)
    assert "<" not in state and json.loads(state)  # the JSON data block cannot be broken out of
    items = client.get(f"/api/v1/attempts/{attempt['id']}").get_json()["items"]
    essay = next(q for q in items if q["type"] == "essay")
    single = next(q for q in items if q["type"] == "single")
    client.put(f"/api/v1/attempts/{attempt['id']}/answers/{essay['position']}", json={"value": FULL, "seq": 1},
               headers=csrf)  # fmt: skip
    client.put(f"/api/v1/attempts/{attempt['id']}/answers/{single['position']}", json={"value": 0, "seq": 1},
               headers=csrf)  # fmt: skip
    assert client.post(f"/api/v1/attempts/{attempt['id']}/submit", json={}, headers=csrf).status_code == 200
    # The grader reads the essay and comments with a payload of their own.
    auth.logout()
    auth.login_as("grader")
    _inert(client.get("/grading/"), "grading list")
    _inert(client.get("/grading/XSS1/"), "grading progress", shown=False)
    row = db.session.scalar(select(Answer).where(Answer.attempt_id == attempt["id"],
                                                 Answer.position == essay["position"]))  # fmt: skip
    _inert(client.get(f"/grading/XSS1/answers/{row.id}"), "grading answer")
    client.post_form(f"/grading/XSS1/answers/{row.id}", {"points": "1", "comment": FULL})
    db.session.expire_all()
    assert db.session.get(Answer, row.id).comment == FULL
    # The candidate reads the result, the explanations and the comment, once the exam has closed.
    exam = db.session.get(Exam, exam.id)
    exam.closes_at = now_utc() - timedelta(minutes=5)
    db.session.commit()
    auth.logout()
    auth.login(user.username)
    html = _inert(client.get(f"/my/attempts/{attempt['id']}/result"), "result page")
    assert html.count(ESCAPED) >= 2 and "alert(1)" in html.split('class="explanation"')[1]  # the review is there


def test_the_exam_pages_an_admin_sees_are_inert(client, auth, db, sat_exam):
    exam, user, admin = sat_exam
    now = now_utc()
    papers.prepare_papers(exam, now)
    attempt = attempts.start_attempt(exam, user, now)
    essay = next(i for i in attempt.paper.items if i.section.qtype == "essay")
    answers.save_answer(attempt, essay.position, FULL, 1, now)
    attempts.submit(attempt, now)
    row = db.session.scalar(select(Answer).where(Answer.attempt_id == attempt.id, Answer.position == essay.position))
    grading.grade_answer(admin, row, 1, FULL, now)
    db.session.commit()
    auth.login_as("org_admin")
    version_id = next(i.question_version_id for i in attempt.paper.items if i.section.qtype == "single")
    for url in ("/exams/", "/exams/XSS1/", f"/exams/XSS1/?who={user.username}", "/exams/XSS1/paper",
                "/exams/XSS1/settings", "/exams/XSS1/eligibility", "/exams/XSS1/eligible", "/exams/XSS1/attempts",
                f"/exams/XSS1/attempts/{attempt.id}", "/exams/XSS1/keys", f"/exams/XSS1/keys/{version_id}",
                "/reports/", "/reports/exams/XSS1/ranking", "/reports/exams/XSS1/units", "/reports/exams/XSS1/list",
                "/reports/exams/XSS1/statistics", f"/reports/people/{user.username}/history"):  # fmt: skip
        _inert(client.get(url), url, shown=url not in ("/exams/XSS1/keys", f"/exams/XSS1/keys/{version_id}"))


# ---------------------------------------------------------------- learning archives


def test_archive_free_text_is_inert(client, auth, db):
    now = now_utc()
    town = make_unit(FULL[:100])
    cadre = make_cadre(unit=town, name=SHORT)
    admin = make_user(roles=(Role.ORG_ADMIN,))
    book = reading.add_book(admin, now.year, FULL[:200], FULL[:200], FULL[:500], 20, now)
    klass = _class(admin, town, code="XC1", name=FULL, organiser=FULL, place=FULL)
    records.add_entry(admin, cadre, "collective", {"title": FULL, "organiser": FULL, "starts_on": now.date(),
                                                   "hours": "2"}, now)  # fmt: skip
    assessment.save_plan(admin, cadre, now.year, FULL * 2, {}, "", now)
    assessment.appraise(admin, cadre, now.year, FULL * 2, "competent", "", now)
    db.session.commit()
    auth.login(cadre.employee_number)
    response = client.post_form(f"/archive/cadres/{cadre.employee_number}/entries/new?kind=self_study",
                                {"title": FULL, "starts_on": now.date().isoformat(), "hours": "3",
                                 "evidence": FULL * 5})  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    response = client.post_form(f"/archive/reading/books/{book.id}/note", {"body": FULL * 3})
    assert response.status_code == 302
    username = cadre.employee_number
    entry_ids = [e.id for e in records.entries_of(cadre.user_id)]
    own = [f"/archive/cadres/{username}", "/archive/reading", f"/archive/reading/books/{book.id}/note",
           f"/archive/cadres/{username}/plans/{now.year}", f"/archive/cadres/{username}/assessments/{now.year}",
           *(f"/archive/entries/{i}" for i in entry_ids)]  # fmt: skip
    for url in own:
        _inert(client.get(url), url)
    auth.logout()
    auth.login(admin.username)
    _inert(client.get("/archive/reading/review"), "the review queue")
    note = reading.latest_note(book.id, cadre.user_id)
    assert client.post_form(f"/archive/reading/notes/{note.id}/review", {"decision": "fail", "comment": FULL}
                            ).status_code == 302  # fmt: skip
    for url in (
        f"/archive/cadres/{username}",
        "/archive/classes",
        f"/archive/classes/{klass.code}/",
        f"/archive/classes/{klass.code}/edit",
        "/archive/overview/cadres",
        *(f"/archive/entries/{i}" for i in entry_ids),
        *(f"/archive/entries/{i}/correct" for i in entry_ids),
    ):
        _inert(client.get(url), url, shown=url != "/archive/overview/cadres")
    auth.logout()
    auth.login(username)
    _inert(client.get(f"/archive/reading/books/{book.id}/note"), "note with the reviewer's comment")
