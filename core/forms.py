"""Form helpers shared by every domain."""

from wtforms import SelectChoice


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms select choices."""
    return [SelectChoice(value, label) for value, label in pairs]
