"""Import and export formats: round trips, every malformed input named in the issue, encodings, properties."""

import io
import re
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from core.errors import DomainError
from core.models import now_utc
from core.policy import Role
from question_bank import services, transfer
from question_bank.formats import commit, gift, table
from question_bank.models import Question, QuestionUsage
from question_bank.richtext import from_text, to_text
from question_bank.types import Content
from tests.factories import content, make_bank, make_question, make_user, workbook_bytes

TYPES = ("single", "multiple", "truefalse", "fill", "essay")


def sample_bank(db):
    bank = make_bank(code="SRC")
    chapter = services.ensure_category_path(bank, "宪法/国家制度")
    for qtype in TYPES:
        q = make_question(bank=bank, qtype=qtype, status="active", explanation=from_text(f"{qtype}的解析"),
                          reference="《宪法》第二条")  # fmt: skip
        q.category, q.difficulty = chapter, 4
        q.tags = services.get_tags(["宪法", qtype])
    # separators inside answers, a control character pasted from Word, text that looks like a tag
    make_question(bank=bank, qtype="fill", stem="甲______乙______", answer=[["a;b", "c|d"], ["e\\f"]])
    make_question(bank=bank, stem="含有\x0b控制字符和 <b 的题干______", options=["<i>", "'=1"])
    # a fill question with one blank, and a rich-text single choice, for the formats that need them
    q = make_question(bank=bank, qtype="fill", stem="国家宪法日是每年的______。", answer=[["12月4日", "十二月四日"]],
                      settings={"ignore_punct": False, "ignore_spaces": False})  # fmt: skip
    rich = content("single")
    rich.stem = "<p>下列<strong>正确</strong>的是<sub>2</sub></p>"
    services.create_question(make_user(roles=(Role.SYSTEM_ADMIN,)), bank, "single", rich, now_utc())
    db.session.flush()
    return bank


def snapshot(q: Question, fields=("stem", "options", "answer", "points", "explanation", "reference", "settings")):
    v = q.current_version
    data = {f: getattr(v, f) for f in fields}
    data["points"] = float(data.get("points", 0)) if "points" in data else None
    data["type"] = q.type
    return data


def meta(q: Question):
    return (q.difficulty, services.category_path_names(q.category), sorted(t.name for t in q.tags))


def round_trip(db, fmt):
    src = sample_bank(db)
    questions = list(db.session.scalars(select(Question).where(Question.bank_id == src.id).order_by(Question.id)))
    data, skipped, _written = transfer.export_questions(questions, fmt)
    dst = make_bank(code=f"DST{fmt}")
    result = transfer.read_file(fmt, data, dst)
    assert result.ok, [str(i) for i in result.issues]
    commit(make_user(roles=(Role.SYSTEM_ADMIN,)), dst, result, now_utc())
    back = list(db.session.scalars(select(Question).where(Question.bank_id == dst.id).order_by(Question.id)))
    return questions, back, skipped


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "gift"])
def test_round_trip_keeps_everything(app, db, fmt):
    questions, back, skipped = round_trip(db, fmt)
    expected = [q for q in questions if not (fmt == "gift" and q.type == "fill" and len(q.current_version.answer) > 1)]
    assert len(skipped) == len(questions) - len(expected)
    assert [snapshot(q) for q in back] == [snapshot(q) for q in expected]
    assert [meta(q) for q in back] == [meta(q) for q in expected]


def test_round_trip_aiken_keeps_what_aiken_can_hold(app, db):
    questions, back, skipped = round_trip(db, "aiken")
    singles = [q for q in questions if q.type == "single"]
    assert len(back) == len(singles)
    assert skipped[0].startswith("Aiken") or "Aiken" in skipped[0]
    assert len(skipped) == 1 + len(questions) - len(singles)
    assert [to_text(q.current_version.stem) for q in back] == [to_text(q.current_version.stem) for q in singles]
    assert [q.current_version.answer for q in back] == [q.current_version.answer for q in singles]


