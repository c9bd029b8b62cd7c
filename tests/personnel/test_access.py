"""The access matrix of the .lrmx import: the upload page for every admin role (scoped later by unit), and a
check's preview and its confirmation for the person who uploaded the forms only, never another admin, whatever
their roles. The preview shows ID numbers masked, to its owner too."""

import io

import pytest
from sqlalchemy import select

from accounts import personal
from core.extensions import db as _db
from core.policy import Role
from demo.lrmx_forms import Form, software
from jobs.models import Job
from tests.factories import make_cadre, make_unit, make_user

ANON = "anonymous"
UPLOADER = "uploader"  # the org admin (also a cadre) who uploaded the forms
PEER = "org_admin_peer"  # another org admin, also a cadre
ROLES = [ANON, *[r.value for r in Role], UPLOADER, PEER]
ADMINS = {"system_admin", "org_admin", "unit_admin", UPLOADER, PEER}

# endpoint -> (method, url template, who gets a success); written out by hand, not derived from the code.
ROUTES = {
    "personnel.lrmx_upload": ("GET", "/admin/cadres/import-lrmx", ADMINS),
    "personnel.lrmx_preview": ("GET", "/admin/cadres/import-lrmx/{job}", {UPLOADER}),
    "personnel.lrmx_commit": ("POST", "/admin/cadres/import-lrmx/{job}/commit", {UPLOADER}),
}


def world(client, auth) -> dict:
    town = make_unit("青山镇", code="QSZ", kind="town")
    make_cadre(unit=town, birth_date=Form().birth, username="Q0007", name="林晓岚")
    uploader = make_user(username="uploader", roles=(Role.ORG_ADMIN, Role.CADRE))
    make_cadre(unit=town, user=uploader)
    peer = make_user(username="orgpeer", roles=(Role.ORG_ADMIN, Role.CADRE))
    make_cadre(unit=town, user=peer)
    _db.session.commit()
    auth.login("uploader")
    response = client.post_form("/admin/cadres/import-lrmx", {"files": [(io.BytesIO(software(Form())), "a.lrmx")]},
                                content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 302
    auth.logout()
    job = _db.session.scalar(select(Job).order_by(Job.id.desc()))
    return {"job": job.id, "people": {UPLOADER: "uploader", PEER: "orgpeer"}}


@pytest.mark.parametrize("who", ROLES)
def test_access_matrix(client, auth, db, app, who):
    ids = world(client, auth)
    if who in ids["people"]:
        auth.login(ids["people"][who])
    elif who != ANON:
        auth.login_as(who)
    wrong = []
    for route in sorted(ROUTES, key=lambda r: (ROUTES[r][0] == "POST", r)):
        method, template, allowed = ROUTES[route]
        url = template.format(**ids)
        response = client.get(url) if method == "GET" else client.post_form(url)
        status, location = response.status_code, response.headers.get("Location", "")
        body = response.get_data(as_text=True)
        response.close()
        if Form().id in body:
            wrong.append((route, "clear ID number"))
        if who in allowed:
            ok = status == 200 or status == 302 and "/login" not in location
            if route == "personnel.lrmx_preview":
                ok = ok and personal.mask_id_number(Form().id) in body
        elif who == ANON:
            ok = status == 302 and "/login" in location
        else:
            ok = status in (403, 404)
        if not ok:
            wrong.append((route, status))
    assert wrong == []
