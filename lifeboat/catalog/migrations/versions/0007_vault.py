"""vault: immutable locations and backups' locks, key files of locations and key rotation

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 04:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("backup_locations", schema=None) as batch_op:
        # Locations made before key files: their key stays their data key (see the model).
        batch_op.add_column(
            sa.Column("data_key_in_bucket", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("rotating_key_ciphertext", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("immutability_mode", sa.String(length=16), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("immutability_days", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.drop_column("locked_until")
    with op.batch_alter_table("backup_locations", schema=None) as batch_op:
        batch_op.drop_column("immutability_days")
        batch_op.drop_column("immutability_mode")
        batch_op.drop_column("rotating_key_ciphertext")
        batch_op.drop_column("data_key_in_bucket")
