"""Learning archives: training records, reading notes, annual assessment, qualifications (built in a later issue)."""

from flask import Blueprint

bp = Blueprint("archive", __name__, url_prefix="/archive")
