"""How a question looks to a candidate: the stem with its blanks as inputs, and lettered options."""

from markupsafe import Markup, escape

from question_bank.types import BLANK_RE, LETTERS


def stem_with_blanks(stem_html: str, name: str = "blank", disabled: bool = False) -> Markup:
    """The (sanitised) stem with each ______ replaced by a labelled text input."""
    counter = iter(range(1, 1000))

    def replace(_match) -> str:
        n = next(counter)
        label = escape(f"第{n}空")
        return (
            f'<input type="text" class="blank" name="{escape(name)}-{n}" aria-label="{label}" '
            f'autocomplete="off"{" disabled" if disabled else ""}>'
        )

    return Markup(BLANK_RE.sub(replace, stem_html))  # noqa: S704  (the stem is sanitised HTML)


def letter(i: int) -> str:
    return LETTERS[i] if i < len(LETTERS) else str(i + 1)


def init_app(app) -> None:
    app.jinja_env.filters["stem_with_blanks"] = stem_with_blanks
    app.jinja_env.globals["option_letter"] = letter