# ---------------------------------------------------------------- malformed files


def xlsx(rows, headers=table.HEADERS) -> bytes:
    return workbook_bytes(headers, rows)


def row(type_="单选题", stem="题干______", options=("甲", "乙", "丙"), answer="A", **extra):
    cells = dict(zip(table.HEADERS, [""] * len(table.HEADERS), strict=True))
    cells.update({"题型": type_, "题干": stem, "答案": answer})
    for i, o in enumerate(options):
        cells[f"选项{'ABCDEFGH'[i]}"] = o
    cells.update(extra)
    return [cells[h] for h in table.HEADERS]


def texts(result):
    return [str(i) for i in result.issues]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([row(type_="连线题")], "第2行 A列（题型）：无法识别的题型"),
        ([row(answer="E")], "第2行 K列（答案）"),
        ([row(answer="AB")], "第2行 K列（答案）"),
        ([row(stem="")], "第2行 B列（题干）"),
        ([row(options=("甲", "甲", "乙"))], "第2行 C列（选项）"),
        ([row(type_="填空题", stem="两个空______和______", options=(), answer="一")], "第2行 K列（答案）"),
        ([row(type_="判断题", options=(), answer="也许")], "第2行 K列（答案）"),
        ([row(options=("甲", "", "丙"))], "第2行 D列（选项B）"),
        ([row(**{"难度": "9"})], "第2行 M列（难度）"),
        ([row(**{"分值": "很多"})], "第2行 L列（分值）"),
        ([row(type_="判断题", options=("甲", "乙"), answer="正确")], "第2行 C列（选项）"),
    ],
    ids=["unknown-type", "letter-out-of-range", "two-answers-single", "empty-stem", "duplicate-option",
         "blank-count", "bad-truefalse", "option-gap", "difficulty", "points", "options-for-truefalse"],
)  # fmt: skip
def test_bad_rows_are_named_and_nothing_is_written(app, db, rows, expected):
    bank = make_bank()
    result = transfer.read_file("xlsx", xlsx([row(), *rows]), bank)
    assert not result.ok
    assert any(t.startswith(expected.replace("第2行", "第3行")) for t in texts(result)), texts(result)
    with pytest.raises(Exception):  # noqa: B017  (DomainError: the commit refuses a file with issues)
        commit(make_user(roles=(Role.SYSTEM_ADMIN,)), bank, result, now_utc())
    assert db.session.scalar(select(func.count(Question.id)).where(Question.bank_id == bank.id)) == 0


def test_wrong_and_missing_headers(app, db):
    headers = ["题型", "题目内容", "选项A", "选项B"]
    result = transfer.read_file("xlsx", xlsx([["单选题", "x", "a", "b"]], headers), None)
    assert any("第1行 B列（题目内容）" in t for t in texts(result))
    assert any("题干" in t and "缺少" in t for t in texts(result)) and any("答案" in t for t in texts(result))


