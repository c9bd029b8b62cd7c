"""The access matrix of the jobs pages: every route, every role, on a job that belongs to someone else (a cadre)."""

import pytest

from core.extensions import db as _db
from core.policy import Role
from jobs import submit
from jobs.models import StoredFile
from tests.factories import make_cadre, make_unit
from tests.jobs import test_engine  # noqa: F401  (registers the test kinds)

ANON = "anonymous"
ROLES = [ANON, *[r.value for r in Role]]
DISTRICT = {"system_admin", "org_admin"}
SIGNED_IN = set(ROLES) - {ANON}

# endpoint -> (method, url template, roles allowed); written out by hand, not derived from the policy.
ROUTES = {
    "jobs.jobs": ("GET", "/jobs/", SIGNED_IN),  # everyone's own list; the district's admins see everyone's
    "jobs.detail": ("GET", "/jobs/{job}", DISTRICT),
    "jobs.job_status": ("GET", "/jobs/{job}/status", DISTRICT),
    "jobs.file": ("GET", "/jobs/{job}/files/{token}", DISTRICT),
    "jobs.cancel": ("POST", "/jobs/{job}/cancel", DISTRICT),
}


def test_every_jobs_route_is_in_the_matrix(app):
    assert {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("jobs.")} == set(ROUTES)


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(client, auth, db, role):
    unit = make_unit("青山镇")
    owner = make_cadre(unit=unit).user
    job = submit("tests.count", {"n": 2}, user=owner)
    _db.session.commit()
    token = _db.session.query(StoredFile.token).filter_by(job_id=job.id).scalar()
    if role != ANON:
        auth.login_as(role, unit=unit) if role == "unit_admin" else auth.login_as(role)
    wrong = []
    for route in sorted(ROUTES, key=lambda r: (ROUTES[r][0] == "POST", r)):
        method, template, allowed = ROUTES[route]
        url = template.format(job=job.id, token=token)
        response = client.get(url) if method == "GET" else client.post_form(url)
        status, location = response.status_code, response.headers.get("Location", "")
        if role in allowed:
            ok = status == 200 or status == 302 and "/login" not in location
        elif role == ANON:
            ok = status == 302 and "/login" in location
        else:
            ok = status == 404  # another person's job is not there for them, whatever roles they hold
        if not ok:
            wrong.append((route, status))
    assert wrong == []
