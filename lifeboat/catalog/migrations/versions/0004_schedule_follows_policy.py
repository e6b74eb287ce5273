"""backup schedules: why a policy change did not reach Temporal, and since when runs are owed

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 17:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("backup_schedules", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("policy_update_error", sa.Text(), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("due_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("backup_schedules", schema=None) as batch_op:
        batch_op.drop_column("due_since")
        batch_op.drop_column("policy_update_error")
