"""Grading off the submit request: when an attempt's objective items were last graded (issue 23)

Revision ID: f20a23b0a001
Revises: f20a23a0a001
Create Date: 2026-12-05 08:00:00

A candidate's submit records the end and leaves grading to a job (exam.grading): an ended attempt whose
`graded_at` is empty waits for it. Attempts ended before this revision were graded as they ended. A partial index
keeps the waiting ones (a handful, even in a deadline burst) one indexed read away. The column is grading's to
write: migration 0013's trigger on finalized attempts does not guard it.
"""

from alembic import op
import sqlalchemy as sa

revision = "f20a23b0a001"
down_revision = "f20a23a0a001"
branch_labels = None
depends_on = None

WAITING = "graded_at IS NULL AND status <> 'in_progress'"


def upgrade():
    op.add_column("attempts", sa.Column("graded_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE attempts SET graded_at = ended_at WHERE status <> 'in_progress'")
    op.create_index("ix_attempts_grading_due", "attempts", ["exam_id", "ended_at"],
                    sqlite_where=sa.text(WAITING), postgresql_where=sa.text(WAITING))  # fmt: skip


def downgrade():
    op.drop_index("ix_attempts_grading_due", table_name="attempts")
    op.drop_column("attempts", "graded_at")
