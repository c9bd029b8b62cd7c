"""Form helpers shared by every domain."""

from flask_wtf import FlaskForm
from wtforms import SelectChoice


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms select choices."""
    return [SelectChoice(value, label) for value, label in pairs]


class ActionForm(FlaskForm):
    """An empty form: a POST button that carries only the CSRF token."""
