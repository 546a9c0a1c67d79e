"""governance: life cycle, routing, due times, notifications

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 12:01:43.399227
"""
from alembic import op
import sqlalchemy as sa
import cockpit.store.models


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('incident_escalations',
    sa.Column('incident_id', sa.String(length=128), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('stage_at', cockpit.store.models.UTCDateTime(), nullable=False),
    sa.Column('level', sa.String(length=32), nullable=False),
    sa.Column('due_at', cockpit.store.models.UTCDateTime(), nullable=False),
    sa.Column('raised_at', cockpit.store.models.UTCDateTime(), nullable=False),
    sa.Column('notification_id', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('incident_id', 'stage', 'stage_at', 'level', name=op.f('pk_incident_escalations'))
    )
    with op.batch_alter_table('incident_escalations', schema=None) as batch_op:
        batch_op.create_index('ix_incident_escalations_raised', ['raised_at'], unique=False)

    op.create_table('notification_receipts',
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('source', sa.String(length=128), nullable=False),
    sa.Column('notification_id', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('occurred_at', cockpit.store.models.UTCDateTime(), nullable=False),
    sa.Column('received_at', cockpit.store.models.UTCDateTime(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=True),
    sa.Column('by', sa.String(length=128), nullable=True),
    sa.Column('origin', sa.String(length=128), nullable=True),
    sa.Column('stream_id', sa.String(length=48), nullable=False),
    sa.PrimaryKeyConstraint('event_id', 'source', name=op.f('pk_notification_receipts'))
    )
    with op.batch_alter_table('notification_receipts', schema=None) as batch_op:
        batch_op.create_index('ix_notification_receipts_notification', ['notification_id'], unique=False)

    op.create_table('notifications',
    sa.Column('notification_id', sa.String(length=200), nullable=False),
    sa.Column('incident_id', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('level', sa.String(length=32), nullable=False),
    sa.Column('priority', sa.String(length=16), nullable=True),
    sa.Column('category', sa.String(length=32), nullable=True),
    sa.Column('village_code', sa.String(length=32), nullable=True),
    sa.Column('text_zh', sa.Text(), nullable=False),
    sa.Column('text_en', sa.Text(), nullable=False),
    sa.Column('created_at', cockpit.store.models.UTCDateTime(), nullable=False),
    sa.Column('ack_due_at', cockpit.store.models.UTCDateTime(), nullable=False),
    sa.Column('parent_id', sa.String(length=200), nullable=True),
    sa.Column('published_at', cockpit.store.models.UTCDateTime(), nullable=True),
    sa.Column('stream_id', sa.String(length=48), nullable=True),
    sa.Column('delivered_at', cockpit.store.models.UTCDateTime(), nullable=True),
    sa.Column('delivered_channel', sa.String(length=32), nullable=True),
    sa.Column('acked_at', cockpit.store.models.UTCDateTime(), nullable=True),
    sa.Column('acked_by', sa.String(length=128), nullable=True),
    sa.Column('ack_channel', sa.String(length=32), nullable=True),
    sa.Column('ack_from', sa.String(length=128), nullable=True),
    sa.Column('escalated_at', cockpit.store.models.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('notification_id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_ack_due_at', ['ack_due_at'], unique=False)
        batch_op.create_index('ix_notifications_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_notifications_incident', ['incident_id'], unique=False)
        batch_op.create_index('ix_notifications_published_at', ['published_at'], unique=False)

    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reopened_at', cockpit.store.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('reopen_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('illegal_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('late_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('lifecycle', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('suggested_team', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('limit_s', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('due_at', cockpit.store.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('escalation_level', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('repeat_group', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('repeat_size', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_index('ix_incidents_category_reported', ['category', 'reported_at'], unique=False)
        batch_op.create_index('ix_incidents_due_at', ['due_at'], unique=False)
        batch_op.create_index('ix_incidents_repeat_group', ['repeat_group'], unique=False)
        batch_op.drop_index('ix_incidents_stage')
        batch_op.create_index('ix_incidents_stage_due', ['stage', 'due_at'], unique=False)
        batch_op.create_index('ix_incidents_stage_stage_at', ['stage', 'stage_at'], unique=False)

    with op.batch_alter_table('incident_events', schema=None) as batch_op:
        batch_op.create_index('ix_incident_events_occurred_at', ['occurred_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('incident_events', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_events_occurred_at')

    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_stage_stage_at')
        batch_op.drop_index('ix_incidents_stage_due')
        batch_op.create_index('ix_incidents_stage', ['stage'], unique=False)
        batch_op.drop_index('ix_incidents_repeat_group')
        batch_op.drop_index('ix_incidents_due_at')
        batch_op.drop_index('ix_incidents_category_reported')
        batch_op.drop_column('repeat_size')
        batch_op.drop_column('repeat_group')
        batch_op.drop_column('escalation_level')
        batch_op.drop_column('due_at')
        batch_op.drop_column('limit_s')
        batch_op.drop_column('suggested_team')
        batch_op.drop_column('lifecycle')
        batch_op.drop_column('late_count')
        batch_op.drop_column('illegal_count')
        batch_op.drop_column('reopen_count')
        batch_op.drop_column('reopened_at')

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_published_at')
        batch_op.drop_index('ix_notifications_incident')
        batch_op.drop_index('ix_notifications_created_at')
        batch_op.drop_index('ix_notifications_ack_due_at')

    op.drop_table('notifications')
    with op.batch_alter_table('notification_receipts', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_receipts_notification')

    op.drop_table('notification_receipts')
    with op.batch_alter_table('incident_escalations', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_escalations_raised')

    op.drop_table('incident_escalations')
