from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileRequired, MultipleFileField
from wtforms import SelectField, SubmitField

from accounts.models import LABELS, Rank
from core.forms import options

RANK_CHOICES = [("", _l("None: the post must name it"))] + [(r.value, LABELS[r]) for r in Rank]


class LrmxUploadForm(FlaskForm):
    files = MultipleFileField(_l("Forms (.lrmx files, or a .zip of a folder of them)"), validators=[FileRequired()])
    unit = SelectField(_l("Unit for new cadres"), validate_choice=False)
    rank = SelectField(_l("Rank for new cadres whose post names none"), validate_choice=False,
                       choices=options(RANK_CHOICES))  # fmt: skip
    submit = SubmitField(_l("Check the forms"))
