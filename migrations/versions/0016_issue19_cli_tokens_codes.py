"""API-only tokens: api_tokens.api_only, set by `flask accounts token --api-only`

A token minted deliberately by an administrator for an account that has not yet chosen its own password (an
imported cadre) reaches the JSON API although the account must change its password on the web.

Revision ID: f16a19c1e002
Revises: f15a19d0b001
Create Date: 2026-12-03 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "f16a19c1e002"
down_revision = "f15a19d0b001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("api_only", sa.Boolean(), server_default="0", nullable=False))


def downgrade():
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("api_only")
