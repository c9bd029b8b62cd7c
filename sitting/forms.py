"""Forms of the sitting's pages. Choices that depend on the data (a room's candidates) are set by the view; every
rule about values is the services'."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from core.forms import options
from core.models import LOCAL_ZONE
from sitting.models import DECISION_LABELS, INCIDENT_LABELS

_WHEN = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


# ---------------------------------------------------------------- incidents (sitting.incident_views)


class IncidentForm(FlaskForm):
    candidate = SelectField(_l("Candidate"), coerce=int, validators=[InputRequired()])
    kind = SelectField(_l("Kind of incident"), choices=options(INCIDENT_LABELS.items()))
    at = DateTimeLocalField(_l("When (Beijing time)"), format=_WHEN, tz=LOCAL_ZONE, validators=[InputRequired()])
    description = TextAreaField(_l("What happened"), validators=[DataRequired(), Length(max=2000)])
    evidence = TextAreaField(
        _l("Evidence"),
        validators=[Optional(), Length(max=2000)],
        description=_l("What was seen or kept: items taken, photos, witnesses."),
    )


class DecisionForm(FlaskForm):
    decision = SelectField(_l("Decision"), choices=options(DECISION_LABELS.items()))
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=500)])
