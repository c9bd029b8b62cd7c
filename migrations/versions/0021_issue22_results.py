"""The score lifecycle of official exams: the official exams and their state, the history of moves, the public
notices (serial, version, period, superseded) and the working-day calendar

Revision ID: f20a22c0a001
Revises: f20a22b0a001 (the frozen roster, merged from h-roster; alone, this revision would follow f19a21d0a001)
Create Date: 2026-12-04 15:40:00
"""

from alembic import op
import sqlalchemy as sa

revision = "f20a22c0a001"
down_revision = "f20a22b0a001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('results_calendar_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.CheckConstraint("kind IN ('holiday', 'workday')", name=op.f('ck_results_calendar_days_kind_valid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_results_calendar_days')),
    sa.UniqueConstraint('day', name=op.f('uq_results_calendar_days_day'))
    )
    op.create_table('results_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('exam_id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.Column('revision_reason', sa.Text(), nullable=True),
    sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('parts', sa.JSON(), nullable=False),
    sa.Column('rows', sa.JSON(), nullable=False),
    sa.Column('appeal_how', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['exam_id'], ['exams.id'], name=op.f('fk_results_notices_exam_id_exams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'], name=op.f('fk_results_notices_published_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_results_notices')),
    sa.UniqueConstraint('exam_id', 'version', name='uq_results_notices_exam_version'),
    sa.UniqueConstraint('serial', name=op.f('uq_results_notices_serial'))
    )
    with op.batch_alter_table('results_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_results_notices_exam_id'), ['exam_id'], unique=False)

    op.create_table('results_official_exams',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('exam_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('notice_days', sa.Integer(), nullable=False),
    sa.Column('appeal_how', sa.Text(), nullable=False),
    sa.Column('registered_by_id', sa.Integer(), nullable=True),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('check_report', sa.JSON(), nullable=True),
    sa.Column('check_note', sa.Text(), nullable=False),
    sa.Column('checked_by_id', sa.Integer(), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('approve_note', sa.Text(), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('final_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("scope IN ('candidates', 'units', 'district')", name=op.f('ck_results_official_exams_scope_valid')),
    sa.CheckConstraint("stage IN ('marking', 'checked', 'approved', 'notice', 'final')", name=op.f('ck_results_official_exams_stage_valid')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_results_official_exams_approved_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['checked_by_id'], ['users.id'], name=op.f('fk_results_official_exams_checked_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['exam_id'], ['exams.id'], name=op.f('fk_results_official_exams_exam_id_exams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['registered_by_id'], ['users.id'], name=op.f('fk_results_official_exams_registered_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_results_official_exams')),
    sa.UniqueConstraint('exam_id', name=op.f('uq_results_official_exams_exam_id'))
    )
    op.create_table('results_state_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('exam_id', sa.Integer(), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=False),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_results_state_changes_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['exam_id'], ['exams.id'], name=op.f('fk_results_state_changes_exam_id_exams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_results_state_changes'))
    )
    with op.batch_alter_table('results_state_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_results_state_changes_exam_id'), ['exam_id'], unique=False)



def downgrade():
    with op.batch_alter_table('results_state_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_results_state_changes_exam_id'))

    op.drop_table('results_state_changes')
    op.drop_table('results_official_exams')
    with op.batch_alter_table('results_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_results_notices_exam_id'))

    op.drop_table('results_notices')
    op.drop_table('results_calendar_days')
