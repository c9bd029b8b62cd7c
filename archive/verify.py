"""Public verification of qualification certificates: /verify/<code> shows only the holder's name, the
qualification, when it was granted and until when it is valid. Rate-limited per client address."""

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from archive import qualifications
from core.extensions import limiter
from core.models import local_today, now_utc

verify_bp = Blueprint("verify", __name__, url_prefix="/verify")


def _limit() -> str:
    return current_app.config["VERIFY_RATE_LIMIT"]


@verify_bp.route("/")
@limiter.limit(_limit)
def form():
    code = request.args.get("code", "").strip()
    if code:
        return redirect(url_for("verify.check", code=qualifications.normalise_code(code)[:40] or "-"))
    return render_template("archive/verify.html", found=None, code=None)


@verify_bp.route("/<code>")
@limiter.limit(_limit)
def check(code: str):
    now = now_utc()
    found = qualifications.verify(code, now)
    status = 200 if found else 404
    response = render_template("archive/verify.html", found=found, code=code[:40], today=local_today(now))
    return response, status, {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
