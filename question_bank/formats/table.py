"""The table formats, .xlsx and .csv: one question per row under Chinese headers (题型, 题干, 选项A…选项H, 答案, …)."""

import csv
import io
import re

from flask_babel import gettext as _
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from core.imports import ImportIssue, nul_issue
from core.spreadsheets import (
    MAX_COLUMNS,
    StreamedWorkbook,
    append_row,
    csv_safe,
    csv_unsafe,
    new_workbook,
    read_uploaded_sheet,
    to_bytes,
)
from question_bank.formats import FIELD_LABELS, MAX_QUESTIONS, USAGE_NAMES, ImportResult, RawQuestion, validate
from question_bank.richtext import from_cell, to_cell
from question_bank.services import split_tags
from question_bank.types import LETTERS, QUESTION_TYPES, TYPE_NAMES, type_from_name

OPTION_HEADERS = [f"选项{letter}" for letter in LETTERS]
HEADERS = [
    "题型",
    "题干",
    *OPTION_HEADERS,
    "答案",
    "分值",
    "难度",
    "分类",
    "知识点",
    "解析",
    "出处",
    "评分要点",
    "填空匹配",
    "用途",
]
#: The 填空匹配 cell names the comparisons a fill-in question makes strictly (by default all are relaxed).
STRICT_WORDS = {
    "区分大小写": "ignore_case",
    "区分全半角": "ignore_width",
    "区分标点": "ignore_punct",
    "区分空格": "ignore_spaces",
}
#: Written by exports after the columns above, so an author can name a question in a fixed-paper exam file
#: (docs/exam-file.md); read back as nothing: an import makes new questions.
EXPORT_ONLY_HEADERS = ["题目编号", "版本"]
_FIELD_BY_HEADER = {v: k for k, v in FIELD_LABELS.items() if k != "options"}
_USAGE_WORDS = {usage: word for word, usage in USAGE_NAMES.items()}
_WIDTHS = [8, 50, *[18] * len(LETTERS), 12, 6, 6, 24, 18, 36, 24, 30, 16, 12]
_ALIASES = {"题目": "题干", "正确答案": "答案", "分数": "分值", "章节": "分类", "标签": "知识点", "答案解析": "解析"}


# ---------------------------------------------------------------- reading


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _map_headers(header_cells) -> tuple[dict[str, int], list[ImportIssue]]:
    positions: dict[str, int] = {}
    issues = []
    for idx, raw in enumerate(header_cells):
        text = _text(raw).replace(" ", "")
        if not text:
            continue
        text = _ALIASES.get(text, text)
        if text in EXPORT_ONLY_HEADERS:
            continue
        letter = get_column_letter(idx + 1)
        if text.upper().startswith("选项") and text[2:].upper() in LETTERS and len(text) == 3:
            key = "option" + text[2:].upper()
        elif text in _FIELD_BY_HEADER:
            key = _FIELD_BY_HEADER[text]
        else:
            issues.append(ImportIssue(1, letter, _text(raw), _("Unknown column header.")))
            continue
        if key in positions:
            issues.append(ImportIssue(1, letter, _text(raw), _("This column appears twice.")))
        positions[key] = idx
    for required in ("type", "stem", "answer"):
        if required not in positions:
            issues.append(
                ImportIssue(1, None, None, _("The required column “%(h)s” is missing.", h=FIELD_LABELS[required]))
            )
    return positions, issues


