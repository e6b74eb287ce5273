"""indexes that lists are read by: shares by kind and subject or object, pages by name

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 01:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_shares_object_kind_subject", "shares", ["object_kind", "subject_kind", "subject"]),
    ("ix_shares_object_kind_object_uid", "shares", ["object_kind", "object_uid"]),
    ("ix_backups_name_uid", "backups", ["name", "uid"]),
    ("ix_backups_schedule_uid", "backups", ["schedule_uid"]),
    ("ix_restores_name_uid", "restores", ["name", "uid"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
