"""The auth epoch: one row bumped by every change that ends an API token's access (issue 23)

Revision ID: f20a23a0a001
Revises: f20a22d0a001
Create Date: 2026-12-04 18:00:00
"""

from alembic import op
import sqlalchemy as sa

revision = "f20a23a0a001"
down_revision = "f20a22d0a001"
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        "auth_epoch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_auth_epoch_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_epoch")),
    )
    op.bulk_insert(table, [{"id": 1, "value": 0}])


def downgrade():
    op.drop_table("auth_epoch")
