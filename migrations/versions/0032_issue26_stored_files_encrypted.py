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
    conn = op.get_bind()
    for (file_id,) in conn.execute(sa.text("SELECT id FROM stored_files ORDER BY id")).all():
        data = conn.execute(sa.text("SELECT data FROM stored_files WHERE id = :id"), {"id": file_id}).scalar()
        if data is not None:
            conn.execute(sa.text("UPDATE stored_files SET data = :data WHERE id = :id").bindparams(
                sa.bindparam("data", type_=sa.LargeBinary)), {"id": file_id, "data": convert(bytes(data))})  # fmt: skip


def upgrade():
    from core.crypto import keyring

    _rewrite(keyring().encrypt_bytes)


def downgrade():
    from core.crypto import keyring

    _rewrite(keyring().decrypt_bytes)
