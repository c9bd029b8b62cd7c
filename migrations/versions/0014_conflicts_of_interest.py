"""conflicts of interest: the written reason to keep a candidate who holds rights over the exam's pool

Revision ID: e5f27a9c3b18
Revises: d84b1f6e2a93
Create Date: 2026-12-03 10:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "e5f27a9c3b18"
down_revision = "d84b1f6e2a93"
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN on both databases (no table copy on SQLite).
    op.add_column("exam_candidates", sa.Column("conflict_reason", sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table("exam_candidates", schema=None) as batch_op:
        batch_op.drop_column("conflict_reason")
