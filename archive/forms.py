"""Forms of the archive pages whose fields are fixed; entry forms follow their kind (records.KIND_FIELDS) and are
checked by the services."""

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from wtforms import DateField, FloatField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from archive.models import LABELS, AssessmentGrade, ClassType, HourKind, label
from core.forms import options


class ClassForm(FlaskForm):
    code = StringField(_l("Class code"), validators=[InputRequired(), Length(max=32)])
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=200)])
    organiser = StringField(_l("Organiser"), validators=[InputRequired(), Length(max=200)])
    place = StringField(_l("Place"), validators=[InputRequired(), Length(max=200)],
                        description=_l("e.g. the party school, a university, a training centre abroad"))  # fmt: skip
    class_type = SelectField(lazy_pgettext("training class", "Type"), choices=[])
    hour_kind = SelectField(_l("Counts as"), choices=[])
    starts_on = DateField(_l("Start date"), validators=[InputRequired()])
    ends_on = DateField(_l("End"), validators=[InputRequired()])
    hours = FloatField(_l("Hours"), validators=[InputRequired()])
    spending = FloatField(_l("Spending (yuan)"), default=0, validators=[Optional()])
    unit_id = SelectField(_l("Organising unit"), coerce=int, validate_choice=False)
    reason = StringField(_l("Reason for the change"), validators=[Optional(), Length(max=500)],
                         description=_l("Needed once attendance is recorded: it goes into every participant's "
                                        "history."))  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.class_type.choices = options((t, label(t)) for t in ClassType)
        self.hour_kind.choices = options((k, label(k)) for k in (HourKind.OFF_JOB, HourKind.ROTATIONAL))


class BookForm(FlaskForm):
    title = StringField(lazy_pgettext("book", "Title"), validators=[InputRequired(), Length(max=200)])
    author = StringField(_l("Author"), validators=[Optional(), Length(max=200)])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])
    min_chars = IntegerField(_l("Shortest note (characters)"), default=300, validators=[InputRequired()])
    tag = StringField(
        _l("Knowledge point of its questions"),
        validators=[Optional(), Length(max=50)],
    )


class NoteForm(FlaskForm):
    body = TextAreaField(_l("Reading note"), validators=[InputRequired()])


class PlanForm(FlaskForm):
    goals = TextAreaField(_l("Goals for the year"), validators=[InputRequired()])
    off_job = FloatField(LABELS[HourKind.OFF_JOB], default=0, validators=[Optional()])
    rotational = FloatField(LABELS[HourKind.ROTATIONAL], default=0, validators=[Optional()])
    collective = FloatField(LABELS[HourKind.COLLECTIVE], default=0, validators=[Optional()])
    self_study = FloatField(LABELS[HourKind.SELF_STUDY], default=0, validators=[Optional()])
    reason = StringField(_l("Reason for the new version"), validators=[Optional(), Length(max=500)])


class AssessmentForm(FlaskForm):
    grade = SelectField(_l("Grade"), choices=[])
    appraisal = TextAreaField(_l("Written appraisal"), validators=[InputRequired()])
    reason = StringField(_l("Reason for the new version"), validators=[Optional(), Length(max=500)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.grade.choices = options((g, label(g)) for g in AssessmentGrade)


class YearForm(FlaskForm):
    year = IntegerField(_l("Year"), validators=[InputRequired()])
    required_hours = FloatField(_l("Required hours"), validators=[InputRequired()])
    practice_hours_cap = FloatField(_l("Practice hours that count as self-study (at most)"), default=0,
                                    validators=[Optional()])  # fmt: skip
