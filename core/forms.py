"""Form helpers shared by every domain."""

from flask import flash
from flask_wtf import FlaskForm
from wtforms import SelectChoice


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms select choices."""
    return [SelectChoice(value, label) for value, label in pairs]


class ActionForm(FlaskForm):
    """An empty form: a POST button that carries only the CSRF token."""


def show_problems(form, exc) -> None:
    """Put a service's refusal (a core.errors.DomainError) next to the fields it names, or above the form."""
    for name, message in exc.problems:
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            flash(message, "error")
    if not exc.problems:
        flash(exc.message, "error")
