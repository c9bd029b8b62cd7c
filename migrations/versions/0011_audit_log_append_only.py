"""The audit log is append-only: the database refuses to change (and, on PostgreSQL, to delete) an event

Revision ID: 5a0d1e7c3b21
Revises: 2bc502beca03
Create Date: 2026-12-01 22:00:00

A trigger rather than revoked privileges: the app usually connects as the owner of its tables, whom REVOKE does not
bind. SQLite refuses updates only; deleting rows there stays possible (the embedded database has one user, and the
test suite empties every table between tests). A user who appears in the log can no longer be deleted on PostgreSQL
(the foreign key's SET NULL is an update); accounts are deactivated, never deleted, by the app.
"""

from alembic import op

revision = "5a0d1e7c3b21"
down_revision = "2bc502beca03"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events "
            "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only (UPDATE refused)'); END"
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION audit_events_append_only()")
    else:
        op.execute("DROP TRIGGER audit_events_append_only")
