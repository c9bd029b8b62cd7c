"""以考促学: banks and categories opened for practice, a question's usage, practice sessions and answers, and the
wrong-answer book (issue 24)

Revision ID: f20a24a0a001
Revises: f20a23b0a001
Create Date: 2026-12-05 12:00:00

Practice keeps its answers in tables of its own: no formal exam's ranking, statistic, item analysis or archive
record reads them. Existing banks stay closed to practice until their owners open them.
"""

from alembic import op
import sqlalchemy as sa

revision = "f20a24a0a001"
down_revision = "f20a23b0a001"
branch_labels = None
depends_on = None


USAGE_VALID = "usage IN ('any', 'practice', 'exam')"


def upgrade():
    op.add_column("banks", sa.Column("practice_open", sa.Boolean(), nullable=False, server_default="0"))
    op.add_column("categories", sa.Column("practice_open", sa.Boolean(), nullable=False, server_default="0"))
    op.add_column("archive_years", sa.Column("practice_hours_cap", sa.Numeric(7, 1), nullable=False, server_default="0"))
    if op.get_bind().dialect.name == "sqlite":
        # SQLite takes a check in ADD COLUMN, and only there (a batch copy of `questions` would fire its cascades).
        op.execute("ALTER TABLE questions ADD COLUMN usage VARCHAR(16) DEFAULT 'any' NOT NULL "
                   f"CONSTRAINT ck_questions_usage_valid CHECK ({USAGE_VALID})")  # fmt: skip
    else:
        op.add_column("questions", sa.Column("usage", sa.String(16), nullable=False, server_default="any"))
        op.create_check_constraint(op.f("ck_questions_usage_valid"), "questions", USAGE_VALID)
    op.create_table(
        "practice_sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("bank_id", sa.Integer(), sa.ForeignKey("banks.id", ondelete="CASCADE"), nullable=True),
        sa.Column("category_id", sa.Integer(), sa.ForeignKey("categories.id", ondelete="CASCADE"), nullable=True),
        sa.Column("tag", sa.String(50), nullable=True),
        sa.Column("shuffled", sa.Boolean(), nullable=False),
        sa.Column("question_ids", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("right_count", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("exam_id", sa.Integer(), sa.ForeignKey("exams.id", ondelete="SET NULL"), nullable=True),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("layout", sa.JSON(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("max_score", sa.Float(), nullable=True),
        sa.CheckConstraint(
            "mode IN ('category', 'tag', 'wrong_book', 'daily', 'mock')", name=op.f("ck_practice_sessions_mode_valid")
        ),
    )
    op.create_index("ix_practice_sessions_user_open", "practice_sessions", ["user_id", "finished_at"])
    op.create_index("ix_practice_sessions_user_day", "practice_sessions", ["user_id", "day"])
    op.create_table(
        "practice_answers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("practice_sessions.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("question_id", sa.Integer(), sa.ForeignKey("questions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("question_version_id", sa.Integer(), sa.ForeignKey("question_versions.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("share", sa.Float(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("session_id", "position", name="uq_practice_answers_session_position"),
        sa.CheckConstraint("outcome IN ('right', 'partly', 'wrong', 'self_check')", name=op.f("ck_practice_answers_outcome_valid")),
    )  # fmt: skip
    op.create_index("ix_practice_answers_user_question", "practice_answers", ["user_id", "question_id", "answered_at"])
    op.create_index("ix_practice_answers_user_answered", "practice_answers", ["user_id", "answered_at"])
    op.create_table(
        "practice_wrong_book",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("question_id", sa.Integer(), sa.ForeignKey("questions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("wrong_count", sa.Integer(), nullable=False),
        sa.Column("right_streak", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_wrong_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mastered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("starred", sa.Boolean(), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("user_id", "question_id", name="uq_practice_wrong_book_user_question"),
        sa.CheckConstraint("source IN ('practice', 'exam')", name=op.f("ck_practice_wrong_book_source_valid")),
    )
    op.create_index("ix_practice_wrong_book_user_id", "practice_wrong_book", ["user_id"])
    op.create_table(
        "practice_exam_mistakes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("attempt_id", sa.Integer(), sa.ForeignKey("attempts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.UniqueConstraint("attempt_id", name="uq_practice_exam_mistakes_attempt"),
    )
    op.create_index("ix_practice_exam_mistakes_user_id", "practice_exam_mistakes", ["user_id"])
    op.create_table(
        "practice_hour_claims",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), sa.ForeignKey("archive_entries.id", ondelete="CASCADE"), nullable=False,
                  unique=True),
        sa.Column("hours", sa.Numeric(7, 1), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )  # fmt: skip
    op.create_index("ix_practice_hour_claims_user_year", "practice_hour_claims", ["user_id", "year"])


def downgrade():
    op.drop_table("practice_hour_claims")
    op.drop_table("practice_exam_mistakes")
    op.drop_table("practice_wrong_book")
    op.drop_table("practice_answers")
    op.drop_table("practice_sessions")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f("ck_questions_usage_valid"), "questions", type_="check")
    op.drop_column("questions", "usage")  # (SQLite 3.35+ drops a column with its own check)
    op.drop_column("archive_years", "practice_hours_cap")
    op.drop_column("categories", "practice_open")
    op.drop_column("banks", "practice_open")
