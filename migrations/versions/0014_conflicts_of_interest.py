"""conflicts of interest

Revision ID: e5f27a9c3b18
Revises: d84b1f6e2a93
Create Date: 2026-12-03 10:30:00

PLACEHOLDER: filled in by the work on issue 18.
"""

from alembic import op  # noqa: F401

revision = "e5f27a9c3b18"
down_revision = "d84b1f6e2a93"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
