"""The archive marks an exam result whose score a decision on an incident voided

Revision ID: f19a21d0a001
Revises: f18a21a0a001
Create Date: 2026-12-03 21:00:00
"""

from alembic import op
import sqlalchemy as sa

revision = "f19a21d0a001"
down_revision = "f18a21a0a001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("archive_exam_results") as batch:
        batch.add_column(sa.Column("voided", sa.Boolean(), nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("archive_exam_results") as batch:
        batch.drop_column("voided")
