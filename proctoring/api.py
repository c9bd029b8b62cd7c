"""The exam page's snapshot upload (JSON API, beside exam.api's attempt endpoints)."""

from flask import Blueprint, abort, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from core.api import api_route, closed_object
from core.errors import DomainError
from core.extensions import db
from core.models import now_utc
from core.policy import login_required
from exam.api import CLIENT_HEADER, client_of_request
from exam.models import Attempt
from exam.review import iso
from proctoring import snapshots
from proctoring.models import SNAPSHOT_REASONS

api_bp = Blueprint("proctoring_api", __name__, url_prefix="/api/v1")

SNAPSHOT_REQUEST = closed_object({
    "reason": {"type": "string", "enum": list(SNAPSHOT_REASONS)},
    "image": {"type": "string", "maxLength": snapshots.MAX_BYTES * 4 // 3 + 64,
              "description": "the JPEG in base64, or a data:image/jpeg;base64 URL (canvas.toDataURL)"},
})  # fmt: skip
SNAPSHOT_RESPONSE = closed_object({"id": {"type": "integer"}, "taken_at": {"type": "string", "format": "date-time"}})


@api_route(
    api_bp, "/attempts/<int:attempt_id>/snapshots", ["POST"],
    summary="Upload a camera snapshot of an attempt in progress (where its exam takes them, with consent)",
    request=SNAPSHOT_REQUEST, responses={201: SNAPSHOT_RESPONSE}, errors=(409, 429), parameters=(CLIENT_HEADER,),
    description="A JPEG of at most 200 KB and 1280×960 pixels; at most one every 5 seconds per attempt.",
)  # fmt: skip
@login_required
def snapshot_upload(attempt_id: int):
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or attempt.user_id != current_user.id:
        abort(404)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("reason"), str) or "image" not in body:
        raise DomainError(_("The request needs the snapshot's reason and image."), code="bad_request")
    data = snapshots.decode(body["image"])
    shot = snapshots.store(attempt, data, body["reason"], now_utc(), client=client_of_request())
    return jsonify(id=shot.id, taken_at=iso(shot.taken_at)), 201
