"""Forms of the appeal and correction pages. Which items may be appealed, who may review and every rule about
values are the services' (results.appeals, results.corrections)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FloatField, RadioField, SelectField, SelectMultipleField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from core.forms import options
from results.appeal_models import DECISION_LABELS, Decision


class AppealForm(FlaskForm):
    items = SelectMultipleField(_l("Items you appeal"), coerce=int, validate_choice=False,
                                widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())  # fmt: skip
    reason = TextAreaField(_l("Why you appeal"), validators=[DataRequired(), Length(max=2000)])


class AppealDecisionForm(FlaskForm):
    decision = RadioField(_l("Decision"), choices=options(DECISION_LABELS.items()), default=Decision.REJECTED,
                          validators=[InputRequired()])  # fmt: skip
    points = FloatField(_l("New mark (when upheld)"), validators=[Optional()])
    reason = TextAreaField(_l("Reason, sent to the candidate"), validators=[DataRequired(), Length(max=2000)])


class AppealAssignForm(FlaskForm):
    reviewer = SelectField(_l("Reviewer"), coerce=int, validate_choice=False)


class CorrectionForm(FlaskForm):
    answer = SelectField(_l("Candidate and item"), coerce=int, validate_choice=False)
    points = FloatField(_l("Correct mark"), validators=[InputRequired()])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])


class CorrectionDecisionForm(FlaskForm):
    approve = RadioField(_l("Decision"), coerce=int, default=0, validators=[InputRequired()],
                         choices=options([(1, _l("Approve")), (0, _l("Reject"))]))  # fmt: skip
    note = TextAreaField(_l("Note"), validators=[DataRequired(), Length(max=2000)])
