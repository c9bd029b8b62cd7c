"""indexes for the admin dashboard's figures (issue 19): an open exam's candidates sitting and submitted, read from
one index (exam, status, user); the ended attempts still waiting for a grader and the answers without points, two
small partial indexes, so the answers waiting per exam are counted without reading the scored ones; the reading
notes waiting for review (partial); and covering indexes of cadres by unit and of the cadres' yearly figures, so
the completion by unit reads indexes only

Revision ID: f15a19d0b001
Revises: e5f27a9c3b18
Create Date: 2026-12-03 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "f15a19d0b001"
down_revision = "e5f27a9c3b18"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_attempts_exam_status_user", "attempts", ["exam_id", "status", "user_id"])
    op.create_index(
        "ix_attempts_awaiting_grading",
        "attempts",
        ["exam_id", "user_id", "id"],
        sqlite_where=sa.text("fully_graded = 0 AND status != 'in_progress'"),
        postgresql_where=sa.text("fully_graded = false AND status <> 'in_progress'"),
    )
    op.create_index(
        "ix_answers_ungraded",
        "answers",
        ["attempt_id"],
        sqlite_where=sa.text("points IS NULL"),
        postgresql_where=sa.text("points IS NULL"),
    )

    # The unit figures over every serving cadre (completion by unit) read covering indexes, not the tables.
    op.create_index("ix_cadres_unit_status_user", "cadres", ["unit_id", "status", "user_id", "id"])
    op.create_index(
        "ix_archive_cadre_years_figures",
        "archive_cadre_years",
        ["year", "user_id", "hours", "notes_passed", "grade", "acknowledged"],
    )
    op.create_index(
        "ix_reading_notes_pending",
        "reading_notes",
        ["book_id", "user_id"],
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade():
    op.drop_index("ix_reading_notes_pending", table_name="reading_notes")
    op.drop_index("ix_archive_cadre_years_figures", table_name="archive_cadre_years")
    op.drop_index("ix_cadres_unit_status_user", table_name="cadres")
    op.drop_index("ix_answers_ungraded", table_name="answers")
    op.drop_index("ix_attempts_awaiting_grading", table_name="attempts")
    op.drop_index("ix_attempts_exam_status_user", table_name="attempts")
