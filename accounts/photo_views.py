"""Cadres' profile photos: upload and removal by whoever manages the cadre, and the photo itself for whoever may
read the profile (and the cadre). The sitting shows it to proctors at the check-in through a route of its own."""

from flask import Response, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from accounts import bp, photos
from accounts.forms import PhotoForm
from accounts.models import Cadre
from core import policy
from core.errors import DomainError
from core.extensions import db
from core.forms import ActionForm
from core.models import now_utc
from core.policy import login_required, permission_required


def _cadre(cadre_id: int, action: str) -> Cadre:
    cadre = db.session.get(Cadre, cadre_id) or abort(404)
    policy.require(action, cadre)
    return cadre


def _send(photo, cadre: Cadre) -> Response:
    response = Response(photo.data, mimetype=photo.mimetype)
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.set_etag(f"p{cadre.id}-{int(photo.updated_at.timestamp())}")
    return response.make_conditional(request)


@bp.route("/admin/cadres/<int:cadre_id>/photo")
@permission_required("cadre.view")
def cadre_photo(cadre_id: int):
    cadre = _cadre(cadre_id, "cadre.view")
    return _send(photos.photo_of(cadre) or abort(404), cadre)


@bp.route("/account/photo")
@login_required
def own_photo():
    """The signed-in person's own photo (a silhouette when they have none)."""
    cadre = current_user.cadre
    photo = photos.photo_of(cadre) if cadre is not None else None
    if photo is None:
        return redirect(url_for("static", filename="img/no-photo.svg"))
    return _send(photo, cadre)


@bp.route("/admin/cadres/<int:cadre_id>/photo/upload", methods=["POST"])
@permission_required("cadre.manage")
def cadre_photo_upload(cadre_id: int):
    cadre = _cadre(cadre_id, "cadre.manage")
    form = PhotoForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            flash(" ".join(str(e) for e in errors), "error")
        return redirect(url_for("accounts.cadre_edit", cadre_id=cadre.id) + "#photo")
    upload = form.photo.data
    try:
        data = upload.read(photos.MAX_BYTES + 1)  # one byte more than allowed is enough to refuse
    finally:
        upload.close()  # a large upload is spooled to a temporary file: give it back now
    try:
        photos.set_photo(cadre, data, actor=current_user, now=now_utc())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("The photo of %(name)s has been saved.", name=cadre.name), "success")
    return redirect(url_for("accounts.cadre_edit", cadre_id=cadre.id) + "#photo")


@bp.route("/admin/cadres/<int:cadre_id>/photo/remove", methods=["POST"])
@permission_required("cadre.manage")
def cadre_photo_remove(cadre_id: int):
    cadre = _cadre(cadre_id, "cadre.manage")
    if not ActionForm().validate_on_submit():
        abort(400)
    if photos.remove_photo(cadre, actor=current_user, now=now_utc()):
        db.session.commit()
        flash(_("The photo of %(name)s has been removed.", name=cadre.name), "success")
    return redirect(url_for("accounts.cadre_edit", cadre_id=cadre.id) + "#photo")
