"""Moodle GIFT. Supported: multiple choice (one or several right answers), true/false, short answer (one blank),
essay, $CATEGORY. Not supported, and reported: matching, numerical, per-answer feedback, several blanks.

What GIFT cannot hold (difficulty, points, knowledge points, reference, scoring points, an essay's reference answer)
is written into a `// qualexam: {json}` comment before the question, which Moodle ignores and we read back.
"""

import json
import re

from flask_babel import gettext as _

from core.imports import ImportIssue, nul_issue
from question_bank.formats import FIELD_LABELS, ImportResult, RawQuestion, validate
from question_bank.models import QuestionUsage
from question_bank.richtext import from_text, is_plain, sanitize, to_text
from question_bank.services import split_tags
from question_bank.types import BLANK_RE, FillMatching, count_blanks

_SPECIAL = "~=#{}:"
_META_PREFIX = "// qualexam:"
_WEIGHT_RE = re.compile(r"^%(-?\d+(?:\.\d+)?)%")
_BLANK = "______"


# ---------------------------------------------------------------- escaping


def escape(text: str) -> str:
    out = text.replace("\\", "\\\\")
    for c in _SPECIAL:
        out = out.replace(c, "\\" + c)
    return out.replace("\r\n", "\n").replace("\n", "\\n")


def unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append("\n" if nxt == "n" else nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _split_unescaped(text: str, chars: str) -> list[tuple[str, str]]:
    """Split at unescaped `chars`; returns (the char that started the piece or '', piece)."""
    pieces, current, lead, i = [], [], "", 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if c in chars:
            pieces.append((lead, "".join(current)))
            current, lead = [], c
        else:
            current.append(c)
        i += 1
    pieces.append((lead, "".join(current)))
    return pieces


def _find_unescaped(text: str, char: str, start: int = 0) -> int:
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == char:
            return i
        i += 1
    return -1


# ---------------------------------------------------------------- reading


def _blocks(text: str):
    """Yield (first line number, question text, metadata, category, problem) for each question of the file.

    A blank line always ends a question, as Moodle reads GIFT: an answer block still open there (or at the end of
    the file) is that question's problem, named by the line of its “{”, and the next question is read on its own
    rather than swallowed into a bogus answer. So is a “}” that closes nothing.
    """
    category, meta, lines, start = "", None, [], 0
    depth, opened, stray = 0, None, None
    for number, line in enumerate([*text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), ""], start=1):
        stripped = line.strip()
        if not lines:
            if not stripped:
                continue
            if stripped.startswith(_META_PREFIX):
                meta = (number, stripped[len(_META_PREFIX) :].strip())
                continue
            if stripped.startswith("//"):
                continue
            if stripped.upper().startswith("$CATEGORY:"):
                category = _moodle_category(stripped[len("$CATEGORY:") :])
                continue
        if not stripped:
            yield start, "\n".join(lines), meta, category, _brace_problem(depth, opened, stray)
            lines, meta, depth, opened, stray = [], None, 0, None, None
            continue
        if stripped.startswith("//") and depth == 0:
            continue
        if not lines:
            start = number
        lines.append(line)
        for brace in _braces(line):
            depth += 1 if brace == "{" else -1
            if brace == "{" and depth == 1:
                opened = number
            if depth < 0 and stray is None:
                stray = number


def _braces(line: str):
    """The unescaped braces of a line, in order."""
    i = 0
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        if line[i] in "{}":
            yield line[i]
        i += 1


def _brace_problem(depth: int, opened: int | None, stray: int | None) -> ImportIssue | None:
    if stray is not None:
        return _line_issue(stray, "answer", _("This “}” closes no answer block."))
    if depth > 0:
        message = _(
            "The answer block opened on this line is not closed with “}” before the question ends (at a blank line "
            "or the end of the file)."
        )
        return _line_issue(opened, "answer", message)
    return None


def _moodle_category(path: str) -> str:
    """Moodle's "$course$/top/Chapter/Section" -> "Chapter/Section" (only the leading context parts are dropped)."""
    parts = [p.strip() for p in path.strip().split("/") if p.strip()]
    while parts and parts[0] in ("$course$", "$system$", "$module$", "$coursecategory$", "$cat1$", "top"):
        parts.pop(0)
    return "/".join(parts)


