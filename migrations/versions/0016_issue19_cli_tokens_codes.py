"""placeholder for the command-line work of issue 19 (API-only tokens, stable question codes); or a no-op

Revision ID: f16a19c1e002
Revises: f15a19d0b001
Create Date: 2026-12-03 14:00:00
"""

revision = "f16a19c1e002"
down_revision = "f15a19d0b001"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
