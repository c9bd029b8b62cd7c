"""Stored files (uploads waiting for their import, jobs' downloads) encrypted at rest (issue 26)

Revision ID: f20a26d0a001
Revises: f20a26c0a001
Create Date: 2026-12-06 17:00:00

Needs the app's keys (QE_DATA_KEYS, or the instance's personal_data_keys.json): `flask db upgrade` has them. The
files are rewritten one at a time (an upload may be 100 MB).
"""

import sqlalchemy as sa
from alembic import op

revision = "f20a26d0a001"
down_revision = "f20a26c0a001"
branch_labels = None
depends_on = None


def _rewrite(convert) -> None:
    """`convert(data)`: the new bytes, the same bytes (nothing to do), or None (the file cannot be kept)."""
    conn = op.get_bind()
    for (file_id,) in conn.execute(sa.text("SELECT id FROM stored_files ORDER BY id")).all():
        data = conn.execute(sa.text("SELECT data FROM stored_files WHERE id = :id"), {"id": file_id}).scalar()
        if data is None:
            continue
        data = bytes(data)
        new = convert(data)
        if new is None:
            conn.execute(sa.text("DELETE FROM stored_files WHERE id = :id"), {"id": file_id})
        elif new != data:
            conn.execute(sa.text("UPDATE stored_files SET data = :data WHERE id = :id").bindparams(
                sa.bindparam("data", type_=sa.LargeBinary)), {"id": file_id, "data": new})  # fmt: skip


def upgrade():
    from core.crypto import UnreadableValue, keyring

    ring = keyring()

    def encrypt(data: bytes) -> bytes:
        try:  # written encrypted already (new code served before this migration ran): keep it
            ring.decrypt_bytes(data)
            return data
        except UnreadableValue:
            return ring.encrypt_bytes(data)

    _rewrite(encrypt)


def downgrade():
    from core.crypto import UnreadableValue, keyring

    ring = keyring()

    def decrypt(data: bytes) -> bytes | None:
        try:
            return ring.decrypt_bytes(data)
        except UnreadableValue:  # no key reads it: it cannot be served either way (files expire within a week)
            return None

    _rewrite(decrypt)
