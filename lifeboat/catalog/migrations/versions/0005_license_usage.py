"""licenses: node counts and identities of clusters, usage over time, schedules suspended by
the license, subscriptions

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 01:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clusters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("node_count", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("identity", sa.String(length=64), nullable=False, server_default="")
        )
    with op.batch_alter_table("backup_schedules", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("suspended_by", sa.String(length=16), nullable=False, server_default="")
        )
    op.execute("UPDATE backup_schedules SET suspended_by = 'user' WHERE suspended")
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("activation_ciphertext", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("renewal_error", sa.Text(), nullable=False, server_default="")
        )
    op.create_table(
        "license_usage",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("nodes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_license_usage")),
    )
    with op.batch_alter_table("license_usage", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_license_usage_recorded_at"), ["recorded_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("license_usage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_license_usage_recorded_at"))
    op.drop_table("license_usage")
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.drop_column("renewal_error")
        batch_op.drop_column("renewed_at")
        batch_op.drop_column("activation_ciphertext")
    with op.batch_alter_table("backup_schedules", schema=None) as batch_op:
        batch_op.drop_column("suspended_by")
    with op.batch_alter_table("clusters", schema=None) as batch_op:
        batch_op.drop_column("identity")
        batch_op.drop_column("node_count")
