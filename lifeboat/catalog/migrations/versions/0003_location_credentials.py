"""backup locations with their own S3 keys (federated mode)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 17:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "location_credentials",
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=255), nullable=False),
        sa.Column("access_key_id", sa.String(length=255), nullable=False),
        sa.Column("credentials_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_location_credentials")),
    )
    with op.batch_alter_table("backup_locations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credentials_uid", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("backup_locations", schema=None) as batch_op:
        batch_op.drop_column("credentials_uid")
    op.drop_table("location_credentials")
