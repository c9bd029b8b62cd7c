"""The question types: one class each, in a registry. What a key looks like, how it is checked, written as text for
import/export, and graded. Pure functions: no request, no session, no I/O.

Keys (JSON in QuestionVersion.answer):
  single     [i]                      0-based index of the right option
  multiple   [i, j, …]                sorted indexes, at least two
  truefalse  true | false
  fill       [[accepted, …], …]       one list of accepted answers per blank
  essay      {"reference": html, "scoring_points": [text, …]}   graded by hand
"""

import re
import string
import unicodedata
from dataclasses import dataclass, field

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from question_bank.richtext import to_text

LETTERS = "ABCDEFGH"
MIN_OPTIONS, MAX_OPTIONS = 2, 8
MAX_BLANKS = 20
#: A blank in a fill-in stem: three or more underscores (authors type "______").
BLANK_RE = re.compile(r"_{3,}")
_TRUE_WORDS = {"正确", "对", "是", "√", "✓", "t", "true", "y", "yes", "1"}
_FALSE_WORDS = {"错误", "错", "否", "×", "✗", "x", "f", "false", "n", "no", "0"}
_CJK_PUNCT = "，。、；：？！“”‘’（）《》【】…—·「」『』〈〉"


#: How far a candidate's answer goes (QuestionType.progress).
ANSWERED, PARTIAL, UNANSWERED = "answered", "partial", "unanswered"


class BadKey(ValueError):
    """A key that does not fit the question (the message says why, in the UI language)."""


@dataclass
class Content:
    """What a version of a question says. Stem, options and explanation are sanitised HTML."""

    stem: str
    options: list[str] = field(default_factory=list)
    answer: object = None
    points: float = 1.0
    explanation: str = ""
    reference: str = ""
    settings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FillMatching:
    """How a fill-in answer is compared with the accepted ones (all on by default, as the README promises). A
    question version's stored settings decide; an option it does not mention takes the default."""

    ignore_case: bool = True
    ignore_width: bool = True  # full-width ＡＢＣ１２３ equals ABC123
    ignore_punct: bool = True
    #: Every space is left out: inside, around, full-width (U+3000), tabs and line breaks (人民代表大会 制度 equals
    #: 人民代表大会制度). Off: spaces are compared as typed.
    ignore_spaces: bool = True

    @classmethod
    def from_settings(cls, settings: dict | None) -> "FillMatching":
        settings = settings or {}
        return cls(**{k: bool(settings[k]) for k in cls.__dataclass_fields__ if k in settings})

    def normalise(self, text: str) -> str:
        text = str(text or "")
        if self.ignore_width:
            text = unicodedata.normalize("NFKC", text)
        if self.ignore_case:
            text = text.casefold()
        if self.ignore_punct:
            text = "".join(
                c for c in text if not unicodedata.category(c).startswith("P") and c not in string.punctuation
            )
        if self.ignore_spaces:
            text = "".join(text.split())  # str.split() splits at every Unicode space, U+3000 among them
        return text


def count_blanks(stem_text: str) -> int:
    return len(BLANK_RE.findall(stem_text))


def letters_to_indexes(text: str) -> list[int]:
    """'ACD', 'A,C,D', 'a、c' -> [0, 2, 3]; raises BadKey on anything else."""
    cleaned = re.sub(r"[\s,，、;；/]+", "", str(text or "")).upper()
    if not cleaned or any(c not in LETTERS for c in cleaned):
        raise BadKey(_("“%(v)s” is not an answer made of option letters A–H.", v=text))
    return sorted({LETTERS.index(c) for c in cleaned})


class QuestionType:
    code = ""
    label = _l("Question")
    has_options = False
    manual = False  # graded by hand
    default_points = 1.0

    def check(self, content: Content, blank_count: int = 0) -> list[tuple[str, str]]:
        """Problems with a version's content as (field, message); empty when it is valid."""
        return []

    def key_to_text(self, answer) -> str:
        raise NotImplementedError

    def key_from_text(self, text: str, option_count: int, blank_count: int = 0):
        raise NotImplementedError

    def grade(self, key, answer, settings: dict | None = None, policy: str = "all_or_nothing") -> float | None:
        """The share (0..1) of the points an answer earns; None when a person must grade it."""
        raise NotImplementedError

    def progress(self, answer, blank_count: int = 0) -> str:
        """How far a candidate's answer goes: ANSWERED, PARTIAL (some of its parts left empty) or UNANSWERED. The
        exam page (static/js/exam.js, `progress`) tells the same apart, so its counts and the server's agree."""
        return ANSWERED if _given(answer) else UNANSWERED


