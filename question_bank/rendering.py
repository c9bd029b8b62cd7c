"""How a question looks to a candidate: the stem with its blanks as inputs, and lettered options."""

import itertools
import re

from markupsafe import Markup, escape

from question_bank.types import BLANK_RE, LETTERS

_TAG_SPLIT_RE = re.compile(r"(<[^>]*>)")


def stem_with_blanks(stem_html: str, name: str = "blank", disabled: bool = False) -> Markup:
    """The (sanitised) stem with each ______ in its text (never inside a tag) replaced by a labelled input."""
    counter = itertools.count(1)

    def replace(_match) -> str:
        n = next(counter)
        label = escape(f"第{n}空")
        return (
            f'<input type="text" class="blank" name="{escape(name)}-{n}" aria-label="{label}" '
            f'autocomplete="off"{" disabled" if disabled else ""}>'
        )

    parts = _TAG_SPLIT_RE.split(stem_html)
    # Even pieces are text between tags, odd ones the tags themselves.
    html = "".join(part if i % 2 else BLANK_RE.sub(replace, part) for i, part in enumerate(parts))
    return Markup(html)  # noqa: S704  (the stem is sanitised HTML)


def letter(i: int) -> str:
    return LETTERS[i] if i < len(LETTERS) else str(i + 1)


def init_app(app) -> None:
    app.jinja_env.filters["stem_with_blanks"] = stem_with_blanks
    app.jinja_env.globals["option_letter"] = letter
