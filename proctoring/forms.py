from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, TextAreaField
from wtforms.validators import InputRequired, Optional


class ProctoringForm(FlaskForm):
    watermark = BooleanField(_l("Watermark the paper with the candidate's name, employee number and the time"))
    fullscreen = BooleanField(_l("Take the paper in full screen"))
    fullscreen_grace_seconds = IntegerField(_l("Ignore a leave of full screen shorter than (seconds)"), default=3,
                                            validators=[InputRequired()])  # fmt: skip
    fullscreen_exit_limit = IntegerField(_l("Submit automatically after this many leaves of full screen"),
                                         validators=[Optional()], description=_l("Empty: never."))  # fmt: skip
    inactivity_minutes = IntegerField(_l("Warn after this many minutes without any input"), validators=[Optional()],
                                      description=_l("Empty: off."))  # fmt: skip
    inactivity_warning_seconds = IntegerField(_l("The warning's countdown (seconds)"), default=60,
                                              validators=[InputRequired()])  # fmt: skip
    inactivity_submit = BooleanField(_l("Submit the paper when the countdown ends"))
    snapshots = BooleanField(_l("Take camera snapshots (with the candidate's consent)"))
    snapshot_minutes = IntegerField(
        _l("A snapshot every (minutes)"),
        default=5,
        validators=[InputRequired()],
        description=_l("Also one at the start and one at each leave of the page."),
    )
    camera_required = BooleanField(_l("Refuse the start without consent and a camera"))
    snapshot_retention_days = IntegerField(_l("Keep the snapshots for (days after the close)"), default=90,
                                           validators=[InputRequired()])  # fmt: skip
    networks = TextAreaField(_l("Allowed networks"), validators=[Optional()],
                             description=_l("Address ranges (CIDR), e.g. 10.12.0.0/16, separated by commas or lines; "
                                            "empty: any network."))  # fmt: skip