def read(data: bytes) -> ImportResult:
    result = ImportResult()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        result.issues.append(ImportIssue(None, None, None, _("A GIFT file must be UTF-8 text.")))
        return result
    if issue := nul_issue(text):
        result.issues.append(issue)
        return result
    raws = []
    for line, block, meta, category, problem in _blocks(text):
        if problem is not None:
            result.issues.append(problem)
            continue
        raw = _parse_block(line, block, result)
        if raw is None:
            continue
        raw.category = category
        if meta is not None:
            _apply_meta(raw, meta, result)
        raws.append(raw)
    validate(raws, result)  # every question is checked, so one upload shows every problem
    result.issues.sort(key=ImportIssue.sort_key)
    if not result.questions and not result.issues:
        result.issues.append(ImportIssue(None, None, None, _("The file has no questions.")))
    return result


def _line_issue(line: int, field: str | None, message: str) -> ImportIssue:
    return ImportIssue(line, None, FIELD_LABELS.get(field) if field else None, message, is_line=True)


def _parse_block(line: int, block: str, result: ImportResult) -> RawQuestion | None:
    body = block.strip()
    if body.startswith("::"):
        end = body.find("::", 2)
        if end == -1:
            result.issues.append(_line_issue(line, None, _("The question title is not closed with ‘::’.")))
            return None
        body = body[end + 2 :].strip()
    html = False
    fmt = re.match(r"^\[(html|moodle|plain|markdown)\]", body)
    if fmt:
        html = fmt.group(1) == "html"
        body = body[fmt.end() :]
    open_at = _find_unescaped(body, "{")
    close_at = _find_unescaped(body, "}", open_at + 1) if open_at != -1 else -1
    if open_at == -1 or close_at == -1:
        result.issues.append(_line_issue(line, "answer", _("No answer block {…} found: this is not a question.")))
        return None
    if _find_unescaped(body, "{", close_at + 1) != -1:
        result.issues.append(_line_issue(line, "answer", _("Only one answer block per question can be imported.")))
        return None
    prefix, inner, suffix = body[:open_at], body[open_at + 1 : close_at], body[close_at + 1 :]

    def text_of(part: str) -> str:
        part = unescape(part)
        return sanitize(part) if html else from_text(part)

    raw = RawQuestion(row=line, is_line=True)
    inner, explanation = _split_general_feedback(inner)
    raw.explanation = text_of(explanation.strip())
    answers = inner.strip()
    if not answers:
        raw.type, raw.type_name = "essay", "essay"
        raw.stem = text_of((prefix + suffix).strip())
        raw.answer = {"reference": "", "scoring_points": []}
        return raw
    if re.fullmatch(r"(T|TRUE|F|FALSE)(\s*#.*)?", answers, flags=re.DOTALL):
        if "#" in answers:
            result.warnings.append(_line_issue(line, "answer", _("Feedback on single answers is not kept.")))
        raw.type, raw.type_name = "truefalse", "truefalse"
        raw.stem = text_of((prefix + suffix).strip())
        raw.answer = answers.upper().startswith("T")
        return raw
    if answers.startswith("#"):
        result.issues.append(_line_issue(line, "type", _("Numerical questions cannot be imported.")))
        return None
    items = [(lead, piece) for lead, piece in _split_unescaped(answers, "=~") if lead]
    if not items:
        result.issues.append(_line_issue(line, "answer", _("The answer block has no answers.")))
        return None
    if any("->" in piece for _lead, piece in items):
        result.issues.append(_line_issue(line, "type", _("Matching questions cannot be imported.")))
        return None
    parsed = []
    for lead, piece in items:
        piece = piece.strip()
        weight = None
        m = _WEIGHT_RE.match(piece)
        if m:
            weight, piece = float(m.group(1)), piece[m.end() :]
        feedback_at = _find_unescaped(piece, "#")
        if feedback_at != -1:
            result.warnings.append(_line_issue(line, "answer", _("Feedback on single answers is not kept.")))
            piece = piece[:feedback_at]
        parsed.append((lead, weight, piece.strip()))
    middle = suffix.strip() != ""
    if any(w is not None and 0 < w < 100 and lead == "=" for lead, w, _p in parsed) or (
        sum(1 for _lead, w, _p in parsed if w is not None and w > 0) == 1
        and any(w is not None and 0 < w < 100 for _lead, w, _p in parsed)
    ):
        result.warnings.append(
            _line_issue(line, "answer", _("Partial credit on an answer is not kept: it counts as fully right."))
        )
    if all(lead == "=" for lead, _w, _p in parsed):
        raw.type, raw.type_name = "fill", "fill"
        raw.stem = text_of(prefix + _BLANK + suffix)
        raw.answer = [[to_text(text_of(p)) for _lead, _w, p in parsed]]
        return raw
    raw.stem = text_of(prefix + _BLANK + suffix) if middle else text_of(prefix.strip())
    raw.options = [text_of(p) for _lead, _w, p in parsed]
    right = [i for i, (lead, w, _p) in enumerate(parsed) if (w is not None and w > 0) or (w is None and lead == "=")]
    raw.type = "single" if len(right) == 1 else "multiple"
    raw.type_name = raw.type
    raw.answer = right
    return raw


