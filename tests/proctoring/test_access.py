"""The access matrix of proctoring: the settings page, an attempt's snapshot timeline, a snapshot's image, the
profile photo beside it and the snapshot upload, for every role, the candidate, the proctor of the candidate's
room and the proctor of another room, and people of several roles: an org admin who is also a candidate of the
exam (a conflict of interest), a grader and a unit admin of the candidate's unit (who may see nothing of it).

Snapshots reach only the district's exam managers and the proctors of the candidate's room: never the candidate
(the API takes their uploads, nothing gives them back), other candidates, graders or unit admins as such."""

import base64

import pytest
from itsdangerous import URLSafeTimedSerializer

from accounts.models import CadrePhoto
from core.extensions import db as _db
from core.models import now_utc
from core.policy import Role
from exam import attempts
from proctoring import services, snapshots
from sitting import services as sitting
from tests.factories import make_cadre, make_open_exam, make_sitting, make_user

ANON = "anonymous"
OWNER = "owner"  # the candidate whose attempt it is
HERE = "proctor_here"  # a proctor of the candidate's room (and a cadre)
THERE = "proctor_there"  # a proctor of the other room of the session
SITTING = "org_admin+candidate"  # an org admin who is also a candidate of the exam
UNIT = "unit_admin_of_unit"  # a unit admin of the candidate's own unit
ROLES = [ANON, OWNER, *[r.value for r in Role], HERE, THERE, SITTING, UNIT]
DISTRICT = {"system_admin", "org_admin"}
SEE = DISTRICT | {HERE}

# endpoint -> (method, url template, who gets a success); written out by hand, not derived from the code.
ROUTES = {
    "proctoring.settings": ("GET", "/proctoring/exams/{exam}/settings", DISTRICT),
    "proctoring.settings#post": ("POST", "/proctoring/exams/{exam}/settings", DISTRICT),
    "proctoring.timeline": ("GET", "/proctoring/attempts/{attempt}/snapshots", SEE),
    "proctoring.image": ("GET", "/proctoring/snapshots/{snapshot}.jpg?t={token}", SEE),
    "proctoring.profile_photo": ("GET", "/proctoring/attempts/{attempt}/photo", SEE),
    "proctoring_api.snapshot_upload": ("POST", "/api/v1/attempts/{attempt}/snapshots", {OWNER}),
}


def world(jpeg: bytes) -> dict:
    exam, candidate = make_open_exam(code="PX1", qtypes=("single",))
    session, rooms = make_sitting(exam, rooms=2, capacity=10)
    services.update_settings(exam, actor=None, now=now_utc(), snapshots=True, snapshot_minutes=5)
    attempt = attempts.start_attempt(exam, candidate, now_utc())
    shot = snapshots.store(attempt, jpeg, "start", now_utc())
    _db.session.add(CadrePhoto(cadre_id=candidate.cadre.id, mimetype="image/jpeg", data=jpeg))
    here = make_user(username="proctorhere", roles=(Role.PROCTOR, Role.CADRE))
    there = make_user(username="proctorthere", roles=(Role.PROCTOR, Role.CADRE))
    sitting.assign_proctor(session, rooms[0], here, actor=None, now=now_utc())
    sitting.assign_proctor(session, rooms[1], there, actor=None, now=now_utc())
    unit = candidate.cadre.unit
    sitting_admin = make_user(username="orgsitting", roles=(Role.ORG_ADMIN, Role.CADRE))
    make_cadre(unit=unit, user=sitting_admin)  # eligible by unit: a candidate of the exam
    make_user(username="unitadmin", roles=(Role.UNIT_ADMIN,), unit=unit)
    _db.session.commit()
    people = {OWNER: candidate.username, HERE: "proctorhere", THERE: "proctorthere", SITTING: "orgsitting",
              UNIT: "unitadmin"}  # fmt: skip
    return {"exam": exam.code, "attempt": attempt.id, "snapshot": shot.id, "people": people}


def token_for(app, user_id: int, snapshot_id: int) -> str:
    return URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="qualexam snapshots").dumps([user_id, snapshot_id])


@pytest.mark.parametrize("who", ROLES)
def test_access_matrix(client, auth, db, app, small_jpeg, who):
    ids = world(small_jpeg)
    user = None
    if who in ids["people"]:
        auth.login(ids["people"][who])
        from accounts.models import User

        user = _db.session.scalar(_db.select(User).where(User.username == ids["people"][who]))
    elif who != ANON:
        user = auth.login_as(who)
    token = token_for(app, user.id if user else 0, ids["snapshot"])
    csrf, wrong = client.csrf_token(), []
    image = base64.b64encode(small_jpeg).decode()
    for route in sorted(ROUTES, key=lambda r: (ROUTES[r][0] == "POST", r)):
        method, template, allowed = ROUTES[route]
        url = template.format(token=token, **ids)
        if url.startswith("/api/"):
            response = client.post(url, json={"reason": "interval", "image": image}, headers={"X-CSRFToken": csrf})
        elif method == "GET":
            response = client.get(url)
        else:
            response = client.post_form(url, {"watermark": "y", "fullscreen_grace_seconds": "3",
                                              "inactivity_warning_seconds": "60", "snapshot_minutes": "5",
                                              "snapshot_retention_days": "30", "snapshots": "y"})  # fmt: skip
        status, location = response.status_code, response.headers.get("Location", "")
        response.close()
        if who in allowed:
            # The upload comes too soon after the start's snapshot (at most one per 5 s): refused with a 429,
            # which is the owner's alone to get.
            ok = status in (200, 201, 429) if url.startswith("/api/") else status == 200 or status == 302 and (
                "/login" not in location)  # fmt: skip
        elif who == ANON:
            ok = status == 401 if url.startswith("/api/") else status == 302 and "/login" in location
        else:
            ok = status in (403, 404)
        if not ok:
            wrong.append((route, status))
    assert wrong == []