class _Choice(QuestionType):
    has_options = True

    def _check_options(self, content: Content) -> list[tuple[str, str]]:
        problems = []
        n = len(content.options)
        if not MIN_OPTIONS <= n <= MAX_OPTIONS:
            problems.append(("options", _("A choice question needs 2 to 8 options.")))
        seen = set()
        for i, option in enumerate(content.options):
            text, name = to_text(option).strip(), LETTERS[i] if i < len(LETTERS) else str(i + 1)
            if not text and "<img" not in option:
                problems.append(("options", _("Option %(l)s is empty.", l=name)))
            elif text in seen:
                problems.append(("options", _("Option %(l)s repeats another option.", l=name)))
            seen.add(text)
        return problems

    def key_to_text(self, answer) -> str:
        return "".join(LETTERS[i] for i in answer)


class SingleChoice(_Choice):
    code = "single"
    label = _l("Single choice")

    def check(self, content, blank_count=0):
        problems = self._check_options(content)
        key = content.answer
        if not (isinstance(key, list) and len(key) == 1 and _is_index(key[0])):
            problems.append(("answer", _("A single-choice question has exactly one right option.")))
        elif not 0 <= key[0] < len(content.options):
            problems.append(("answer", _("The answer names an option that does not exist.")))
        return problems

    def key_from_text(self, text, option_count, blank_count=0):
        indexes = letters_to_indexes(text)
        if len(indexes) != 1:
            raise BadKey(_("A single-choice question has exactly one right option, not “%(v)s”.", v=text))
        _check_range(indexes, option_count, text)
        return indexes

    def grade(self, key, answer, settings=None, policy="all_or_nothing"):
        return 1.0 if isinstance(answer, int) and [answer] == list(key) else 0.0


class MultipleChoice(_Choice):
    code = "multiple"
    label = _l("Multiple choice")
    default_points = 2.0

    def check(self, content, blank_count=0):
        problems = self._check_options(content)
        key = content.answer
        if not (isinstance(key, list) and all(_is_index(i) for i in key) and len(set(key)) >= 2):
            problems.append(("answer", _("A multiple-choice question has at least two right options.")))
        elif any(not 0 <= i < len(content.options) for i in key):
            problems.append(("answer", _("The answer names an option that does not exist.")))
        return problems

    def key_from_text(self, text, option_count, blank_count=0):
        indexes = letters_to_indexes(text)
        if len(indexes) < 2:
            raise BadKey(_("A multiple-choice question has at least two right options, not “%(v)s”.", v=text))
        _check_range(indexes, option_count, text)
        return indexes

    def grade(self, key, answer, settings=None, policy="all_or_nothing"):
        """All or nothing; or, with policy "partial", a share for a non-empty subset of the key with no wrong option."""
        if not isinstance(answer, list) or not answer:
            return 0.0
        chosen, right = set(answer), set(key)
        if chosen == right:
            return 1.0
        if policy == "partial" and chosen < right:
            return len(chosen) / len(right)
        return 0.0


class TrueFalse(QuestionType):
    code = "truefalse"
    label = _l("True/false")

    def check(self, content, blank_count=0):
        if not isinstance(content.answer, bool):
            return [("answer", _("A true/false question needs the answer true or false."))]
        return []

    def key_to_text(self, answer) -> str:
        return "正确" if answer else "错误"

    def key_from_text(self, text, option_count=0, blank_count=0):
        word = str(text or "").strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise BadKey(_("“%(v)s” is not an answer to a true/false question (use 正确 or 错误).", v=text))

    def grade(self, key, answer, settings=None, policy="all_or_nothing"):
        return 1.0 if isinstance(answer, bool) and answer == key else 0.0


