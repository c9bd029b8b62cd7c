"""Cadres' resident ID numbers, encrypted at rest with a blind index to find them (issue 26)

Revision ID: f20a26a0a001
Revises: f20a25a0a001
Create Date: 2026-12-06 03:30:00
"""

import warnings

from alembic import op
import sqlalchemy as sa
from sqlalchemy.exc import SAWarning

revision = "f20a26a0a001"
down_revision = "f20a25a0a001"
branch_labels = None
depends_on = None

IGNORED = "Skipped unsupported reflection of expression-based index"


def upgrade():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", IGNORED, SAWarning)
        with op.batch_alter_table("cadres", schema=None) as batch_op:
            batch_op.add_column(sa.Column("id_number", sa.Text(), nullable=True))
            batch_op.add_column(sa.Column("id_number_index", sa.String(length=64), nullable=True))
            batch_op.create_unique_constraint(batch_op.f("uq_cadres_id_number_index"), ["id_number_index"])


def downgrade():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", IGNORED, SAWarning)
        with op.batch_alter_table("cadres", schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f("uq_cadres_id_number_index"), type_="unique")
            batch_op.drop_column("id_number_index")
            batch_op.drop_column("id_number")
