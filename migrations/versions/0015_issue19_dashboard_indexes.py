"""placeholder for the admin dashboard's indexes (issue 19); filled in by that work or left a no-op

Revision ID: f15a19d0b001
Revises: e5f27a9c3b18
Create Date: 2026-12-03 14:00:00
"""

revision = "f15a19d0b001"
down_revision = "e5f27a9c3b18"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
