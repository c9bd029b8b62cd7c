"""Proctoring in the browser: an exam's settings (watermark, full screen, inactivity, camera snapshots, networks),
the snapshots kept with attempts, and the attempt events they report (issue 25)

Revision ID: f20a25a0a001
Revises: f20a24b0a001
Create Date: 2026-12-06 00:10:00
"""

import warnings

from alembic import op
import sqlalchemy as sa
from sqlalchemy.exc import SAWarning

revision = "f20a25a0a001"
down_revision = "f20a24b0a001"
branch_labels = None
depends_on = None

IGNORED = "Skipped unsupported reflection of expression-based index"
OLD_KIND_LIST = ("'focus_loss', 'paste', 'auto_submit', 'takeover', 'extended', 'paused', 'resumed', 'forced', "
                 "'released', 'reopened', 'voided', 'restored'")  # fmt: skip
NEW_KIND_LIST = OLD_KIND_LIST + ", 'fullscreen_exit', 'fullscreen_back', 'inactive', 'camera_off', 'snapshot'"


def _kinds(kind_list: str) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", IGNORED, SAWarning)
        with op.batch_alter_table("attempt_events", schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f("ck_attempt_events_kind_valid"), type_="check")
            batch_op.create_check_constraint("kind_valid", f"kind IN ({kind_list})")


def upgrade():
    op.create_table(
        "proctoring_settings",
        sa.Column(
            "exam_id",
            sa.Integer(),
            sa.ForeignKey("exams.id", name=op.f("fk_proctoring_settings_exam_id_exams"), ondelete="CASCADE"),
            nullable=False,
        ),  # fmt: skip
        sa.Column("watermark", sa.Boolean(), nullable=False),
        sa.Column("fullscreen", sa.Boolean(), nullable=False),
        sa.Column("fullscreen_grace_seconds", sa.Integer(), nullable=False),
        sa.Column("fullscreen_exit_limit", sa.Integer(), nullable=True),
        sa.Column("inactivity_minutes", sa.Integer(), nullable=True),
        sa.Column("inactivity_warning_seconds", sa.Integer(), nullable=False),
        sa.Column("inactivity_submit", sa.Boolean(), nullable=False),
        sa.Column("snapshots", sa.Boolean(), nullable=False),
        sa.Column("snapshot_minutes", sa.Integer(), nullable=False),
        sa.Column("camera_required", sa.Boolean(), nullable=False),
        sa.Column("snapshot_retention_days", sa.Integer(), nullable=False),
        sa.Column("networks", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("exam_id", name=op.f("pk_proctoring_settings")),
    )
    op.create_table(
        "attempt_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "attempt_id",
            sa.Integer(),
            sa.ForeignKey("attempts.id", name=op.f("fk_attempt_snapshots_attempt_id_attempts"), ondelete="CASCADE"),
            nullable=False,
        ),  # fmt: skip
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.CheckConstraint(
            "reason IN ('start', 'interval', 'focus', 'fullscreen')", name=op.f("ck_attempt_snapshots_reason_valid")
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempt_snapshots")),
    )
    op.create_index(op.f("ix_attempt_snapshots_attempt_id"), "attempt_snapshots", ["attempt_id"], unique=False)
    _kinds(NEW_KIND_LIST)


def downgrade():
    op.execute("DELETE FROM attempt_events WHERE kind IN "
               "('fullscreen_exit', 'fullscreen_back', 'inactive', 'camera_off', 'snapshot')")  # fmt: skip
    _kinds(OLD_KIND_LIST)
    op.drop_index(op.f("ix_attempt_snapshots_attempt_id"), table_name="attempt_snapshots")
    op.drop_table("attempt_snapshots")
    op.drop_table("proctoring_settings")
