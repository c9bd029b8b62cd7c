"""Moodle Aiken: single-choice questions only, one per paragraph:

    Stem on one line
    A. option
    B. option
    ANSWER: B

Aiken holds nothing else: other types, difficulty, points, knowledge points and explanations cannot be written.
"""

import re

from flask_babel import gettext as _

from core.imports import ImportIssue, nul_issue
from question_bank.formats import FIELD_LABELS, ImportResult, RawQuestion, validate
from question_bank.richtext import from_text, to_text
from question_bank.types import LETTERS

_OPTION_RE = re.compile(r"^([A-H])[.)．、]\s*(.*)$")
_ANSWER_RE = re.compile(r"^ANSWER\s*[:：]\s*(.*)$", re.IGNORECASE)


def read(data: bytes) -> ImportResult:
    result = ImportResult()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        result.issues.append(ImportIssue(None, None, None, _("An Aiken file must be UTF-8 text.")))
        return result
    if issue := nul_issue(text):
        result.issues.append(issue)
        return result
    raws, block = [], []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for number, line in enumerate([*lines, ""], start=1):
        if line.strip():
            block.append((number, line.strip()))
        elif block:
            raw = _parse(block, result)
            if raw is not None:
                raws.append(raw)
            block = []
    validate(raws, result)  # every question is checked, so one upload shows every problem
    result.issues.sort(key=ImportIssue.sort_key)
    if not result.questions and not result.issues:
        result.issues.append(ImportIssue(None, None, None, _("The file has no questions.")))
    return result


def _issue(line: int, field: str, message: str) -> ImportIssue:
    return ImportIssue(line, None, FIELD_LABELS[field], message, is_line=True)


def _parse(block: list[tuple[int, str]], result: ImportResult) -> RawQuestion | None:
    first_line, stem = block[0]
    raw = RawQuestion(row=first_line, is_line=True, type="single", type_name="single", stem=from_text(stem))
    expected = 0
    answer = None
    for number, line in block[1:]:
        if answer is not None:
            # The ANSWER line ends a question: anything after it is the next question run on without its blank
            # line (or a second ANSWER), which must not be swallowed into this one.
            message = _(
                "The question ended with its ANSWER line on line %(n)d: leave a blank line before the next question.",
                n=answer[0],
            )
            result.issues.append(_issue(number, "options", message))
            return None
        m = _ANSWER_RE.match(line)
        if m:
            answer = (number, m.group(1).strip())
            continue
        m = _OPTION_RE.match(line)
        if not m:
            result.issues.append(_issue(number, "options", _("Expected an option such as “A. …” or “ANSWER: A”.")))
            return None
        if LETTERS.index(m.group(1)) != expected:
            result.issues.append(_issue(number, "options", _("Options must be lettered A, B, C, … in order.")))
            return None
        expected += 1
        raw.options.append(from_text(m.group(2)))
    if answer is None:
        result.issues.append(_issue(block[-1][0], "answer", _("The ANSWER line is missing.")))
        return None
    raw.answer_text = answer[1]
    raw.row = first_line
    return raw


def write(items) -> tuple[str, list[str], int]:
    """items: (question, version, category path). Only single-choice questions can be written."""
    out, skipped = [], []
    for q, v, _path in items:
        if q.type != "single":
            skipped.append(_("Question %(id)d: Aiken holds only single-choice questions; not exported.", id=q.id))
            continue
        lines = [" ".join(to_text(v.stem).split())]
        lines += [f"{LETTERS[i]}. {' '.join(to_text(o).split())}" for i, o in enumerate(v.options)]
        lines.append(f"ANSWER: {LETTERS[v.answer[0]]}")
        out.append("\n".join(lines))
    written = len(out)
    if out:
        skipped.insert(0, _("Aiken keeps only the stem, the options and the answer of each question."))
    return "\n\n".join(out) + ("\n" if out else ""), skipped, written
