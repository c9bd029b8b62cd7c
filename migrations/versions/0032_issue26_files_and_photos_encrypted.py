"""Stored files (uploads waiting for their import, jobs' downloads) and profile photos encrypted at rest (issue 26)

Revision ID: f20a26d0a001
Revises: f20a26c0a001
Create Date: 2026-12-06 17:00:00

Needs the app's keys (QE_DATA_KEYS, or the instance's personal_data_keys.json): `flask db upgrade` has them. The
rows are rewritten one at a time (an upload may be 100 MB).
"""

import sqlalchemy as sa
from alembic import op

revision = "f20a26d0a001"
down_revision = "f20a26c0a001"
branch_labels = None
depends_on = None

#: (table, its key column)
TABLES = (("stored_files", "id"), ("cadre_photos", "cadre_id"))


def _rewrite(convert) -> None:
    """`convert(data)`: the new bytes, the same bytes (nothing to do), or None (the row cannot be kept)."""
    conn = op.get_bind()
    for table, key in TABLES:  # our own names, not input
        keys = conn.execute(sa.text(f"SELECT {key} FROM {table} ORDER BY {key}")).scalars().all()
        read = sa.text(f"SELECT data FROM {table} WHERE {key} = :k")
        write = sa.text(f"UPDATE {table} SET data = :data WHERE {key} = :k").bindparams(
            sa.bindparam("data", type_=sa.LargeBinary))
        drop = sa.text(f"DELETE FROM {table} WHERE {key} = :k")
        for row_id in keys:
            data = conn.execute(read, {"k": row_id}).scalar()
            if data is None:
                continue
            data = bytes(data)
            new = convert(data)
            if new is None:
                conn.execute(drop, {"k": row_id})
            elif new != data:
                conn.execute(write, {"k": row_id, "data": new})


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
        except UnreadableValue:  # no key reads it: it cannot be served either way (a photo can be uploaded again)
            return None

    _rewrite(decrypt)
