"""Marking at scale: an exam's marking plan, per-item modes and tolerances, graders' assignments, the immutable
marks (first, second, agreed, arbitration, sample, appeal) and the chief grader's drawn samples

Revision ID: f20a22a0a001
Revises: f20a22c0a001
Create Date: 2026-12-04 16:00:00

A mark is never changed or removed: the database refuses it (trigger qe_marks_immutable_*), a new row is written
for each decision (exam/marking.py).
"""

from alembic import op
import sqlalchemy as sa

revision = "f20a22a0a001"
down_revision = "f20a22c0a001"
branch_labels = None
depends_on = None

MESSAGE = "immutable record: a mark cannot change or be removed"
TRIGGERS = (("qe_marks_immutable_update", "BEFORE UPDATE OF answer_id, kind, points, comment, marked_at"),
            ("qe_marks_immutable_delete", "BEFORE DELETE"))  # fmt: skip
MODES = "('single', 'double')"


def upgrade():
    op.create_table(
        "marking_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("default_mode", sa.String(length=8), nullable=False),
        sa.Column("default_tolerance", sa.Numeric(precision=6, scale=2, asdecimal=False), nullable=False),
        sa.Column("chief_grader_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"default_mode IN {MODES}", name=op.f("ck_marking_plans_default_mode_valid")),
        sa.CheckConstraint("default_tolerance >= 0", name=op.f("ck_marking_plans_default_tolerance_positive")),
        sa.ForeignKeyConstraint(["chief_grader_id"], ["users.id"], name=op.f("fk_marking_plans_chief_grader_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["exam_id"], ["exams.id"], name=op.f("fk_marking_plans_exam_id_exams"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marking_plans")),
        sa.UniqueConstraint("exam_id", name=op.f("uq_marking_plans_exam_id")),
    )  # fmt: skip
    op.create_table(
        "marking_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("question_version_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("tolerance", sa.Numeric(precision=6, scale=2, asdecimal=False), nullable=False),
        sa.CheckConstraint(f"mode IN {MODES}", name=op.f("ck_marking_items_mode_valid")),
        sa.CheckConstraint("tolerance >= 0", name=op.f("ck_marking_items_tolerance_positive")),
        sa.ForeignKeyConstraint(["exam_id"], ["exams.id"], name=op.f("fk_marking_items_exam_id_exams"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["question_version_id"], ["question_versions.id"],
                                name=op.f("fk_marking_items_question_version_id_question_versions"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marking_items")),
        sa.UniqueConstraint("exam_id", "question_version_id", name="uq_marking_items_exam_version"),
    )  # fmt: skip
    op.create_index(op.f("ix_marking_items_exam_id"), "marking_items", ["exam_id"])
    op.create_table(
        "marking_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("question_version_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.CheckConstraint("role IN ('marker', 'arbitrator')", name=op.f("ck_marking_assignments_role_valid")),
        sa.ForeignKeyConstraint(["exam_id"], ["exams.id"], name=op.f("fk_marking_assignments_exam_id_exams"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["question_version_id"], ["question_versions.id"],
                                name=op.f("fk_marking_assignments_question_version_id_question_versions"),
                                ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_marking_assignments_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marking_assignments")),
        sa.UniqueConstraint("exam_id", "question_version_id", "user_id", "role", name="uq_marking_assignments"),
    )  # fmt: skip
    op.create_index(op.f("ix_marking_assignments_exam_id"), "marking_assignments", ["exam_id"])
    op.create_index(op.f("ix_marking_assignments_user_id"), "marking_assignments", ["user_id"])
    op.create_table(
        "marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("answer_id", sa.Integer(), nullable=False),
        sa.Column("grader_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("points", sa.Numeric(precision=6, scale=2, asdecimal=False), nullable=False),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('first', 'second', 'agreed', 'arbitration', 'sample', 'appeal', 'correction')",
                           name=op.f("ck_marks_kind_valid")),
        sa.CheckConstraint("points >= 0", name=op.f("ck_marks_points_positive")),
        sa.ForeignKeyConstraint(["answer_id"], ["answers.id"], name=op.f("fk_marks_answer_id_answers"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["grader_id"], ["users.id"], name=op.f("fk_marks_grader_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marks")),
    )  # fmt: skip
    op.create_index(op.f("ix_marks_answer_id"), "marks", ["answer_id"])
    op.create_index(op.f("ix_marks_grader_id"), "marks", ["grader_id"])
    op.create_index("uq_marks_answer_kind", "marks", ["answer_id", "kind"], unique=True,
                    sqlite_where=sa.text("kind NOT IN ('appeal', 'correction')"),
                    postgresql_where=sa.text("kind NOT IN ('appeal', 'correction')"))  # fmt: skip
    op.create_table(
        "marking_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("answer_id", sa.Integer(), nullable=False),
        sa.Column("grader_id", sa.Integer(), nullable=True),
        sa.Column("drawn_by_id", sa.Integer(), nullable=True),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["answer_id"], ["answers.id"], name=op.f("fk_marking_samples_answer_id_answers"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["drawn_by_id"], ["users.id"], name=op.f("fk_marking_samples_drawn_by_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["exam_id"], ["exams.id"], name=op.f("fk_marking_samples_exam_id_exams"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["grader_id"], ["users.id"], name=op.f("fk_marking_samples_grader_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marking_samples")),
        sa.UniqueConstraint("exam_id", "answer_id", "grader_id", name="uq_marking_samples"),
    )  # fmt: skip
    op.create_index(op.f("ix_marking_samples_exam_id"), "marking_samples", ["exam_id"])
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, event in TRIGGERS:
        if postgresql:
            result = "OLD" if event.endswith("DELETE") else "NEW"
            op.execute(
                f"""
                CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION '{MESSAGE} (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
                    RETURN {result};
                END $$
                """
            )
            op.execute(f"CREATE TRIGGER {name} {event} ON marks FOR EACH ROW EXECUTE FUNCTION {name}()")
        else:
            op.execute(f"CREATE TRIGGER {name} {event} ON marks FOR EACH ROW BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, _event in reversed(TRIGGERS):
        if postgresql:
            op.execute(f"DROP TRIGGER {name} ON marks")
            op.execute(f"DROP FUNCTION {name}()")
        else:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index(op.f("ix_marking_samples_exam_id"), table_name="marking_samples")
    op.drop_table("marking_samples")
    op.drop_index("uq_marks_answer_kind", table_name="marks")
    op.drop_index(op.f("ix_marks_grader_id"), table_name="marks")
    op.drop_index(op.f("ix_marks_answer_id"), table_name="marks")
    op.drop_table("marks")
    op.drop_index(op.f("ix_marking_assignments_user_id"), table_name="marking_assignments")
    op.drop_index(op.f("ix_marking_assignments_exam_id"), table_name="marking_assignments")
    op.drop_table("marking_assignments")
    op.drop_index(op.f("ix_marking_items_exam_id"), table_name="marking_items")
    op.drop_table("marking_items")
    op.drop_table("marking_plans")
