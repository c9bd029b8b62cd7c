"""Forms of the exam administration pages. Bank, category and unit choices depend on the data and are set by the
view; every rule about values and the exam's stage is the services' (exam.definition)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    FloatField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from accounts.models import LABELS, PoliticalStatus, Rank
from core.forms import options
from core.models import LOCAL_ZONE
from exam.models import MC_POLICY_LABELS, PAPER_MODE_LABELS, RELEASE_LABELS, REVIEW_LABELS
from question_bank.types import QUESTION_TYPES

_WHEN = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
QUALIFICATION_CHOICES = (("", _l("No: an ordinary exam")), ("political_theory", _l("Political theory part")),
                         ("job_knowledge", _l("Job knowledge part")))  # fmt: skip
_DIFFICULTY = options((i, str(i)) for i in range(1, 6))


class ExamForm(FlaskForm):
    code = StringField(_l("Exam code"), validators=[Optional(), Length(max=32)],
                       description=_l("Letters, digits, - and _; used in file names and the API."))  # fmt: skip
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=50)])
    instructions = TextAreaField(_l("Instructions"), validators=[Optional(), Length(max=20000)],
                                 description=_l("Shown to candidates before they start."))  # fmt: skip
    paper_mode = SelectField(_l("Paper"), choices=options(PAPER_MODE_LABELS.items()))
    duration_minutes = IntegerField(_l("Duration (minutes)"), default=90, validators=[InputRequired()])
    opens_at = DateTimeLocalField(_l("Opens (Beijing time)"), format=_WHEN, tz=LOCAL_ZONE,
                                  validators=[InputRequired()])  # fmt: skip
    closes_at = DateTimeLocalField(_l("Closes (Beijing time)"), format=_WHEN, tz=LOCAL_ZONE,
                                   validators=[InputRequired()])  # fmt: skip
    attempts_allowed = IntegerField(_l("Attempts allowed"), default=1, validators=[InputRequired()])
    pass_mark = FloatField(_l("Pass mark (points)"), default=60, validators=[InputRequired()])
    shuffle_questions = BooleanField(_l("Shuffle the questions within each section"), default=True)
    shuffle_options = BooleanField(_l("Shuffle the options of each question"), default=True)
    mc_policy = SelectField(_l("Multiple choice scoring"), choices=options(MC_POLICY_LABELS.items()))
    release_policy = SelectField(_l("When results are released"), choices=options(RELEASE_LABELS.items()),
                                 default="after_close")  # fmt: skip
    review_policy = SelectField(_l("After the release candidates see"), choices=options(REVIEW_LABELS.items()))
    publish_ranking = BooleanField(_l("Publish the ranking list to the candidates"), default=False,
                                   description=_l("Rank, name, unit and score, once results are released; otherwise "
                                                  "each candidate sees only their own rank."))  # fmt: skip
    focus_loss_limit = IntegerField(_l("Submit automatically after this many focus losses"),
                                    validators=[Optional()], description=_l("Empty: off."))  # fmt: skip
    qualification_part = SelectField(
        _l("Qualification exam"), choices=options(QUALIFICATION_CHOICES), default="", validate_choice=False
    )  # the service checks it
    qualification_cycle = StringField(_l("Qualification cycle"), validators=[Optional(), Length(max=32)],
                                      description=_l("e.g. 2026: passing both parts of one cycle grants the "
                                                     "qualification."))  # fmt: skip


class AccessCodeForm(FlaskForm):
    access_code = StringField(_l("New access code"), validators=[Optional(), Length(max=32)],
                              description=_l("Announced in the exam room; empty: no code."))  # fmt: skip


class EligibilityForm(FlaskForm):
    unit_ids = SelectMultipleField(_l("Units (with their sub-units)"), coerce=int, validate_choice=False)
    ranks = SelectMultipleField(_l("Ranks"), choices=options((r.value, LABELS[r]) for r in Rank))
    political_statuses = SelectMultipleField(
        _l("Political status"), choices=options((p.value, LABELS[p]) for p in PoliticalStatus)
    )
    max_age = IntegerField(_l("Under this age"), validators=[Optional()])
    age_on = DateField(_l("Age counted on"), validators=[Optional()])


class SectionForm(FlaskForm):
    title = StringField(_l("Section title"), validators=[DataRequired(), Length(max=100)])
    qtype = SelectField(_l("Question type"), choices=options((c, t.label) for c, t in QUESTION_TYPES.items()))
    points = FloatField(_l("Points per question"), default=2, validators=[InputRequired()])


class RuleForm(FlaskForm):
    bank_id = SelectField(_l("Question bank"), coerce=int)
    category_id = SelectField(_l("Category"), coerce=int, validate_choice=False, default=0)
    tag = StringField(_l("Knowledge point"), validators=[Optional(), Length(max=50)])
    difficulty_min = SelectField(_l("Difficulty from"), coerce=int, choices=_DIFFICULTY, default=1)
    difficulty_max = SelectField(_l("to"), coerce=int, choices=_DIFFICULTY, default=5)
    count = IntegerField(_l("Questions to draw"), default=10, validators=[InputRequired(), NumberRange(min=1)])


class FixedQuestionsForm(FlaskForm):
    ids = StringField(_l("Question numbers"), validators=[Optional(), Length(max=2000)],
                      description=_l("Separated by commas or spaces."))  # fmt: skip
    picked = SelectMultipleField(coerce=int, validate_choice=False)


class KeyForm(FlaskForm):
    key = StringField(_l("Correct key"), validators=[DataRequired(), Length(max=2000)],
                      description=_l("As in the import files: B; ACD; 正确 or 错误; blanks separated by ; and "
                                     "accepted answers by |."))  # fmt: skip
    reason = StringField(_l("Why"), validators=[DataRequired(), Length(max=500)])