def test_truncated_and_non_xlsx_files(app, db):
    good = xlsx([row()])
    for data in (good[: len(good) // 2], b"PK\x03\x04 not really", "题型,题干\n".encode()):
        result = transfer.read_file("xlsx", data, None)
        assert not result.ok and len(result.issues) == 1 and ".xlsx" in texts(result)[0]


def test_damaged_sheet_inside_a_valid_zip(app, db):
    src = zipfile.ZipFile(io.BytesIO(xlsx([row()])))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for item in src.infolist():
            data = src.read(item)
            out.writestr(item, data[: len(data) // 2] if item.filename.endswith("sheet1.xml") else data)
    result = transfer.read_file("xlsx", buf.getvalue(), None)
    assert not result.ok and result.issues


def test_formulas_and_macros_are_refused(app, db):
    result = transfer.read_file("xlsx", xlsx([row(stem='=HYPERLINK("http://x","y")')]), None)
    assert any("公式" in t for t in texts(result)), texts(result)
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx([row()]))) as src, zipfile.ZipFile(buf, "w") as out:
        for item in src.infolist():
            out.writestr(item, src.read(item))
        out.writestr("xl/vbaProject.bin", b"macro")
    assert any("宏" in t for t in texts(transfer.read_file("xlsx", buf.getvalue(), None)))


def csv_bytes(rows, encoding="utf-8", bom=False) -> bytes:
    import csv

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.HEADERS)
    writer.writerows(rows)
    data = out.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


@pytest.mark.parametrize(("encoding", "bom"), [("utf-8", False), ("utf-8", True), ("gbk", False), ("gb18030", False)])
def test_csv_encodings(app, db, encoding, bom):
    result = transfer.read_file("csv", csv_bytes([row(stem="中华人民共和国的一切权力属于______")], encoding, bom), None)
    assert result.ok, texts(result)
    assert "一切权力属于" in result.questions[0].content.stem


def test_gift_reports_what_it_cannot_import(app, db):
    text = "::M:: 配对 {=甲 -> 一 =乙 -> 二}\n\n::N:: 数字 {#3:1}\n\n// a comment\n::OK:: 单选 {=对 ~错 #错的反馈}\n"
    result = transfer.read_file("gift", text.encode(), None)
    assert not result.ok
    assert texts(result)[0].startswith("第1行") and "匹配题" in texts(result)[0], texts(result)
    assert texts(result)[1].startswith("第3行") and "数值题" in texts(result)[1], texts(result)
    assert [q.row for q in result.questions] == [6]  # the good question was read and checked too
    assert any(str(w).startswith("第6行") for w in result.warnings)  # its per-answer feedback is not kept


def test_gift_moodle_style_questions(app, db):
    text = (
        "$CATEGORY: $course$/top/宪法\n\n"
        "::Q1:: 我国的根本政治制度是 {=人民代表大会制度 ~民族区域自治制度 ~基层群众自治制度}\n\n"
        "::Q2:: 公务员考核分为四个等次。{TRUE####考核结果分为优秀、称职、基本称职、不称职}\n\n"
        "::Q3:: 国家宪法日是每年的 {=12月4日 =十二月四日} 。\n\n"
        "::Q4:: 下列属于处分种类的有 {~%50%警告 ~%50%严重警告 ~%-100%罚款}\n\n"
        "::Q5:: 简述请示与报告的区别。{}\n"
    )
    result = transfer.read_file("gift", text.encode(), None)
    assert result.ok, texts(result)
    types = [q.type for q in result.questions]
    assert types == ["single", "truefalse", "fill", "multiple", "essay"]
    assert result.questions[0].category == "宪法"
    assert result.questions[1].content.explanation.startswith("考核结果")
    assert result.questions[2].content.answer == [["12月4日", "十二月四日"]]
    assert "______" in result.questions[2].content.stem
    assert result.questions[3].content.answer == [0, 1]


def test_aiken_errors_name_the_line(app, db):
    text = "题干一\nA. 甲\nB. 乙\nANSWER: C\n\n题干二\nA. 甲\nC. 乙\nANSWER: A\n"
    result = transfer.read_file("aiken", text.encode(), None)
    assert any(t.startswith("第1行") for t in texts(result)), texts(result)
    assert any(t.startswith("第8行") for t in texts(result)), texts(result)


def test_import_warns_of_duplicates_but_imports(app, db):
    bank = make_bank()
    make_question(bank=bank, stem="我国的根本政治制度是______。")
    db.session.flush()
    result = transfer.read_file("xlsx", xlsx([row(stem="我国的根本政治制度是______。"), row(stem="另一道题______"),
                                              row(stem="另一道题______")]), bank)  # fmt: skip
    assert result.ok
    warnings = [str(w) for w in result.warnings]
    assert any(w.startswith("第2行") and "#" in w for w in warnings), warnings
    assert any(w.startswith("第4行") and "3" in w for w in warnings), warnings


def test_export_is_safe_from_formula_injection(app, db):
    bank = make_bank()
    make_question(bank=bank, stem="=1+1 是公式吗______", options=["=A1", "+1", "-1"])
    db.session.flush()
    data, *_ = transfer.export_questions(list(db.session.scalars(select(Question))), "csv")
    text = data.decode("utf-8-sig")
    assert "'=1+1" in text and "'=A1" in text and "'+1" in text
    data, *_ = transfer.export_questions(list(db.session.scalars(select(Question))), "xlsx")
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(data)).active
    assert ws["B2"].data_type == "s" and ws["C2"].data_type == "s"


