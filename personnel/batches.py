"""A batch as it waits between its upload and its import: every uploaded file packed, as sent, into one zip."""

import io
import zipfile


def pack(items: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as batch:
        for i, (name, data) in enumerate(items):
            info = zipfile.ZipInfo(f"{i:05d}/{name}")
            info.flag_bits |= 0x800  # the name is UTF-8
            batch.writestr(info, data)
    return out.getvalue()


def unpack(data: bytes) -> list[tuple[str, bytes]]:
    """The files of a packed batch (our own container, bounded by the upload that made it)."""
    with zipfile.ZipFile(io.BytesIO(data)) as batch:
        return [(info.filename.split("/", 1)[1], batch.read(info)) for info in batch.infolist()]
