"""Cadres' profile photos (shown on the admission ticket and at the check-in): checked by their content, made
small, kept as JPEG in CadrePhoto."""

import io
from datetime import datetime

from flask_babel import gettext as _
from PIL import Image, ImageOps
from sqlalchemy import select

from accounts.models import Cadre, CadrePhoto
from core import audit
from core.errors import DomainError
from core.extensions import db

MAX_BYTES = 2 * 1024 * 1024
MAX_HEIGHT = 480
#: Pillow's names of the formats accepted (whatever the file is called or says it is).
FORMATS = {"JPEG", "PNG"}
#: A photo never needs more pixels than this; larger images are refused before they are decoded (decompression bombs).
MAX_PIXELS = 12_000_000  # a phone's photo; a 2 MB PNG of more would decode to hundreds of MB


def _refuse(message) -> DomainError:
    return DomainError(message, code="bad_photo", problems=(("photo", message),))


def make_jpeg(data: bytes) -> bytes:
    """The photo as a JPEG at most MAX_HEIGHT pixels high; refuses anything that is not a JPEG or PNG image of at
    most 2 MB, by its content."""
    if len(data) > MAX_BYTES:
        raise _refuse(_("The photo is larger than 2 MB."))
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in FORMATS:
                raise _refuse(_("The photo must be a JPEG or PNG image."))
            if image.width * image.height > MAX_PIXELS:
                raise _refuse(_("The photo has too many pixels."))
            image.load()
            image = ImageOps.exif_transpose(image)
            if image.height > MAX_HEIGHT:
                width = max(1, round(image.width * MAX_HEIGHT / image.height))
                image = image.resize((width, MAX_HEIGHT), Image.Resampling.LANCZOS)
            if image.mode != "RGB":
                background = Image.new("RGB", image.size, "white")
                rgba = image.convert("RGBA")
                background.paste(rgba, mask=rgba.getchannel("A"))
                image = background
            out = io.BytesIO()
            image.save(out, "JPEG", quality=85, optimize=True)
            return out.getvalue()
    except DomainError:
        raise
    except Exception:  # noqa: BLE001  (a damaged image or its EXIF can raise anything from deep in Pillow)
        raise _refuse(_("The photo must be a JPEG or PNG image.")) from None


def photo_of(cadre: Cadre) -> CadrePhoto | None:
    return db.session.get(CadrePhoto, cadre.id)


def set_photo(cadre: Cadre, data: bytes, *, actor, now: datetime) -> CadrePhoto:
    """Store (or replace) the cadre's photo; audited."""
    return set_photos([(cadre, make_jpeg(data))], actor=actor, now=now)[0]


def set_photos(items, *, actor, now: datetime) -> list[CadrePhoto]:
    """Store (or replace) the photos of many cadres at once, each audited (a batch import). `items`: (cadre, JPEG
    made by `make_jpeg` in this process): the caller made them, so they are not decoded a second time."""
    ids = [cadre.id for cadre, _jpeg in items]
    existing = {}
    for start in range(0, len(ids), 500):
        query = select(CadrePhoto).where(CadrePhoto.cadre_id.in_(ids[start : start + 500]))
        existing.update({p.cadre_id: p for p in db.session.scalars(query)})
    stored = []
    for cadre, jpeg in items:
        photo = existing.get(cadre.id)
        if photo is None:
            photo = CadrePhoto(cadre_id=cadre.id, mimetype="image/jpeg", data=jpeg, updated_at=now)
            db.session.add(photo)
        else:
            photo.mimetype, photo.data, photo.updated_at = "image/jpeg", jpeg, now
        audit.record("cadre.photo_set", actor=actor, target=f"user:{cadre.user_id}", at=now)
        stored.append(photo)
    db.session.flush()
    return stored


def remove_photo(cadre: Cadre, *, actor, now: datetime) -> bool:
    """Remove the cadre's photo (False: there was none); audited."""
    photo = photo_of(cadre)
    if photo is None:
        return False
    db.session.delete(photo)
    db.session.flush()
    audit.record("cadre.photo_removed", actor=actor, target=f"user:{cadre.user_id}", at=now)
    return True
