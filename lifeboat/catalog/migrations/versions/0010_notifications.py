"""notifications: receivers (webhooks, email) and the subscriptions that send finished
backups' and restores' events to them

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _object_columns() -> list[sa.Column[object]]:
    """The columns every catalog object has."""
    return [
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("owner_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "notification_receivers",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("smtp_host", sa.String(length=255), nullable=False),
        sa.Column("smtp_port", sa.Integer(), nullable=False),
        sa.Column("smtp_starttls", sa.Boolean(), nullable=False),
        sa.Column("smtp_username", sa.String(length=255), nullable=False),
        sa.Column("smtp_password_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("from_address", sa.String(length=320), nullable=False),
        sa.Column("to_addresses", sa.JSON(), nullable=False),
        sa.Column("last_delivery_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_delivery_error", sa.Text(), nullable=False),
        *_object_columns(),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_notification_receivers")),
        sa.UniqueConstraint(
            "org_id", "owner_id", "name", name=op.f("uq_notification_receivers_org_id")
        ),
    )
    with op.batch_alter_table("notification_receivers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_receivers_owner_id"), ["owner_id"], unique=False
        )

    op.create_table(
        "notification_subscriptions",
        sa.Column("receiver_uid", sa.String(length=36), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("schedule_uid", sa.String(length=36), nullable=True),
        *_object_columns(),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_notification_subscriptions")),
        sa.UniqueConstraint(
            "org_id", "owner_id", "name", name=op.f("uq_notification_subscriptions_org_id")
        ),
    )
    with op.batch_alter_table("notification_subscriptions", schema=None) as batch_op:
        for column in ("owner_id", "receiver_uid", "schedule_uid"):
            batch_op.create_index(
                batch_op.f(f"ix_notification_subscriptions_{column}"), [column], unique=False
            )


def downgrade() -> None:
    op.drop_table("notification_subscriptions")
    op.drop_table("notification_receivers")
