"""immutable exam records

Revision ID: d84b1f6e2a93
Revises: c3a9e2d41f07
Create Date: 2026-12-03 10:30:00

PLACEHOLDER: filled in by the work on issue 18.
"""

from alembic import op  # noqa: F401

revision = "d84b1f6e2a93"
down_revision = "c3a9e2d41f07"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
