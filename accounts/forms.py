"""Forms of the accounts pages. Choices that depend on the viewer (units in scope) are set by the view."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from accounts.models import LABELS, CadreStatus, Education, Gender, PoliticalStatus, Rank, UnitKind
from accounts.queries import AGE_BANDS
from core.forms import options
from core.policy import API_SCOPES, ROLE_LABELS, Role


def enum_choices(enum, blank: str | None = None):
    choices = [(v.value, LABELS[v]) for v in enum]
    return options([("", blank)] + choices if blank is not None else choices)


AGE_BAND_LABELS = {
    "under35": _l("Under 35"),
    "35to44": _l("35 to 44"),
    "45to54": _l("45 to 54"),
    "55plus": _l("55 and over"),
}
assert set(AGE_BAND_LABELS) == set(AGE_BANDS)


class LoginForm(FlaskForm):
    username = StringField(_l("Employee number"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])
    submit = SubmitField(_l("Log in"))


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("new", message=_l("The two new passwords do not match."))],
    )
    submit = SubmitField(_l("Change password"))


class LanguageForm(FlaskForm):
    locale = HiddenField(validators=[DataRequired()])
    next = HiddenField()


class CadreForm(FlaskForm):
    employee_number = StringField(_l("Employee number"), validators=[DataRequired(), Length(max=32)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)])
    gender = SelectField(_l("Gender"), choices=enum_choices(Gender))
    birth_date = DateField(_l("Birth date"), validators=[DataRequired()])
    unit_id = SelectField(_l("Unit"), coerce=int, validate_choice=True)
    rank = SelectField(_l("Rank"), choices=enum_choices(Rank))
    position = StringField(_l("Position"), validators=[Optional(), Length(max=100)])
    education = SelectField(_l("Education"), choices=enum_choices(Education))
    political_status = SelectField(_l("Political status"), choices=enum_choices(PoliticalStatus))
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=20)])
    #: On an existing profile, an empty field keeps the number kept (never sent to the page); these remove it.
    remove_phone = BooleanField(_l("Remove the phone number"))
    id_number = StringField(_l("ID number"), validators=[Optional(), Length(max=24)])
    remove_id_number = BooleanField(_l("Remove the ID number"))
    status = SelectField(_l("Status"), choices=enum_choices(CadreStatus))
    submit = SubmitField(_l("Save"))


class CadreFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    q = StringField(_l("Search"), validators=[Optional(), Length(max=64)])
    unit = SelectField(_l("Unit"), coerce=str, validate_choice=False)
    rank = SelectField(_l("Rank"), choices=enum_choices(Rank, blank=_l("All ranks")), validate_choice=False)
    age = SelectField(
        _l("Age"), choices=options([("", _l("All ages")), *AGE_BAND_LABELS.items()]), validate_choice=False
    )
    inactive = SelectField(
        _l("Accounts"),
        choices=options([("", _l("Active only")), ("1", _l("Include deactivated"))]),
        validate_choice=False,
    )


class ImportUploadForm(FlaskForm):
    file = FileField(
        _l("Workbook (.xlsx)"),
        validators=[FileRequired(), FileAllowed(["xlsx"], _l("Please upload an .xlsx workbook."))],
    )
    submit = SubmitField(_l("Check the file"))


class UnitForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32)])
    name = StringField(_l("Unit name"), validators=[DataRequired(), Length(max=100)])
    kind = SelectField(_l("Kind"), choices=enum_choices(UnitKind))
    parent_id = SelectField(_l("Parent unit"), coerce=int)
    sort_order = IntegerField(_l("Order"), default=0, validators=[Optional(), NumberRange(min=0, max=9999)])
    submit = SubmitField(_l("Save"))


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=options((r.value, ROLE_LABELS[r]) for r in Role))
    unit_id = SelectField(_l("Unit (unit administrators only)"), coerce=int)
    submit = SubmitField(_l("Grant role"))


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    actor = StringField(_l("Who"), validators=[Optional(), Length(max=64)])
    action = SelectField(_l("Action"), coerce=str, validate_choice=False)
    target = StringField(_l("Target"), validators=[Optional(), Length(max=128)])
    ip = StringField(_l("From address"), validators=[Optional(), Length(max=64)])
    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("To"), validators=[Optional()])

    @staticmethod
    def _plausible(field):
        if field.data is not None and not 2000 <= field.data.year <= 2999:
            raise ValidationError(_l("Please give a day between the years 2000 and 2999."))

    def validate_since(self, field):
        self._plausible(field)

    def validate_until(self, field):
        self._plausible(field)


class PhotoForm(FlaskForm):
    photo = FileField(
        _l("Photo (JPEG or PNG, at most 2 MB)"),
        validators=[FileRequired(_l("Choose a photo to upload."))],
    )


class SystemAccountForm(FlaskForm):
    """An account for another system (accounts.system): its unit bounds what its tokens reach (none: the district)."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(min=2, max=32)])
    name = StringField(_l("Which system"), validators=[DataRequired(), Length(max=64)])
    unit_id = SelectField(_l("Reaches (a unit's subtree, or the whole district)"), coerce=int)
    create = SubmitField(_l("Create the system account"))


class SystemTokenForm(FlaskForm):
    name = StringField(_l("What is it for?"), validators=[DataRequired(), Length(max=100)])
    scopes = SelectMultipleField(
        _l("What the token may do"), choices=options(API_SCOPES.items()), validators=[DataRequired()],
        widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
    )  # fmt: skip
    mint = SubmitField(_l("Make a token"))
