"""Images in questions: checked by content (not by name), stored under instance/, named by their SHA-256."""

import hashlib
import os
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _

from core.errors import DomainError
from question_bank.richtext import IMAGE_URL_PREFIX

MAX_IMAGE_BYTES = 2 * 1024 * 1024
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)


def image_dir() -> Path:
    path = Path(current_app.instance_path) / "question_images"
    path.mkdir(parents=True, exist_ok=True)
    return path


def sniff(data: bytes) -> str | None:
    for signature, ext in _SIGNATURES:
        if data.startswith(signature):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def store_image(data: bytes) -> str:
    """Keep an uploaded image and return its URL. Only PNG, JPEG, GIF and WebP up to 2 MB are taken."""
    if len(data) > MAX_IMAGE_BYTES:
        raise DomainError(_("The image is larger than 2 MB."), code="image_too_large")
    ext = sniff(data)
    if ext is None:
        raise DomainError(_("Only PNG, JPEG, GIF and WebP images are accepted."), code="image_type")
    name = f"{hashlib.sha256(data).hexdigest()}.{ext}"
    path = image_dir() / name
    if not path.exists():
        tmp = path.with_name(f"{name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # whole or not at all: a half-written file never gets the final name
    return IMAGE_URL_PREFIX + name


MIMETYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
