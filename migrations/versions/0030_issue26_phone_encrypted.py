"""Cadres' phone numbers encrypted at rest, as their ID numbers are (issue 26)

Revision ID: f20a26b0a001
Revises: f20a26a0a001
Create Date: 2026-12-06 04:00:00

Needs the app's keys (QE_DATA_KEYS, or the instance's personal_data_keys.json): `flask db upgrade` has them.
"""

import warnings

from alembic import op
import sqlalchemy as sa
from sqlalchemy.exc import SAWarning

revision = "f20a26b0a001"
down_revision = "f20a26a0a001"
branch_labels = None
depends_on = None

IGNORED = "Skipped unsupported reflection of expression-based index"


def _rewrite(convert) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, phone FROM cadres WHERE phone <> ''")).all()
    if rows:
        conn.execute(sa.text("UPDATE cadres SET phone = :phone WHERE id = :id"),
                     [{"id": row.id, "phone": convert(row.phone)} for row in rows])  # fmt: skip


def upgrade():
    from core.crypto import keyring

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", IGNORED, SAWarning)
        with op.batch_alter_table("cadres", schema=None) as batch_op:
            batch_op.alter_column("phone", existing_type=sa.String(length=20), type_=sa.Text(), existing_nullable=False)
    _rewrite(keyring().encrypt)


def downgrade():
    from core.crypto import keyring

    _rewrite(keyring().decrypt)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", IGNORED, SAWarning)
        with op.batch_alter_table("cadres", schema=None) as batch_op:
            batch_op.alter_column("phone", existing_type=sa.Text(), type_=sa.String(length=20), existing_nullable=False)
