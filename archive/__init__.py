"""Learning archives: training records, reading notes, annual assessment, qualifications (most built in a later
issue); exam results are written here by the exam engine."""

from flask import Blueprint

bp = Blueprint("archive", __name__, url_prefix="/archive")

from archive import models  # noqa: E402,F401  (the tables belong to the schema)
