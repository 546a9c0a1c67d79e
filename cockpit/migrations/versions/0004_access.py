"""access control: users, kiosk links, the append-only audit log; the caller of an incident

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 07:30:00
"""
import sqlalchemy as sa
from alembic import op

from cockpit.store.models import UTCDateTime


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_SQLITE_GUARDS = [
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
    """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
]
_PG_GUARDS = [
    """CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS
       $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$""",
    """CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
       FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()""",
    """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
       FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()""",
]


def upgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reporter_name', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('reporter_phone', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('reporter_id_hash', sa.String(length=80), nullable=True))
    op.create_table(
        'users',
        sa.Column('user_id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('display_name', sa.Text(), nullable=True),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('villages', sa.Text(), nullable=False),
        sa.Column('password_hash', sa.Text(), nullable=True),
        sa.Column('disabled', sa.Boolean(), nullable=False),
        sa.Column('session_epoch', sa.Integer(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.Column('last_sign_in_at', UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_users')),
        sa.UniqueConstraint('username', name=op.f('uq_users_username')),
    )
    op.create_table(
        'kiosks',
        sa.Column('kiosk_id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('nonce', sa.String(length=64), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('revoked_at', UTCDateTime(), nullable=True),
        sa.Column('revoked_by', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('kiosk_id', name=op.f('pk_kiosks')),
        sa.UniqueConstraint('name', name=op.f('uq_kiosks_name')),
    )
    op.create_table(
        'audit_log',
        sa.Column('audit_id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=True),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('target', sa.Text(), nullable=True),
        sa.Column('origin', sa.String(length=64), nullable=True),
        sa.Column('detail', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('audit_id', name=op.f('pk_audit_log')),
    )
    op.create_index('ix_audit_log_at', 'audit_log', ['at'], unique=False)
    guards = _PG_GUARDS if op.get_bind().dialect.name == 'postgresql' else _SQLITE_GUARDS
    for statement in guards:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log')
        op.execute('DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log')
        op.execute('DROP FUNCTION IF EXISTS audit_log_append_only()')
    op.drop_index('ix_audit_log_at', table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_table('kiosks')
    op.drop_table('users')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('reporter_id_hash')
        batch_op.drop_column('reporter_phone')
        batch_op.drop_column('reporter_name')
