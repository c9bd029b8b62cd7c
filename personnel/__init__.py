"""Cadre data from the department's own systems: 干部任免审批表 (.lrmx) forms imported into profiles and archives.

It sits above accounts and the archive (it writes both through their services); nothing below imports it.
"""

from flask import Blueprint

bp = Blueprint("personnel", __name__)

from personnel import jobs, views  # noqa: E402,F401