class FillBlank(QuestionType):
    code = "fill"
    label = _l("Fill in the blank")

    def check(self, content, blank_count=0):
        key = content.answer
        problems = []
        if blank_count == 0:
            problems.append(("stem", _("A fill-in question needs at least one blank (______) in the stem.")))
        if blank_count > MAX_BLANKS:
            problems.append(("stem", _("A question has at most %(n)d blanks.", n=MAX_BLANKS)))
        if not (isinstance(key, list) and key and all(isinstance(b, list) and b for b in key)):
            problems.append(("answer", _("Every blank needs at least one accepted answer.")))
        elif any(not str(a).strip() for b in key for a in b):
            problems.append(("answer", _("An accepted answer is empty.")))
        elif blank_count and len(key) != blank_count:
            problems.append(
                ("answer", _("The stem has %(b)d blank(s) but %(a)d answer(s) are given.", b=blank_count, a=len(key)))
            )
        return problems

    def key_to_text(self, answer) -> str:
        """Blanks separated by ';', accepted answers by '|'; a ';', '；', '|' or '\\' inside an answer is escaped."""
        return ";".join("|".join(re.sub(r"([;；|\\])", r"\\\1", str(a)) for a in accepted) for accepted in answer)

    def key_from_text(self, text, option_count=0, blank_count=0):
        """'answer one|synonym;answer two' -> [["answer one", "synonym"], ["answer two"]] (backslash escapes)."""
        text = str(text or "").strip()
        if not text:
            raise BadKey(_("Every blank needs at least one accepted answer."))
        blanks = [
            [a.strip() for a in _split_escaped(part, "|") if a.strip()]
            for part in _split_escaped(text, ";；", unescape=False)
        ]
        if any(not b for b in blanks):
            raise BadKey(_("An accepted answer is empty."))
        if blank_count and len(blanks) != blank_count:
            raise BadKey(_("The stem has %(b)d blank(s) but %(a)d answer(s) are given.", b=blank_count, a=len(blanks)))
        return blanks

    def progress(self, answer, blank_count=0):
        """Every blank filled: answered; some: partly answered (the candidate is warned before submitting)."""
        parts = answer if isinstance(answer, list) else []
        filled = sum(1 for part in parts if _given(part))
        if not filled:
            return UNANSWERED
        return ANSWERED if filled >= max(blank_count, len(parts)) else PARTIAL

    def grade(self, key, answer, settings=None, policy="all_or_nothing"):
        """The share of blanks filled with an accepted answer."""
        if not isinstance(answer, list) or not key:
            return 0.0
        matching = FillMatching.from_settings(settings)
        right = 0
        for i, accepted in enumerate(key):
            given = answer[i] if i < len(answer) else ""
            if isinstance(given, str) and given.strip():
                norm = matching.normalise(given)
                right += any(norm == matching.normalise(a) for a in accepted)
        return right / len(key)


class Essay(QuestionType):
    code = "essay"
    label = _l("Short answer / essay")
    manual = True
    default_points = 10.0

    def check(self, content, blank_count=0):
        key = content.answer
        if not isinstance(key, dict) or not isinstance(key.get("scoring_points", []), list):
            return [("answer", _("An essay question's key is a reference answer and scoring points."))]
        return []

    def key_to_text(self, answer) -> str:
        return to_text(answer.get("reference", ""))

    def key_from_text(self, text, option_count=0, blank_count=0):
        return {"reference": str(text or "").strip(), "scoring_points": []}

    def grade(self, key, answer, settings=None, policy="all_or_nothing"):
        return None


QUESTION_TYPES: dict[str, QuestionType] = {
    t.code: t for t in (SingleChoice(), MultipleChoice(), TrueFalse(), FillBlank(), Essay())
}

#: Chinese and English names accepted for a type in import files (the Chinese one is what exports write).
TYPE_NAMES = {
    "single": ("单选题", "单选", "single"),
    "multiple": ("多选题", "多选", "multiple"),
    "truefalse": ("判断题", "判断", "truefalse", "true/false"),
    "fill": ("填空题", "填空", "fill"),
    "essay": ("简答题", "论述题", "问答题", "简答", "essay"),
}


def type_from_name(name: str) -> str | None:
    key = str(name or "").strip().lower()
    for code, names in TYPE_NAMES.items():
        if key in names:
            return code
    return None


def _given(value) -> bool:
    """An answer (or one part of it) the candidate gave: not nothing, not blank text, not an empty choice."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | dict):
        return bool(value)
    return True  # a chosen option (0 too) or true/false


def _is_index(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _split_escaped(text: str, separators: str, unescape: bool = True) -> list[str]:
    """Split at unescaped separators; drop the escaping backslashes unless `unescape` is False."""
    parts, current, i = [], [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            current.append(text[i + 1] if unescape else text[i : i + 2])
            i += 2
            continue
        if c in separators:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    parts.append("".join(current))
    return parts


def _check_range(indexes: list[int], option_count: int, text: str) -> None:
    if any(i >= option_count for i in indexes):
        raise BadKey(_("The answer “%(v)s” names an option that does not exist.", v=text))