def _split_general_feedback(inner: str) -> tuple[str, str]:
    i = 0
    while i < len(inner):
        if inner[i] == "\\":
            i += 2
            continue
        if inner.startswith("####", i):
            return inner[:i], inner[i + 4 :]
        i += 1
    return inner, ""


def _apply_meta(raw: RawQuestion, meta: tuple[int, str], result: ImportResult) -> None:
    line, text = meta
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError
    except ValueError:
        result.issues.append(_line_issue(line, None, _("The qualexam comment is not valid JSON.")))
        return

    def listed(key: str) -> list[str]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            result.issues.append(
                _line_issue(line, None, _("“%(k)s” in the qualexam comment must be a list of texts.", k=key))
            )
            return []
        return value

    settings = data.get("settings", {})
    if not isinstance(settings, dict) or not all(isinstance(v, bool) for v in settings.values()):
        result.issues.append(
            _line_issue(line, None, _("“settings” in the qualexam comment must map names to true/false."))
        )
        settings = {}
    raw.difficulty = data.get("difficulty", raw.difficulty)
    raw.points = data.get("points", raw.points)
    raw.tags = [t for tag in listed("tags") for t in split_tags(tag)]
    raw.reference = str(data.get("reference", ""))
    raw.usage = str(data.get("usage", ""))
    raw.settings = {k: v for k, v in settings.items() if k in FillMatching.__dataclass_fields__}
    if raw.type == "essay":
        raw.answer = {
            "reference": sanitize(str(data.get("essay_reference", ""))),
            "scoring_points": listed("scoring_points"),
        }


# ---------------------------------------------------------------- writing


def write(items) -> tuple[str, list[str], int]:
    """items: (question, version, category path). Returns the GIFT text, what could not be written, and how many
    questions were."""
    out, skipped, category = [], [], None
    for q, v, path in items:
        if q.type == "fill" and count_blanks(to_text(v.stem)) != 1:
            skipped.append(_("Question %(id)d: GIFT holds only one blank per question; not exported.", id=q.id))
            continue
        if path != category:
            out.append(f"$CATEGORY: {path}\n")
            category = path
        meta = {"difficulty": q.difficulty, "points": float(v.points), "tags": [t.name for t in q.tags]}
        if v.reference:
            meta["reference"] = v.reference
        if v.settings:
            meta["settings"] = v.settings
        if q.usage != QuestionUsage.ANY:
            meta["usage"] = q.usage
        if q.type == "essay":
            meta["essay_reference"] = v.answer.get("reference", "")
            meta["scoring_points"] = v.answer.get("scoring_points", [])
        out.append(f"{_META_PREFIX} {json.dumps(meta, ensure_ascii=False)}")
        out.append(_question_text(q, v) + "\n")
    return "\n".join(out), skipped, len(items) - len(skipped)


def _question_text(q, v) -> str:
    parts = [v.stem, v.explanation or "", *(v.options or [])]
    # HTML mode also when an option says "->": in plain GIFT that marks a matching question; as HTML it is "-&gt;".
    html = not all(is_plain(p) for p in parts) or any("->" in to_text(o) for o in v.options or [])

    def enc(markup: str) -> str:
        return escape(markup if html else to_text(markup))

    head = f"::Q{q.id}:: " + ("[html]" if html else "")
    feedback = f"####{enc(v.explanation)}" if v.explanation else ""
    stem = v.stem
    if q.type == "truefalse":
        return f"{head}{enc(stem)} {{{'TRUE' if v.answer else 'FALSE'}{feedback}}}"
    if q.type == "essay":
        return f"{head}{enc(stem)} {{{feedback}}}"
    if q.type == "fill":
        before, after = BLANK_RE.split(stem, maxsplit=1)
        answers = " ".join("=" + escape(a) for a in v.answer[0])
        return f"{head}{enc(before)}{{{answers}{feedback}}}{enc(after)}"
    if q.type == "single":
        answers = [("=" if i in v.answer else "~") + enc(o) for i, o in enumerate(v.options)]
    else:
        share = f"{100 / len(v.answer):.5f}".rstrip("0").rstrip(".")
        answers = [(f"~%{share}%" if i in v.answer else "~%-100%") + enc(o) for i, o in enumerate(v.options)]
    body = "\n".join(answers)
    return f"{head}{enc(stem)} {{\n{body}\n{feedback}}}" if feedback else f"{head}{enc(stem)} {{\n{body}\n}}"
