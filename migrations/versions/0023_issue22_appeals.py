"""Appeals during the public notice and formal corrections of final results

Revision ID: f20a22d0a001
Revises: f20a22a0a001
Create Date: 2026-12-04 16:00:00
"""

from alembic import op
import sqlalchemy as sa

revision = "f20a22d0a001"
down_revision = "f20a22a0a001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "results_appeals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("exam_id", sa.Integer(), sa.ForeignKey("exams.id", ondelete="CASCADE"), nullable=False),
        sa.Column("attempt_id", sa.Integer(), sa.ForeignKey("attempts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("notice_serial", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    )
    for column in ("exam_id", "attempt_id", "user_id"):
        op.create_index(f"ix_results_appeals_{column}", "results_appeals", [column])
    op.create_table(
        "results_appeal_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("appeal_id", sa.Integer(), sa.ForeignKey("results_appeals.id", ondelete="CASCADE"), nullable=False),
        sa.Column("answer_id", sa.Integer(), sa.ForeignKey("answers.id", ondelete="CASCADE"), nullable=False,
                  unique=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("reviewer_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("old_points", sa.Numeric(6, 2), nullable=True),
        sa.Column("new_points", sa.Numeric(6, 2), nullable=True),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("decided_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("decision IN ('upheld', 'rejected')", name="decision_valid"),
        sa.CheckConstraint("(decision IS NULL) = (decided_at IS NULL)", name="decided_together"),
    )
    op.create_index("ix_results_appeal_items_appeal_id", "results_appeal_items", ["appeal_id"])
    op.create_index("ix_results_appeal_items_reviewer_id", "results_appeal_items", ["reviewer_id"])
    op.create_table(
        "results_corrections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("exam_id", sa.Integer(), sa.ForeignKey("exams.id", ondelete="CASCADE"), nullable=False),
        sa.Column("attempt_id", sa.Integer(), sa.ForeignKey("attempts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("answer_id", sa.Integer(), sa.ForeignKey("answers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("old_points", sa.Numeric(6, 2), nullable=True),
        sa.Column("new_points", sa.Numeric(6, 2), nullable=False),
        sa.Column("old_score", sa.Numeric(8, 2), nullable=True),
        sa.Column("new_score", sa.Numeric(8, 2), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False, server_default=""),
        sa.Column("notice_serial", sa.String(40), nullable=True),
        sa.CheckConstraint("state IN ('requested', 'approved', 'rejected')", name="state_valid"),
    )
    op.create_index("ix_results_corrections_exam_id", "results_corrections", ["exam_id"])


def downgrade():
    op.drop_table("results_corrections")
    op.drop_table("results_appeal_items")
    op.drop_table("results_appeals")
