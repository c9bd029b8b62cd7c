"""Locale and time-zone selection, the Jinja filters that show UTC times in Asia/Shanghai, and lists joined the
way the page's language joins them."""

from flask import current_app, g, has_request_context, session
from flask_babel import format_date, format_datetime, get_locale, pgettext
from flask_login import current_user
from markupsafe import Markup, escape


def select_locale() -> str:
    """The user's saved choice, else the session's (before login), else Simplified Chinese (also outside requests:
    CLI commands and background work speak the default language)."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    # With the database down the user cannot be read (the 503 page is shown in the session's language).
    user = None if g.get("database_down") else current_user
    if user and user.is_authenticated and user.locale in languages:
        return user.locale
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def localtime(value, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """Show an aware UTC datetime in the configured zone (Asia/Shanghai)."""
    if value is None:
        return ""
    return format_datetime(value, fmt)


def localdate(value, fmt: str = "yyyy-MM-dd") -> str:
    if value is None:
        return ""
    return format_date(value, fmt)


def list_separator() -> str:
    """What goes between the names of a list in a sentence: "、" in Chinese, ", " in English."""
    return pgettext("list separator", ", ")


def join_list(items) -> str:
    """The items (translated labels, names) as one enumeration in the current language."""
    return list_separator().join(str(item) for item in items)


def series(items) -> Markup:
    """`join_list` for templates: each item escaped unless it is already markup."""
    return escape(list_separator()).join(escape(item) for item in items)


def init_app(app) -> None:
    from core.extensions import babel

    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["localdate"] = localdate
    app.jinja_env.filters["series"] = series
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["list_separator"] = list_separator
