"""The sitting's forms."""

from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import Optional


class ConsoleActionForm(FlaskForm):
    """A proctor's action on one attempt from the console: the reason (required by the service, which says so in
    the candidate's language) and, for an extension or a reopening, the minutes."""

    reason = StringField()
    minutes = IntegerField(validators=[Optional()])
