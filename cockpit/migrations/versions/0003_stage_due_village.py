"""the (stage, due_at) index carries village_code: the map's open incidents per village

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 05:00:00
"""
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index('ix_incidents_stage_due_village', ['stage', 'due_at', 'village_code'],
                              unique=False)
        batch_op.drop_index('ix_incidents_stage_due')


def downgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index('ix_incidents_stage_due', ['stage', 'due_at'], unique=False)
        batch_op.drop_index('ix_incidents_stage_due_village')