def _rows_to_raws(rows, result: ImportResult) -> list[RawQuestion]:
    """rows: iterable of (row number, list of cell values); the first one is the header."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        result.issues.append(ImportIssue(None, None, None, _("The file is empty.")))
        return []
    positions, issues = _map_headers(first[1])
    if issues:
        result.issues.extend(issues)
        return []
    letters = {k: get_column_letter(i + 1) for k, i in positions.items()}
    raws = []
    for row_no, values in rows:
        cells = {k: (values[i] if i < len(values) else None) for k, i in positions.items()}
        if all(_text(v) == "" for v in cells.values()):
            continue
        if len(raws) >= MAX_QUESTIONS:
            result.issues.append(ImportIssue(row_no, None, None, _("Too many rows (at most %(n)d).", n=MAX_QUESTIONS)))
            return []
        raw = RawQuestion(row=row_no, columns={k: v for k, v in letters.items() if not k.startswith("option")})
        raw.columns["options"] = letters.get("optionA", "")
        raw.type_name = _text(cells.get("type"))
        raw.type = type_from_name(raw.type_name)
        raw.stem = from_cell(_text(cells.get("stem")))
        options = [_text(cells.get("option" + letter)) for letter in LETTERS]
        last = max((i for i, o in enumerate(options) if o), default=-1)
        for i in range(last + 1):
            if not options[i]:
                result.issues.append(
                    ImportIssue(row_no, letters.get("option" + LETTERS[i]), OPTION_HEADERS[i],
                                _("This option is empty but a later option is filled."))
                )  # fmt: skip
        raw.options = [from_cell(o) for o in options[: last + 1]]
        raw.answer_text = _text(cells.get("answer"))
        if raw.type == "essay":
            raw.answer = {"reference": from_cell(raw.answer_text), "scoring_points": []}
            raw.scoring_points = [p.strip() for p in _text(cells.get("scoring_points")).splitlines() if p.strip()]
        raw.points = _text(cells.get("points"))
        raw.difficulty = _text(cells.get("difficulty"))
        raw.category = _text(cells.get("category"))
        raw.tags = split_tags(_text(cells.get("tags")))
        raw.explanation = from_cell(_text(cells.get("explanation")))
        raw.reference = _text(cells.get("reference"))
        raw.usage = _text(cells.get("usage"))
        for word in split_tags(_text(cells.get("settings"))):
            if word not in STRICT_WORDS:
                result.issues.append(
                    ImportIssue(row_no, letters.get("settings"), FIELD_LABELS["settings"],
                                _("“%(v)s” is not one of: %(allowed)s.", v=word, allowed="、".join(STRICT_WORDS)))
                )  # fmt: skip
            else:
                raw.settings[STRICT_WORDS[word]] = False
        raws.append(raw)
    return raws


def read_xlsx(data: bytes) -> ImportResult:
    """Parse and check an .xlsx. Formulas are refused (never evaluated), macros and external links never run."""
    result = ImportResult()
    rows, result.issues = read_uploaded_sheet(data, MAX_QUESTIONS)
    if result.issues:
        return result
    raws = _rows_to_raws(rows, result)
    validate(raws, result)  # every question is checked, so one upload shows every problem
    _finish(result)
    return result


def decode_csv(data: bytes) -> tuple[str, str | None]:
    """UTF-8 (with or without BOM), else GB18030 (which covers GBK and GB2312: what Chinese Excel saves).

    Returns the text and, when GB18030 was used, a warning naming the first line that was not UTF-8: a UTF-8 file
    with one bad byte would otherwise be read as GB18030 without a word and turn into nonsense.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), None
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        text = data.decode("gb18030")
        line = data[: exc.start].count(b"\n") + 1
        return text, _(
            "The file is not UTF-8 (from line %(n)d on); it was read as GB18030/GBK. Check the preview.", n=line
        )


_QUOTED = re.compile(r'"[^"]*+(?:""[^"]*+)*+"')
_UNQUOTED = re.compile(r"[^,\r\n]*+")


