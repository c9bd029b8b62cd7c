"""Forms of the lifecycle's pages; every rule about values (the order of moves, the two-person rule, a day already
kept) is the services'."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from core.forms import options
from results.lifecycle import SCOPE_LABELS
from results.models import DayKind

DAY_KIND_LABELS = {DayKind.HOLIDAY: _l("Public holiday (no work)"), DayKind.WORKDAY: _l("Adjusted working day")}


class RegisterForm(FlaskForm):
    scope = SelectField(_l("Who sees the notice"), choices=options(SCOPE_LABELS.items()))
    days = IntegerField(_l("Notice period (working days)"), default=5,
                        validators=[InputRequired(), NumberRange(min=1, max=30)])  # fmt: skip
    appeal_how = TextAreaField(_l("How to appeal (printed on the notice)"), validators=[Optional(), Length(max=2000)])


class CheckForm(FlaskForm):
    note = TextAreaField(_l("Check note"), validators=[Optional(), Length(max=2000)])
    sample_note = TextAreaField(_l("Sample re-mark (抽查), if done"), validators=[Optional(), Length(max=2000)])


class NoteForm(FlaskForm):
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])


class SendBackForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])


class PublishForm(FlaskForm):
    scope = SelectField(_l("Who sees the notice"), choices=options(SCOPE_LABELS.items()))
    days = IntegerField(_l("Notice period (working days)"), default=5,
                        validators=[InputRequired(), NumberRange(min=1, max=30)])  # fmt: skip


class CalendarDayForm(FlaskForm):
    day = DateField(_l("Day"), validators=[DataRequired()])
    kind = SelectField(_l("Kind"), choices=options(DAY_KIND_LABELS.items()))
    name = StringField(_l("Name"), validators=[Optional(), Length(max=100)])
