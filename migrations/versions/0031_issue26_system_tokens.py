"""System accounts and scoped tokens for the admin API (issue 26, part 2): users.system, api_tokens.scopes

Revision ID: f20a26c0a001
Revises: f20a26b0a001
Create Date: 2026-12-06 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "f20a26c0a001"
down_revision = "f20a26b0a001"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTERs (no batch copy): SQLite adds and drops a column in place, and a copy of `users` would lose its
    # expression index on lower(username).
    op.add_column("users", sa.Column("system", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("api_tokens", sa.Column("scopes", sa.String(length=300), nullable=True))


def downgrade():
    op.drop_column("api_tokens", "scopes")
    op.drop_column("users", "system")