def _csv_rows(text: str) -> tuple[list, ImportIssue | None]:
    """(record number, cells) of a CSV text, or the problem that stops it. Read strictly: a quote left open runs
    on over the following rows (to the next quote or the end of the file) and would swallow them into one cell,
    so it is an error that names the line where that quote opened."""
    reader = csv.reader(io.StringIO(text), strict=True)
    rows, record_start = [], 1
    try:
        for i, row in enumerate(reader, start=1):
            rows.append((i, [csv_unsafe(v) for v in row[:MAX_COLUMNS]]))
            record_start = reader.line_num + 1
    except csv.Error as exc:
        opened = _open_quote_line(text, record_start)
        if opened is None:
            return [], ImportIssue(None, None, None, _("The CSV file is malformed: %(e)s", e=str(exc)))
        message = _(
            "The quote opened on this line is not closed where its cell ends: the cell runs on to line %(end)d and "
            'takes in the rows between. Close the quote (a quote inside a cell is written twice: "").',
            end=reader.line_num,
        )
        return [], ImportIssue(opened, None, None, message, is_line=True)
    return rows, None


def _open_quote_line(text: str, line: int) -> int | None:
    """The line where the faulty quoted cell of the record starting on `line` opened: the one not closed before
    the end of the file, or closed by a quote that is followed by more than the end of the cell."""
    pos = 0
    for _i in range(line - 1):
        pos = text.index("\n", pos) + 1
    while pos < len(text):
        if text[pos] == '"':
            match = _QUOTED.match(text, pos)
            if match is None or (match.end() < len(text) and text[match.end()] not in ",\r\n"):
                return line
            line += match.group().count("\n")
            pos = match.end()
        else:
            pos = _UNQUOTED.match(text, pos).end()
        if pos < len(text) and text[pos] == "\r":
            pos += 1
        if pos < len(text) and text[pos] == "\n":
            line += 1
        pos += 1
    return None


def read_csv(data: bytes) -> ImportResult:
    result = ImportResult()
    try:
        text, warning = decode_csv(data)
    except UnicodeDecodeError:
        result.issues.append(ImportIssue(None, None, None, _("The file is neither UTF-8 nor GB18030/GBK text.")))
        return result
    if issue := nul_issue(text):
        result.issues.append(issue)
        return result
    if warning:
        result.warnings.append(ImportIssue(None, None, None, warning))
    rows, issue = _csv_rows(text)
    if issue is not None:
        result.issues.append(issue)
        return result
    raws = _rows_to_raws(rows, result)
    validate(raws, result)  # every question is checked, so one upload shows every problem
    _finish(result)
    return result


def _finish(result: ImportResult) -> None:
    result.issues.sort(key=ImportIssue.sort_key)
    if not result.questions and not result.issues:
        result.issues.append(ImportIssue(None, None, None, _("The file has no questions.")))


# ---------------------------------------------------------------- writing


def question_row(q, version, category_path: str) -> list:
    kind = QUESTION_TYPES[q.type]
    options = [to_cell(o) for o in version.options or []]
    if q.type == "essay":
        answer = to_cell(version.answer.get("reference", ""))
        scoring = "\n".join(version.answer.get("scoring_points", []))
    else:
        answer, scoring = kind.key_to_text(version.answer), ""
    return [
        TYPE_NAMES[q.type][0],
        to_cell(version.stem),
        *(options + [""] * (len(LETTERS) - len(options))),
        answer,
        f"{float(version.points):g}",
        q.difficulty,
        category_path,
        "、".join(t.name for t in q.tags),
        to_cell(version.explanation or ""),
        version.reference or "",
        scoring,
        "、".join(word for word, name in STRICT_WORDS.items() if (version.settings or {}).get(name) is False),
        _USAGE_WORDS[q.usage],
        q.id,
        version.number,
    ]


def write_xlsx(rows) -> bytes:
    """A bank's questions, a row each, written as they come (openpyxl's write-only mode)."""
    book = StreamedWorkbook()
    ws = book.sheet("试题", HEADERS + EXPORT_ONLY_HEADERS, [*_WIDTHS, 10, 6])
    for row in rows:
        ws.append(row)
    return book.to_bytes()