# ---------------------------------------------------------------- properties

safe_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=40
).filter(lambda s: s.strip() and "______" not in s and not s.strip().startswith("//"))


class Fake:
    """Just enough of a question and its version for the writers."""

    def __init__(self, qid, qtype, version, usage="any"):
        self.id, self.type, self.difficulty, self.tags, self.usage = qid, qtype, 3, [], usage
        self.current_version = version


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(stem=safe_text, options=st.lists(safe_text, min_size=2, max_size=8, unique_by=lambda s: s.strip()),
       data=st.data())  # fmt: skip
def test_gift_writer_and_parser_agree(app, stem, options, data):
    answer = [data.draw(st.integers(0, len(options) - 1))]
    version = Content(stem=from_text(stem), options=[from_text(o) for o in options], answer=answer, points=1.0)
    version.settings = {}
    usage = data.draw(st.sampled_from(list(QuestionUsage)))
    text, skipped, _written = gift.write([(Fake(1, "single", version, usage), version, "")])
    assert not skipped
    result = gift.read(text.encode())
    assert result.ok, [str(i) for i in result.issues]
    q = result.questions[0]
    assert to_text(q.content.stem) == to_text(version.stem).strip()
    assert [to_text(o) for o in q.content.options] == [to_text(o).strip() for o in version.options]
    assert q.content.answer == answer
    assert q.usage == usage


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    stem=safe_text,
    options=st.lists(safe_text, min_size=2, max_size=8, unique_by=lambda s: s.strip()),
    usage=st.sampled_from(list(QuestionUsage)),
)
def test_csv_writer_and_parser_agree(app, stem, options, usage):
    version = Content(stem=from_text(stem), options=[from_text(o) for o in options], answer=[0, 1], points=2.0)
    version.settings, version.number = {}, 1
    fake = Fake(1, "multiple", version, usage)
    data = table.write_csv([table.question_row(fake, version, "")])
    result = table.read_csv(data)
    assert result.ok, [str(i) for i in result.issues]
    q = result.questions[0]
    assert to_text(q.content.stem) == to_text(version.stem).strip()
    assert [to_text(o) for o in q.content.options] == [to_text(o).strip() for o in version.options]
    assert q.usage == usage


@pytest.mark.parametrize(
    ("cell", "usage"),
    [
        ("", "any"),
        ("考试和练习", "any"),
        ("仅练习", "practice"),
        (" 仅考试 ", "exam"),
        ("Practice only", "practice"),
        ("exam", "exam"),
        ("练习", None),
    ],
)
def test_the_usage_column(app, db, cell, usage):
    result = transfer.read_file("xlsx", xlsx([row(**{"用途": cell})]), None)
    if usage is None:
        assert [i.header for i in result.issues] == ["用途"]
    else:
        assert result.ok, texts(result)
        assert result.questions[0].usage == usage


