"""Forms of the sitting's pages. Choices that depend on the data (units, rooms, sessions) are set by the view; every
rule about values (a seat taken, a room full, a window out of order) is the services'."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from core.forms import options
from core.models import LOCAL_ZONE
from sitting.models import DECISION_LABELS, INCIDENT_LABELS

#: How the automatic assignment may order the candidates (sitting.assignment.STRATEGIES).
STRATEGY_LABELS = {
    "unit": _l("By unit (colleagues together)"),
    "name": _l("By name (pinyin order)"),
    "shuffle": _l("Shuffled (colleagues apart)"),
}


class RoomForm(FlaskForm):
    unit_id = SelectField(_l("Unit"), coerce=int, validate_choice=False)
    name = StringField(_l("Room name"), validators=[DataRequired(), Length(max=100)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=200)])
    capacity = IntegerField(_l("Seats"), validators=[InputRequired(), NumberRange(min=1, max=10000)])
    computers = IntegerField(_l("Working computers"), default=0, validators=[InputRequired(), NumberRange(min=0)])
    networks = TextAreaField(
        _l("Room network (CIDR)"),
        validators=[Optional(), Length(max=2000)],
        description=_l("e.g. 10.1.2.0/24, one range per line; empty: any address."),
    )
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)])
    is_active = BooleanField(_l("In use"), default=True)


class SessionForm(FlaskForm):
    name = StringField(_l("Session name"), validators=[DataRequired(), Length(max=100)])
    day = DateField(_l("Date"), validators=[InputRequired()])
    starts = TimeField(_l("Starts (Beijing time)"), validators=[InputRequired()])
    ends = TimeField(_l("Ends (Beijing time)"), validators=[InputRequired()])
    checkin_opens = TimeField(
        _l("Check-in opens"), validators=[Optional()], description=_l("Empty: 30 minutes before the start.")
    )
    checkin_closes = TimeField(
        _l("Check-in closes"), validators=[Optional()], description=_l("Empty: 15 minutes after the start.")
    )


class SessionRoomsForm(FlaskForm):
    room_ids = SelectMultipleField(_l("Rooms"), coerce=int, validate_choice=False)


class SittingSettingsForm(FlaskForm):
    requires_checkin = BooleanField(_l("An attempt starts only after check-in, within the candidate's session"))
    restrict_network = BooleanField(_l("An attempt starts only from the room's network"))
    silent_alert_minutes = IntegerField(
        _l("Alert after this many silent minutes"), default=3, validators=[InputRequired(), NumberRange(min=1, max=120)]
    )


class AssignForm(FlaskForm):
    strategy = SelectField(_l("Order"), choices=options(STRATEGY_LABELS.items()), default="unit")
    everyone = BooleanField(_l("Place everyone again (not only the unplaced; checked-in candidates stay)"))


class SeatFilterForm(FlaskForm):
    class Meta:
        csrf = False

    show = SelectField(
        _l("Show"),
        choices=options([("", _l("Everyone")), ("unplaced", _l("Unplaced only")), ("placed", _l("Placed only"))]),
        default="",
        validate_choice=False,
    )
    session = SelectField(_l("Session"), coerce=str, validate_choice=False, default="")
    room = SelectField(_l("Room"), coerce=str, validate_choice=False, default="")
    q = StringField(_l("Name or ticket number"), validators=[Optional(), Length(max=64)])


class MoveSeatForm(FlaskForm):
    session_id = SelectField(_l("Session"), coerce=int, validate_choice=False)
    room_id = SelectField(_l("Room"), coerce=int, validate_choice=False)
    seat_no = IntegerField(_l("Seat number"), validators=[Optional()], description=_l("Empty: the first free seat."))
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


class ProctorForm(FlaskForm):
    username = StringField(_l("Username (employee number)"), validators=[DataRequired(), Length(max=32)])
    room_id = SelectField(_l("Where"), coerce=int, validate_choice=False, default=0)


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


# ---------------------------------------------------------------- the console (sitting.console_views)


class ConsoleActionForm(FlaskForm):
    """A proctor's action on one attempt from the console: the reason (required by the service, which says so in
    the candidate's language) and, for an extension or a reopening, the minutes."""

    reason = StringField()
    minutes = IntegerField(validators=[Optional()])
