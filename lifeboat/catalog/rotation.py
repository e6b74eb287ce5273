"""Rotation of the catalog's at-rest key: every stored secret re-encrypted in one go."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lifeboat.catalog.models import Base
from lifeboat.secrets import SecretBox

# Every column that holds a secret is named so (`kubeconfig_ciphertext`, ...).
SECRET_COLUMN_SUFFIX = "_ciphertext"


async def rotate_secrets(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox
) -> Counter[str]:
    """Re-encrypt every stored secret under `box`'s current key, in one transaction: either
    all of them are rotated or, when one cannot be decrypted, none. How many, per table."""
    rotated: Counter[str] = Counter()
    async with sessions.begin() as session:
        for mapper in Base.registry.mappers:
            columns = [a.key for a in mapper.column_attrs if a.key.endswith(SECRET_COLUMN_SUFFIX)]
            if not columns:
                continue
            table = mapper.class_.__tablename__
            for row in await session.scalars(select(mapper.class_)):
                for column in columns:
                    if ciphertext := getattr(row, column):
                        setattr(row, column, box.rotate(ciphertext))
                        rotated[table] += 1
    return rotated
