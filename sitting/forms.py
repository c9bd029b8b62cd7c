"""The sitting's forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, StringField
from wtforms.validators import DataRequired, Length, Optional

# ---------------------------------------------------------------- check-in (sitting.checkin_views)


class CheckinLookupForm(FlaskForm):
    """One lookup at the door: a scanned ticket code, a typed ticket number or part of a name (the first given)."""

    room = IntegerField(validators=[Optional()])
    code = StringField(_l("Ticket code"), validators=[Optional(), Length(max=200)])
    ticket = StringField(_l("Ticket number"), validators=[Optional(), Length(max=200)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=64)])


class CheckinConfirmForm(FlaskForm):
    seat = IntegerField(validators=[DataRequired()])


class CheckinUndoForm(FlaskForm):
    seat = HiddenField(validators=[DataRequired()])
    room = HiddenField()
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500)])