def test_a_sheet_declaring_a_huge_size_is_read_quickly(app, db):
    data = xlsx([row()])
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for item in src.infolist():
            content_ = src.read(item)
            if item.filename.endswith("sheet1.xml"):
                content_ = re.sub(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:XFD60000"', content_)
            out.writestr(item, content_)
    result = transfer.read_file("xlsx", buf.getvalue(), None)
    assert result.ok, texts(result)  # would unpack a billion empty cells if the declared size were trusted


def test_pathological_cells_are_handled(app, db):
    from question_bank.richtext import from_cell

    assert from_cell("<" + " " * 200_000 + "x").startswith("&lt;")  # no quadratic backtracking
    result = transfer.read_file("xlsx", xlsx([row(**{"难度": "1e400", "分值": "1e400"})]), None)
    assert {i.header for i in result.issues} == {"难度", "分值"}


def test_gift_comment_with_wrong_types_is_an_issue(app, db):
    text = '// qualexam: {"tags": 5, "scoring_points": null, "settings": {"ignore_case": "false"}}\n::Q:: 题 {}\n'
    result = transfer.read_file("gift", text.encode(), None)
    assert not result.ok and all(t.startswith("第1行") for t in texts(result)), texts(result)


def test_category_problems_are_found_before_commit(app, db):
    result = transfer.read_file(
        "xlsx", xlsx([row(**{"分类": "甲/" + "长" * 101}), row(**{"分类": "/".join("abcdefghij")})]), None
    )
    assert [i.header for i in result.issues] == ["分类", "分类"], texts(result)


def test_csv_read_as_gb18030_is_said(app, db):
    data = csv_bytes([row(stem="中文题干______")], "gbk")
    result = transfer.read_file("csv", data, None)
    assert result.ok and any("GB18030" in str(w) for w in result.warnings)


def test_only_district_admins_import_straight_to_active(app, db):
    from core.errors import DomainError
    from tests.factories import make_cadre, make_unit

    unit = make_unit()
    author = make_cadre(unit=unit, roles=(Role.AUTHOR, Role.CADRE)).user
    bank = make_bank(owner_unit=unit)
    result = transfer.read_file("xlsx", xlsx([row()]), bank)
    with pytest.raises(DomainError):
        commit(author, bank, result, now_utc(), status="active")
    assert commit(author, bank, result, now_utc(), status="in_review") == 1


# ---------------------------------------------------------------- a record that runs past its end


def _nothing_imported(db, result):
    """The import is all or nothing: a file with a fault commits no question, not even its good ones."""
    bank = make_bank(code="ALLORNONE")
    with pytest.raises(DomainError):
        commit(make_user(roles=(Role.SYSTEM_ADMIN,)), bank, result, now_utc())
    assert db.session.scalar(select(func.count(Question.id)).where(Question.bank_id == bank.id)) == 0


def test_gift_answer_block_left_open_is_an_error_on_its_line_not_a_swallowed_question(app, db):
    """A blank line ends a GIFT question (as Moodle reads it): question 2's “{” never closed does not run on into
    question 3 as a bogus option; it is reported on the line that opened it, and nothing is imported."""
    text = (
        "::Q1:: 我国的根本政治制度是 {=人民代表大会制度 ~民族区域自治制度}\n"
        "\n"
        "::Q2:: 党的最高领导机关是 {=全国代表大会 ~中央委员会\n"
        "~中央纪律检查委员会\n"
        "\n"
        "::Q3:: 国家宪法日是每年的 {=12月4日 =十二月四日}\n"
    )
    result = transfer.read_file("gift", text.encode(), None)
    assert texts(result) == ["第3行，答案：本行开始的答案块在本题结束（遇到空行或文件末尾）前未用“}”闭合。"]
    assert [q.row for q in result.questions] == [1, 6]  # Q3 read as itself, not swallowed into Q2
    assert all("国家宪法日" not in o for q in result.questions for o in q.content.options)
    _nothing_imported(db, result)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "::Q1:: 题一 {=对 ~错}\n\n::Q2:: 题二 {=甲 ~乙\n",
            "第3行，答案：本行开始的答案块在本题结束（遇到空行或文件末尾）前未用“}”闭合。",
        ),
        ("::Q1:: 题一 {=对 ~错}}\n\n::Q2:: 题二 {=甲 ~乙}\n", "第1行，答案：此“}”没有对应的答案块。"),
    ],
)
def test_gift_braces_that_do_not_pair_within_a_question_name_their_line(app, db, text, expected):
    """At the end of the file too; and a “}” too many (which used to keep the question open past its blank line)."""
    result = transfer.read_file("gift", text.encode(), None)
    assert texts(result) == [expected]
    _nothing_imported(db, result)


