"""Statuses and stages are enums the API's schema lists, so clients know every value."""

from __future__ import annotations

from typing import Any

import pytest

from api.app import create_app
from lifeboat.settings import Settings
from lifeboat.status import BackupStatus, ClusterStatus, RestoreStatus, Stage


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    components: dict[str, Any] = create_app(Settings()).openapi()["components"]["schemas"]
    return components


@pytest.mark.parametrize(
    ("schema", "field", "values"),
    [
        ("BackupRead", "status", BackupStatus),
        ("BackupRead", "stage", Stage),
        ("RestoreRead", "status", RestoreStatus),
        ("RestoreRead", "stage", Stage),
        ("ClusterRead", "status", ClusterStatus),
    ],
)
def test_the_openapi_lists_every_value(
    schemas: dict[str, Any], schema: str, field: str, values: type[Any]
) -> None:
    ref = schemas[schema]["properties"][field]["$ref"].rsplit("/", 1)[-1]
    assert schemas[ref]["enum"] == [v.value for v in values]