def write_csv(rows: list[list]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(HEADERS + EXPORT_ONLY_HEADERS)
    for row in rows:
        writer.writerow([csv_safe(v) if isinstance(v, str) else v for v in row])
    # With a BOM, Excel on a Chinese Windows opens UTF-8 correctly.
    return b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8")


def template() -> bytes:
    """The import template: headers, one example of every type, drop-downs for type, difficulty and use."""
    examples = [
        ["单选题", "我国的根本政治制度是______。", "人民代表大会制度", "民族区域自治制度", "基层群众自治制度", "",
         "", "", "", "", "A", 1, 2, "宪法/国家制度", "根本政治制度", "宪法规定……", "《宪法》第二条", "", "", ""],
        ["多选题", "下列属于党的纪律处分种类的有______。", "警告", "严重警告", "罚款", "开除党籍",
         "", "", "", "", "ABD", 2, 3, "党章党规/纪律处分", "纪律处分", "", "", "", "", "仅考试"],
        ["判断题", "公务员年度考核结果分为优秀、称职、基本称职和不称职四个等次。", "", "", "", "", "", "", "", "",
         "正确", 1, 2, "公务员法/考核", "年度考核", "", "", "", "", "仅练习"],
        ["填空题", "党的最高领导机关是党的______和它所产生的______。", "", "", "", "", "", "", "", "",
         "全国代表大会;中央委员会", 2, 3, "党章党规/组织制度", "组织制度",
         "每个空之间用分号；同一空的多个答案用|", "", "", "", ""],
        ["简答题", "简述请示与报告的主要区别。", "", "", "", "", "", "", "", "",
         "参考答案：行文目的、时机、内容和处理方式不同……", 10, 4, "公文处理/文种", "公文文种", "", "",
         "行文目的不同\n行文时机不同\n内容要求不同", "", ""],
    ]  # fmt: skip
    wb, ws = new_workbook("试题", HEADERS, _WIDTHS)
    for row in examples:
        append_row(ws, row)
    dv = DataValidation(type="list", formula1='"' + ",".join(n[0] for n in TYPE_NAMES.values()) + '"')
    dv.add(f"A2:A{MAX_QUESTIONS + 1}")
    ws.add_data_validation(dv)
    dv = DataValidation(type="whole", operator="between", formula1="1", formula2="5", allow_blank=True)
    dv.add(f"M2:M{MAX_QUESTIONS + 1}")
    ws.add_data_validation(dv)
    dv = DataValidation(type="list", formula1='"' + ",".join(USAGE_NAMES) + '"', allow_blank=True)
    column = get_column_letter(HEADERS.index("用途") + 1)
    dv.add(f"{column}2:{column}{MAX_QUESTIONS + 1}")
    ws.add_data_validation(dv)
    notes = wb.create_sheet("填写说明")
    for line in (
        "题型：单选题、多选题、判断题、填空题、简答题（论述题同简答题）。",
        "选项：单选题和多选题填写选项A起的2至8个选项，中间不得空缺。",
        "答案：单选题填一个字母；多选题填多个字母，如ACD；判断题填“正确”或“错误”；"
        "填空题每个空之间用分号分隔，同一空可接受的多个答案用|分隔；简答题填参考答案。",
        "题干中的填空位置用连续的下划线（______）表示，空的数量须与答案一致。",
        "分值可不填（按题型默认）；难度为1至5的整数，不填为3。",
        "分类用/分隔层级，如“党章党规/纪律处分”；知识点之间用顿号或逗号分隔。",
        "简答题的评分要点每行一条。不要使用公式。",
        "填空匹配：默认忽略大小写、全半角、标点和空格的差异；需要严格比对时填写区分大小写、区分全半角、区分标点、区分空格中的一项或几项。",
        "用途：考试和练习（不填时）、仅练习或仅考试。仅练习的题目不会抽入正式考试；仅考试的题目不用于练习。",
    ):
        notes.append([line])
    notes.column_dimensions["A"].width = 120
    return to_bytes(wb)
