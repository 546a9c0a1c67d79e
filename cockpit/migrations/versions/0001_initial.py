"""initial schema: incidents, incident events, metrics

Revision ID: 0001
Revises: 
Create Date: 2026-11-29 11:14:23.076557
"""
from alembic import op
import sqlalchemy as sa
import cockpit.store.models


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('incident_events',
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('source', sa.String(length=128), nullable=False),
    sa.Column('incident_id', sa.String(length=128), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('occurred_at', cockpit.store.models.UTCDateTime(), nullable=False),
    sa.Column('received_at', cockpit.store.models.UTCDateTime(), nullable=False),
    sa.Column('stream_id', sa.String(length=48), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('event_id', 'source', name=op.f('pk_incident_events'))
    )
    with op.batch_alter_table('incident_events', schema=None) as batch_op:
        batch_op.create_index('ix_incident_events_incident', ['incident_id', 'occurred_at'], unique=False)

    op.create_table('incidents',
    sa.Column('incident_id', sa.String(length=128), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=True),
    sa.Column('priority', sa.String(length=16), nullable=True),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('stage_at', cockpit.store.models.UTCDateTime(), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('village_code', sa.String(length=32), nullable=True),
    sa.Column('grid', sa.Text(), nullable=True),
    sa.Column('team', sa.Text(), nullable=True),
    sa.Column('unit', sa.Text(), nullable=True),
    sa.Column('disposition', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=128), nullable=False),
    sa.Column('reported_at', cockpit.store.models.UTCDateTime(), nullable=True),
    sa.Column('assessed_at', cockpit.store.models.UTCDateTime(), nullable=True),
    sa.Column('dispatched_at', cockpit.store.models.UTCDateTime(), nullable=True),
    sa.Column('arrived_at', cockpit.store.models.UTCDateTime(), nullable=True),
    sa.Column('resolved_at', cockpit.store.models.UTCDateTime(), nullable=True),
    sa.Column('closed_at', cockpit.store.models.UTCDateTime(), nullable=True),
    sa.Column('cancelled_at', cockpit.store.models.UTCDateTime(), nullable=True),
    sa.Column('field_times', sa.JSON(), nullable=False),
    sa.Column('event_count', sa.Integer(), nullable=False),
    sa.Column('updated_at', cockpit.store.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('incident_id', name=op.f('pk_incidents'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index('ix_incidents_closed_at', ['closed_at'], unique=False)
        batch_op.create_index('ix_incidents_reported_at', ['reported_at'], unique=False)
        batch_op.create_index('ix_incidents_stage', ['stage'], unique=False)
        batch_op.create_index('ix_incidents_updated_at', ['updated_at'], unique=False)
        batch_op.create_index('ix_incidents_village_code', ['village_code'], unique=False)

    op.create_table('metric_observations',
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('source', sa.String(length=128), nullable=False),
    sa.Column('module', sa.String(length=128), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('unit', sa.Text(), nullable=True),
    sa.Column('village_code', sa.String(length=32), nullable=True),
    sa.Column('occurred_at', cockpit.store.models.UTCDateTime(), nullable=False),
    sa.Column('received_at', cockpit.store.models.UTCDateTime(), nullable=False),
    sa.Column('stream_id', sa.String(length=48), nullable=False),
    sa.PrimaryKeyConstraint('event_id', 'source', name=op.f('pk_metric_observations'))
    )
    with op.batch_alter_table('metric_observations', schema=None) as batch_op:
        batch_op.create_index('ix_metric_observations_key', ['module', 'key', 'occurred_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('metric_observations', schema=None) as batch_op:
        batch_op.drop_index('ix_metric_observations_key')

    op.drop_table('metric_observations')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_village_code')
        batch_op.drop_index('ix_incidents_updated_at')
        batch_op.drop_index('ix_incidents_stage')
        batch_op.drop_index('ix_incidents_reported_at')
        batch_op.drop_index('ix_incidents_closed_at')

    op.drop_table('incidents')
    with op.batch_alter_table('incident_events', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_events_incident')

    op.drop_table('incident_events')