def test_gift_answer_block_over_several_lines_without_a_blank_one_still_imports(app, db):
    text = "::Q1:: 下列属于处分种类的有 {\n~%50%警告\n~%50%严重警告\n~%-100%罚款\n}\n\n::Q2:: 题二 {=甲 ~乙}\n"
    result = transfer.read_file("gift", text.encode(), None)
    assert result.ok, texts(result)
    assert [len(q.content.options) for q in result.questions] == [3, 2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # no blank line after question 1: question 2's stem is not an option of question 1
        ("题干一\nA. 甲\nB. 乙\nANSWER: A\n题干二\nA. 丙\nB. 丁\nANSWER: B\n",
         "第5行，选项：本题已在第4行的ANSWER行结束，下一题之前须空一行。"),
        # a second ANSWER line used to replace the first without a word
        ("题干一\nA. 甲\nB. 乙\nANSWER: A\nANSWER: B\n\n题干二\nA. 丙\nB. 丁\nANSWER: B\n",
         "第5行，选项：本题已在第4行的ANSWER行结束，下一题之前须空一行。"),
    ],
)  # fmt: skip
def test_aiken_question_that_runs_into_the_next_one_is_an_error_on_its_line(app, db, text, expected):
    result = transfer.read_file("aiken", text.encode(), None)
    assert texts(result) == [expected]
    _nothing_imported(db, result)


def test_csv_quote_left_open_is_an_error_where_it_opened_not_a_swallowed_row(app, db):
    """A quote left open runs on over the following rows, to the end of the file or to the next quote: the csv
    module would read it all as one cell. It is an error on the line where the quote opened; nothing is imported."""
    good = csv_bytes([row(stem="题一______"), row(stem="题二______"), row(stem="题三______")]).decode()
    lines = good.splitlines(keepends=True)
    broken = lines[0] + lines[1] + lines[2].replace("题二", '"题二', 1) + lines[3]
    result = transfer.read_file("csv", broken.encode(), None)
    assert texts(result) == [
        "第3行：本行开始的引号未在单元格结束处闭合，该单元格一直延续到第4行，吞并了其间各行。"
        '请补上闭合的引号（单元格内的引号须连写两个：""）。'
    ]
    _nothing_imported(db, result)
    # closed by the next row's own quote, a line further on
    quoted = csv_bytes([row(stem="题四，含“引号”和,逗号______")]).decode().splitlines(keepends=True)[1]
    result = transfer.read_file("csv", (broken + quoted).encode(), None)
    assert texts(result) == [
        "第3行：本行开始的引号未在单元格结束处闭合，该单元格一直延续到第5行，吞并了其间各行。"
        '请补上闭合的引号（单元格内的引号须连写两个：""）。'
    ]


def test_csv_cells_over_several_lines_still_import(app, db):
    data = csv_bytes([row(stem='第一行\n第二行，含"引号"______'), row(stem="题二______")])
    result = transfer.read_file("csv", data, None)
    assert result.ok, texts(result)
    assert [q.row for q in result.questions] == [2, 3]


def test_an_import_keeps_the_usage_and_an_export_writes_it(app, db):
    admin = make_user(roles=(Role.SYSTEM_ADMIN,))
    bank = make_bank(actor=admin)
    result = transfer.read_file("xlsx", xlsx([row(stem="甲______", **{"用途": "仅练习"}), row(stem="乙______")]), bank)
    commit(admin, bank, result, now_utc())
    questions = db.session.scalars(select(Question).where(Question.bank_id == bank.id).order_by(Question.id)).all()
    assert [q.usage for q in questions] == ["practice", "any"]
    data, _skipped, _written = transfer.export_questions(questions, "csv")
    again = table.read_csv(data)
    assert [q.usage for q in again.questions] == ["practice", "any"]
