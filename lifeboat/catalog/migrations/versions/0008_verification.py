"""backups: the last verification and when it ended; backup locations: the last repository
check

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("verification", sa.JSON(), nullable=False, server_default="{}")
        )
        batch_op.add_column(sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("backup_locations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("repository_check", sa.JSON(), nullable=False, server_default="{}")
        )


def downgrade() -> None:
    with op.batch_alter_table("backup_locations", schema=None) as batch_op:
        batch_op.drop_column("repository_check")
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.drop_column("verified_at")
        batch_op.drop_column("verification")
