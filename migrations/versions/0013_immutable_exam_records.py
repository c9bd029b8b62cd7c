"""immutable exam records: the database refuses changes to used question versions and papers and to finalized
attempts' records

Revision ID: d84b1f6e2a93
Revises: c3a9e2d41f07
Create Date: 2026-12-03 10:30:00

What is refused, and what stays writable (grading's columns), is written down in exam/integrity.py. Triggers, as
for the audit log (migration 0011): the app usually connects as the owner of its tables, whom REVOKE does not bind.
Every refusal's message starts with "immutable record:" (core.guards.REFUSAL_PREFIX); PostgreSQL's SQLSTATE is
insufficient_privilege (42501), which core.errors answers with a 500, never with a retryable 503.

Two indexes make the "is it used?" checks one indexed lookup: attempts by paper, paper items by question version.
"""

from alembic import op

revision = "d84b1f6e2a93"
down_revision = "c3a9e2d41f07"
branch_labels = None
depends_on = None

FINAL = "('submitted', 'expired')"
#: A version is used once an attempt's paper has an item with it.
VERSION_USED = (
    "EXISTS (SELECT 1 FROM paper_items pi JOIN attempts a ON a.paper_id = pi.paper_id "
    "WHERE pi.question_version_id = {v})"
)
PAPER_USED = "EXISTS (SELECT 1 FROM attempts a WHERE a.paper_id = {p})"
ATTEMPT_FINAL = "EXISTS (SELECT 1 FROM attempts a WHERE a.id = {a} AND a.status IN ('submitted', 'expired'))"
#: The row grading adds for an unanswered item: no answer, no grader (its points are grading's to write).
PLACEHOLDER = "({r}.value IS NULL AND {r}.seq = 0 AND {r}.grader_id IS NULL)"
ATTEMPT_FIXED = ("exam_id", "user_id", "number", "paper_id", "started_at", "deadline_at", "extra_minutes",
                 "ended_at", "status")  # fmt: skip
ANSWER_RECORD = ("attempt_id", "position", "value", "seq", "saved_at")

MESSAGES = {
    "version": "immutable record: a question version used by an attempt cannot change or be removed",
    "paper": "immutable record: a paper used by an attempt cannot change or be removed",
    "item": "immutable record: the items of a paper used by an attempt cannot change, be added or be removed",
    "answer": "immutable record: the answers of a finalized attempt cannot change, be added or be removed",
    "attempt": "immutable record: a finalized attempt cannot change its identity, timing or status, nor be removed",
}

# (name, table, timing and event, condition as SQL over OLD/NEW, message): one trigger each, on both databases.
# The answers' INSERT check runs AFTER the insert: an upsert that replaces an answer (every save but the first of
# an item) fires it only when it really inserts, so a save costs one lookup of its attempt, not two (the UPDATE
# trigger's, on replacing). Raised after the row, it still undoes the whole statement.
TRIGGERS = (
    ("qe_question_versions_used_update", "question_versions", "BEFORE UPDATE", VERSION_USED.format(v="OLD.id"), "version"),
    ("qe_question_versions_used_delete", "question_versions", "BEFORE DELETE", VERSION_USED.format(v="OLD.id"), "version"),
    ("qe_papers_used_update", "papers", "BEFORE UPDATE", PAPER_USED.format(p="OLD.id"), "paper"),
    ("qe_papers_used_delete", "papers", "BEFORE DELETE", PAPER_USED.format(p="OLD.id"), "paper"),
    ("qe_paper_items_used_insert", "paper_items", "BEFORE INSERT", PAPER_USED.format(p="NEW.paper_id"), "item"),
    ("qe_paper_items_used_update", "paper_items", "BEFORE UPDATE",
     f"{PAPER_USED.format(p='OLD.paper_id')} OR {PAPER_USED.format(p='NEW.paper_id')}", "item"),
    ("qe_paper_items_used_delete", "paper_items", "BEFORE DELETE", PAPER_USED.format(p="OLD.paper_id"), "item"),
    ("qe_answers_final_insert", "answers", "AFTER INSERT",
     f"NOT {PLACEHOLDER.format(r='NEW')} AND {ATTEMPT_FINAL.format(a='NEW.attempt_id')}", "answer"),
    ("qe_answers_final_update", "answers", "BEFORE UPDATE OF " + ", ".join(ANSWER_RECORD),
     "({changed}) AND (" + ATTEMPT_FINAL.format(a="OLD.attempt_id") + " OR (NEW.attempt_id <> OLD.attempt_id AND "
     + ATTEMPT_FINAL.format(a="NEW.attempt_id") + "))", "answer"),
    ("qe_answers_final_delete", "answers", "BEFORE DELETE", ATTEMPT_FINAL.format(a="OLD.attempt_id"), "answer"),
    ("qe_attempts_final_update", "attempts", "BEFORE UPDATE", "OLD.status IN " + FINAL + " AND ({changed})", "attempt"),
    ("qe_attempts_final_delete", "attempts", "BEFORE DELETE", "OLD.status IN " + FINAL, "attempt"),
)  # fmt: skip


def _changed(columns, dialect: str) -> str:
    """SQL: any of `columns` differs between OLD and NEW (NULLs compared as values; json as its text)."""
    parts = []
    for c in columns:
        if dialect == "postgresql":
            old, new = (f"OLD.{c}::text", f"NEW.{c}::text") if c == "value" else (f"OLD.{c}", f"NEW.{c}")
            parts.append(f"{new} IS DISTINCT FROM {old}")
        else:
            parts.append(f"NEW.{c} IS NOT OLD.{c}")
    return " OR ".join(parts)


def _condition(table: str, event: str, condition: str, dialect: str) -> str:
    columns = ANSWER_RECORD if table == "answers" else ATTEMPT_FIXED
    return condition.replace("{changed}", _changed(columns, dialect)) if "{changed}" in condition else condition


def upgrade():
    op.create_index("ix_attempts_paper_id", "attempts", ["paper_id"])
    op.create_index("ix_paper_items_question_version_id", "paper_items", ["question_version_id"])
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, table, event, condition, message in TRIGGERS:
        condition = _condition(table, event, condition, "postgresql" if postgresql else "sqlite")
        text = MESSAGES[message]
        if postgresql:
            result = "OLD" if event.endswith("DELETE") else "NEW"  # (an AFTER trigger's result is ignored)
            op.execute(
                f"""
                CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF {condition} THEN
                        RAISE EXCEPTION '{text} (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
                    END IF;
                    RETURN {result};
                END $$
                """
            )
            op.execute(f"CREATE TRIGGER {name} {event} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()")
        else:
            op.execute(
                f"CREATE TRIGGER {name} {event} ON {table} FOR EACH ROW WHEN {condition} "
                f"BEGIN SELECT RAISE(ABORT, '{text}'); END"
            )


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, table, _event, _condition, _message in reversed(TRIGGERS):
        if postgresql:
            op.execute(f"DROP TRIGGER {name} ON {table}")
            op.execute(f"DROP FUNCTION {name}()")
        else:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index("ix_paper_items_question_version_id", table_name="paper_items")
    op.drop_index("ix_attempts_paper_id", table_name="attempts")
