"""Exams: definitions, papers, attempts, timing, grading and the candidate JSON API (built in a later issue)."""

from flask import Blueprint

bp = Blueprint("exam", __name__, url_prefix="/exams")

from exam import models  # noqa: E402,F401  (the exam tables belong to the schema)
