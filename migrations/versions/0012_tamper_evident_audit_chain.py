"""tamper-evident audit chain

Revision ID: c3a9e2d41f07
Revises: 5a0d1e7c3b21
Create Date: 2026-12-03 10:30:00

PLACEHOLDER: filled in by the work on issue 18.
"""

from alembic import op  # noqa: F401

revision = "c3a9e2d41f07"
down_revision = "5a0d1e7c3b21"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
