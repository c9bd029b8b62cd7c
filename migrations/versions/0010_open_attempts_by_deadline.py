"""open attempts by deadline (the finalizer's sweep)

Revision ID: 2bc502beca03
Revises: 7c8e89bdbe11
Create Date: 2026-12-01 19:24:41.716436

"""

import sqlalchemy as sa
from alembic import op

revision = "2bc502beca03"
down_revision = "7c8e89bdbe11"
branch_labels = None
depends_on = None

OPEN = sa.text("status = 'in_progress'")


def upgrade():
    op.create_index("ix_attempts_open_deadline", "attempts", ["deadline_at"], sqlite_where=OPEN, postgresql_where=OPEN)


def downgrade():
    op.drop_index("ix_attempts_open_deadline", table_name="attempts")
