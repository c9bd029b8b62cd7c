"""Forms of the question-bank pages. Unit and category choices depend on the viewer and are set by the view."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, FloatField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from core.forms import options
from question_bank.formats import FORMAT_LABELS
from question_bank.models import STATUS_LABELS, USAGE_LABELS, QuestionUsage
from question_bank.types import LETTERS, MAX_OPTIONS, QUESTION_TYPES, BadKey, Content, FillMatching, letters_to_indexes


class BankForm(FlaskForm):
    code = StringField(_l("Bank code"), validators=[DataRequired(), Length(max=32)])
    name = StringField(_l("Bank name"), validators=[DataRequired(), Length(max=100)])
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=50)])
    owner_unit_id = SelectField(_l("Owning unit"), coerce=int)
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])


class CategoryForm(FlaskForm):
    name = StringField(_l("Category name"), validators=[DataRequired(), Length(max=100)])
    parent_id = SelectField(_l("Under"), coerce=int)


class QuestionForm(FlaskForm):
    stem = TextAreaField(_l("Stem"), validators=[DataRequired(), Length(max=20000)])
    # Fields of other question types are not on the page: each is optional here, and the type's own rules
    # (question_bank.types) say what its key needs.
    option_count = IntegerField(
        _l("Number of options"), default=4, validators=[Optional(), NumberRange(min=2, max=MAX_OPTIONS)]
    )
    correct = SelectField(
        _l("Right option"), choices=options((str(i), LETTERS[i]) for i in range(MAX_OPTIONS)), validate_choice=False
    )
    correct_many = StringField(_l("Right options (letters, e.g. ACD)"), validators=[Optional(), Length(max=8)])
    truth = SelectField(
        _l("Answer"), choices=options([("true", _l("True")), ("false", _l("False"))]), validate_choice=False
    )
    blanks = TextAreaField(
        _l("Accepted answers"),
        description=_l("One line per blank, in order; several accepted answers on a line separated by |."),
        validators=[Optional(), Length(max=5000)],
    )
    ignore_case = BooleanField(_l("Ignore upper/lower case"), default=True)
    ignore_width = BooleanField(_l("Ignore full-width/half-width"), default=True)
    ignore_punct = BooleanField(_l("Ignore punctuation"), default=True)
    ignore_spaces = BooleanField(_l("Ignore spaces"), default=True)
    reference_answer = TextAreaField(_l("Reference answer"), validators=[Optional(), Length(max=20000)])
    scoring_points = TextAreaField(
        _l("Scoring points"), description=_l("One per line."), validators=[Optional(), Length(max=5000)]
    )
    points = FloatField(_l("Default points"), validators=[DataRequired(), NumberRange(min=0.5, max=1000)])
    difficulty = SelectField(_l("Difficulty"), coerce=int, choices=options((i, str(i)) for i in range(1, 6)), default=3)
    category_id = SelectField(_l("Category"), coerce=int)
    usage = SelectField(_l("Used for"), choices=options(USAGE_LABELS.items()), default=QuestionUsage.ANY)
    tags = StringField(_l("Knowledge points"), description=_l("Separated by commas."), validators=[Length(max=500)])
    explanation = TextAreaField(_l("Explanation"), validators=[Optional(), Length(max=20000)])
    reference = StringField(_l("Reference"), validators=[Optional(), Length(max=255)])


for _i in range(MAX_OPTIONS):
    setattr(
        QuestionForm,
        f"option_{_i}",
        TextAreaField(_l("Option %(l)s", l=LETTERS[_i]), validators=[Optional(), Length(max=5000)]),
    )


class ReviewForm(FlaskForm):
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=2000)])


class BulkForm(FlaskForm):
    action = SelectField(
        _l("With the selected questions"),
        choices=options(
            [
                ("move", _l("Move to category")),
                ("tag", _l("Add knowledge points")),
                ("difficulty", _l("Set difficulty")),
                ("retire", _l("Retire")),
            ]
        ),
    )
    category_id = SelectField(_l("Category"), coerce=int, validate_choice=False)
    tags = StringField(_l("Knowledge points"), validators=[Optional(), Length(max=500)])
    difficulty = SelectField(_l("Difficulty"), coerce=int, choices=options((i, str(i)) for i in range(1, 6)))
    ids = HiddenField()


class ImportForm(FlaskForm):
    file = FileField(_l("File"), validators=[FileRequired()])
    format = SelectField(
        _l("Format"), choices=options([("", _l("By the file name"))] + list(FORMAT_LABELS.items())), default=""
    )
    status = SelectField(_l("Imported questions are"), default="draft")


class FilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=100)])
    type = SelectField(
        _l("Type"),
        choices=options([("", _l("All types"))] + [(c, t.label) for c, t in QUESTION_TYPES.items()]),
        validate_choice=False,
    )
    difficulty = SelectField(
        _l("Difficulty"), choices=options([("", _l("Any"))] + [(str(i), str(i)) for i in range(1, 6)]),
        validate_choice=False,
    )  # fmt: skip
    category = SelectField(_l("Category"), validate_choice=False)
    tag = StringField(_l("Knowledge point"), validators=[Optional(), Length(max=50)])
    status = SelectField(
        _l("Status"),
        choices=options([("", _l("All statuses"))] + list(STATUS_LABELS.items())),
        validate_choice=False,
    )
    author = SelectField(_l("Author"), validate_choice=False)
    sort = SelectField(
        _l("Sort by"),
        choices=options(
            [
                ("newest", _l("Newest first")),
                ("oldest", _l("Oldest first")),
                ("updated", _l("Recently changed")),
                ("difficulty", _l("Easiest first")),
                ("difficulty_desc", _l("Hardest first")),
                ("exposure", _l("Most used")),
            ]
        ),
        validate_choice=False,
    )


def form_content(form: QuestionForm, qtype: str) -> Content:
    """The content a question form describes (the key in its type's shape); problems surface in services."""
    opts = []
    if QUESTION_TYPES[qtype].has_options:
        count = form.option_count.data or 4
        opts = [getattr(form, f"option_{i}").data or "" for i in range(min(count, MAX_OPTIONS))]
    settings: dict = {}
    if qtype == "single":
        choice = form.correct.data or ""
        answer: object = [int(choice)] if choice.isascii() and choice.isdigit() else []
    elif qtype == "multiple":
        try:
            answer = letters_to_indexes(form.correct_many.data or "")
        except BadKey:
            answer = []
    elif qtype == "truefalse":
        answer = form.truth.data == "true"
    elif qtype == "fill":
        lines = [line for line in (form.blanks.data or "").splitlines() if line.strip()]
        answer = [[a.strip() for a in line.split("|") if a.strip()] for line in lines]
        settings = {k: bool(getattr(form, k).data) for k in FillMatching.__dataclass_fields__}
    else:
        points = [p.strip() for p in (form.scoring_points.data or "").splitlines() if p.strip()]
        answer = {"reference": form.reference_answer.data or "", "scoring_points": points}
    return Content(
        stem=form.stem.data or "",
        options=opts,
        answer=answer,
        points=form.points.data or QUESTION_TYPES[qtype].default_points,
        explanation=form.explanation.data or "",
        reference=form.reference.data or "",
        settings=settings,
    )


def fill_form(form: QuestionForm, question, version) -> None:
    """Put a question's current version into the form (for editing)."""
    form.stem.data = version.stem
    form.points.data = float(version.points)
    form.difficulty.data = question.difficulty
    form.category_id.data = question.category_id or 0
    form.usage.data = question.usage
    form.tags.data = "，".join(t.name for t in question.tags)
    form.explanation.data = version.explanation
    form.reference.data = version.reference
    form.option_count.data = max(2, len(version.options or []))
    for i, option in enumerate(version.options or []):
        getattr(form, f"option_{i}").data = option
    key = version.answer
    if question.type == "single":
        form.correct.data = str(key[0])
    elif question.type == "multiple":
        form.correct_many.data = "".join(LETTERS[i] for i in key)
    elif question.type == "truefalse":
        form.truth.data = "true" if key else "false"
    elif question.type == "fill":
        form.blanks.data = "\n".join("|".join(accepted) for accepted in key)
        matching = FillMatching.from_settings(version.settings)
        for name in FillMatching.__dataclass_fields__:
            getattr(form, name).data = getattr(matching, name)
    else:
        form.reference_answer.data = key.get("reference", "")
        form.scoring_points.data = "\n".join(key.get("scoring_points", []))
