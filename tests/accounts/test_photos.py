"""Profile photos: uploaded by whoever manages the cadre (checked by content, resized, stored as JPEG), removed,
and served to whoever may read the profile and to the cadre themselves, never cached publicly."""

import io

from PIL import Image
from sqlalchemy import LargeBinary, select, type_coerce

from accounts.models import CadrePhoto
from core.audit import AuditEvent
from tests.factories import make_cadre, make_unit


def _image(fmt="PNG", size=(600, 900), mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 30) if mode == "RGB" else None).save(out, fmt)
    return out.getvalue()


def _upload(client, cadre, data: bytes, filename="photo.png"):
    return client.post_form(
        f"/admin/cadres/{cadre.id}/photo/upload",
        {"photo": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def _login(auth, db, role, **kwargs):
    user = auth.login_as(role, **kwargs)
    user.locale = "en"
    db.session.commit()
    return user


def test_an_upload_is_resized_and_stored_as_jpeg(client, auth, db):
    unit = make_unit()
    cadre = make_cadre(unit=unit)
    db.session.commit()
    _login(auth, db, "unit_admin", unit=unit)
    response = _upload(client, cadre, _image("PNG", (600, 900), "RGBA"))
    assert response.status_code == 302 and response.headers["Location"].endswith("#photo")
    photo = db.session.get(CadrePhoto, cadre.id)
    assert photo.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(photo.data)) as stored:
        assert stored.format == "JPEG" and stored.size == (320, 480)
    raw = db.session.scalar(select(type_coerce(CadrePhoto.data, LargeBinary)).where(CadrePhoto.cadre_id == cadre.id))
    assert raw.startswith(b"gAAAA") and b"JFIF" not in raw  # encrypted at rest, as the ID numbers are
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "cadre.photo_set")).target == (
        f"user:{cadre.user_id}"
    )
    html = client.get(f"/admin/cadres/{cadre.id}/edit").get_data(as_text=True)
    assert f"/admin/cadres/{cadre.id}/photo?v=" in html and "Remove photo" in html
    served = client.get(f"/admin/cadres/{cadre.id}/photo")
    assert served.status_code == 200 and served.mimetype == "image/jpeg" and served.data == photo.data
    assert "private" in served.headers["Cache-Control"] and served.headers["X-Content-Type-Options"] == "nosniff"
    again = client.get(f"/admin/cadres/{cadre.id}/photo", headers={"If-None-Match": served.headers["ETag"]})
    assert again.status_code == 304
    # A small JPEG is kept at its size (still re-encoded).
    assert _upload(client, cadre, _image("JPEG", (120, 160)), "small.jpg").status_code == 302
    db.session.expire_all()
    with Image.open(io.BytesIO(db.session.get(CadrePhoto, cadre.id).data)) as stored:
        assert stored.size == (120, 160)


def test_bad_files_are_refused_by_content(client, auth, db):
    cadre = make_cadre()
    db.session.commit()
    _login(auth, db, "org_admin")
    cases = [
        (b"GIF89a not a picture", "photo.png"),  # named .png, is not an image
        (_image("GIF", (50, 50), "P"), "photo.gif"),  # a real image of another format
        (_image("BMP", (50, 50)), "photo.jpg"),
    ]
    for data, name in cases:
        response = _upload(client, cadre, data, name)
        assert response.status_code == 302
        html = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "The photo must be a JPEG or PNG image." in html or "larger than 2 MB" in html, name
    assert client.post_form(f"/admin/cadres/{cadre.id}/photo/upload", {}).status_code == 302  # no file: a message
    assert db.session.get(CadrePhoto, cadre.id) is None
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "cadre.photo_set")) is None


def test_removal_and_who_may_see_the_photo(client, auth, db):
    town, other = make_unit("青山镇"), make_unit("柳河镇")
    cadre = make_cadre(unit=town)
    db.session.add(CadrePhoto(cadre_id=cadre.id, mimetype="image/jpeg", data=_image("JPEG", (30, 40))))
    db.session.commit()
    # The cadre sees their own photo, at their own address, and nobody else's.
    auth.login(cadre.user.username)
    assert client.get("/account/photo").data == db.session.get(CadrePhoto, cadre.id).data
    assert client.get(f"/admin/cadres/{cadre.id}/photo").status_code == 403
    assert client.post_form(f"/admin/cadres/{cadre.id}/photo/remove").status_code == 403
    auth.logout()
    # A unit admin of another unit (also a cadre there) neither sees nor removes it.
    _login(auth, db, "unit_admin", unit=other)
    assert client.get(f"/admin/cadres/{cadre.id}/photo").status_code == 403
    assert client.post_form(f"/admin/cadres/{cadre.id}/photo/remove").status_code == 403
    assert "/static/img/no-photo" in client.get("/account/photo").headers["Location"]  # has none
    auth.logout()
    _login(auth, db, "unit_admin", unit=town)
    assert client.post(f"/admin/cadres/{cadre.id}/photo/remove").status_code == 400  # no CSRF token
    assert db.session.get(CadrePhoto, cadre.id) is not None
    assert client.post_form(f"/admin/cadres/{cadre.id}/photo/remove").status_code == 302
    db.session.expire_all()
    assert db.session.get(CadrePhoto, cadre.id) is None
    assert client.get(f"/admin/cadres/{cadre.id}/photo").status_code == 404
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "cadre.photo_removed")) is not None


def test_a_photo_over_2_mb_is_refused_before_it_is_decoded(app):
    import pytest

    from accounts import photos
    from core.errors import DomainError

    with pytest.raises(DomainError) as caught:
        photos.make_jpeg(b"\xff\xd8\xff" + b"0" * (2 * 1024 * 1024))
    assert caught.value.problems[0][0] == "photo" and "2 MB" in str(caught.value.message)
    assert photos.make_jpeg(_image("PNG", (100, 100)))[:2] == b"\xff\xd8"
