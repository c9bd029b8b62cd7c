"""An exam's roster frozen at its close: the people who could sit it, with their unit at that moment

Revision ID: f20a22b0a001
Revises: f19a21d0a001
Create Date: 2026-12-04 16:00:00
"""

from alembic import op
import sqlalchemy as sa

revision = "f20a22b0a001"
down_revision = "f19a21d0a001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "exam_roster_freezes",
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["exam_id"], ["exams.id"], name=op.f("fk_exam_roster_freezes_exam_id_exams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("exam_id", name=op.f("pk_exam_roster_freezes")),
    )
    op.create_table(
        "exam_roster",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("unit_path", sa.String(length=255), nullable=True),
        sa.Column("unit_name", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["exam_id"], ["exams.id"], name=op.f("fk_exam_roster_exam_id_exams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_exam_roster_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_exam_roster_unit_id_units"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exam_roster")),
        sa.UniqueConstraint("exam_id", "user_id", name="uq_exam_roster_exam_user"),
    )
    op.create_index("ix_exam_roster_exam_unit_user", "exam_roster", ["exam_id", "unit_id", "user_id"])
    op.create_index(op.f("ix_exam_roster_user_id"), "exam_roster", ["user_id"])


def downgrade():
    op.drop_index(op.f("ix_exam_roster_user_id"), table_name="exam_roster")
    op.drop_index("ix_exam_roster_exam_unit_user", table_name="exam_roster")
    op.drop_table("exam_roster")
    op.drop_table("exam_roster_freezes")
