"""The required reading's written exam: a knowledge point per book, and a year's list with an exam attached
(issue 24, S4 of the district's report)

Revision ID: f20a24b0a001
Revises: f20a24a0a001
Create Date: 2026-12-05 15:30:00

A book's questions are those tagged with its knowledge point (the title, unless the department names another). The
exam is an ordinary exam; attaching it to a year's list makes its results the list's written exam.
"""

from alembic import op
import sqlalchemy as sa

revision = "f20a24b0a001"
down_revision = "f20a24a0a001"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("reading_books", sa.Column("tag", sa.String(50), nullable=True))
    op.execute("UPDATE reading_books SET tag = substr(title, 1, 50)")
    op.create_table(
        "reading_exams",
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("exam_id", sa.Integer(), sa.ForeignKey("exams.id", ondelete="CASCADE"), nullable=False),
        sa.Column("attached_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("exam_id", name="uq_reading_exams_exam_id"),
    )


def downgrade():
    op.drop_table("reading_exams")
    with op.batch_alter_table("reading_books") as batch:
        batch.drop_column("tag")
