"""Request and response bodies, in families: XCreate, XUpdate, XRead, XList.

Every string and number a request carries (body, path or query) is one of the bounded types
below, so its limits are checked before a route runs and shown in the OpenAPI (`maxLength`,
`pattern`, `maximum`). No text takes NUL, which PostgreSQL refuses, nor other control
characters; multi-line text (kubeconfigs, keys, commands, descriptions) takes tab and newlines.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from lifeboat.status import ClusterStatus

SINGLE_LINE = r"^[^\x00-\x1f\x7f]*$"
MULTI_LINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
MAX_DOCUMENT_CHARS = 256 * 1024

Text = Annotated[str, StringConstraints(max_length=255, pattern=SINGLE_LINE)]
"""A short single-line value: a selector, a region, an email, a key id."""
LongText = Annotated[str, StringConstraints(max_length=4096, pattern=MULTI_LINE)]
"""A description."""
Document = Annotated[str, StringConstraints(max_length=MAX_DOCUMENT_CHARS, pattern=MULTI_LINE)]
"""A whole text document: a kubeconfig, a PEM certificate or key, a JSON key file."""
Uid = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
"""An object's uid, as the API returned it."""
Subject = Annotated[str, StringConstraints(min_length=1, max_length=253, pattern=SINGLE_LINE)]

_ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$"
)


def _iso_datetime(value: Any) -> Any:
    """A date and time as the schema says (`format: date-time`), not a number of seconds."""
    if isinstance(value, str) and not _ISO_DATETIME.match(value):
        raise ValueError("give an ISO 8601 date and time, e.g. 2026-12-04T09:30:00Z")
    return value


# A date and time in a query: ISO 8601 only (pydantic would also take seconds since 1970).
Timestamp = Annotated[datetime, BeforeValidator(_iso_datetime)]
"""A user id or group name from the provider (stored as a catalog name, at most 253)."""


def keys_by_pattern(schema: dict[str, Any]) -> None:
    """A map's key pattern as `propertyNames`: pydantic writes it as `patternProperties`,
    which leaves keys outside the pattern free to hold anything."""
    for pattern, value in schema.pop("patternProperties", {}).items():
        schema["additionalProperties"] = value
        schema.setdefault("propertyNames", {})["pattern"] = pattern


TextMap = Annotated[dict[Text, Text], Field(json_schema_extra=keys_by_pattern)]
"""A map of short single-line texts (a namespace mapping)."""

Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"),
]
# As long as Kubernetes allows (a 253-character prefix, a slash and a 63-character name).
LabelKey = Annotated[str, StringConstraints(min_length=1, max_length=317, pattern=SINGLE_LINE)]
LabelValue = Annotated[str, StringConstraints(max_length=63, pattern=SINGLE_LINE)]
Labels = Annotated[
    dict[LabelKey, LabelValue], Field(max_length=64, json_schema_extra=keys_by_pattern)
]

T = TypeVar("T")


class ListOf(BaseModel, Generic[T]):
    items: list[T]
    # The number of items on this page.
    count: int
    next: str | None = Field(
        default=None,
        description="More items follow: pass this as `after` for the next page (null: the last)",
    )


class ObjectRead(BaseModel):
    """The fields every catalog object shows."""

    model_config = ConfigDict(from_attributes=True)

    uid: str
    name: str
    org_id: str
    labels: dict[str, str]
    owner_id: str
    owner: str = Field(
        description="The owner's user name; `Unknown (<user id>)` once the provider no longer "
        "has them"
    )
    created_at: datetime
    updated_at: datetime


class ClusterCreate(BaseModel):
    name: Name
    # Write-only: stored encrypted, never returned.
    kubeconfig: Document = Field(description="A self-contained kubeconfig (YAML), write-only")
    labels: Labels = Field(default_factory=dict)


class ClusterRead(ObjectRead):
    server_url: str
    provider: str
    status: ClusterStatus
    status_reason: str
    kubernetes_version: str
    namespaces: list[str]
    application_count: int
    pvc_count: int
    pvc_requested_bytes: int
    protected_bytes: int
    last_synced_at: datetime | None
    # Clusters Lifeboat onboarded itself: the cloud account (or discovery configuration) they
    # came from and their id there (an EKS cluster's ARN).
    source_uid: str | None
    external_id: str
    # When the stored kubeconfig's credentials expire, when they say (discovery refreshes them).
    credentials_expire_at: datetime | None = None


class NamespaceRead(BaseModel):
    name: str


class VirtualMachineRead(BaseModel):
    """A KubeVirt VM of a cluster, as its last sync found it."""

    namespace: str
    name: str
    status: str = Field(description="KubeVirt's printable status: Running, Stopped, ...")
    running: bool = Field(description="Whether it is meant to run (spec.running, runStrategy)")
    claims: list[str] = Field(description="The claims holding its disks")


class KubeconfigReplace(BaseModel):
    kubeconfig: Document = Field(description="A whole self-contained kubeconfig (YAML)")


class Accepted(BaseModel):
    message: str


def base_url(value: str, *, schemes: tuple[str, ...], example: str, path_hint: str) -> str:
    """`scheme://host[:port]` and nothing more, or ValueError saying what to send instead."""
    parts = urlsplit(value.strip())
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError(f"must be a {'/'.join(schemes)} URL with a host, such as {example}")
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username is not None:
        raise ValueError(f"must be {parts.scheme}://host[:port] only; {path_hint}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"has an invalid port: {exc}") from None
    if port == 0:
        raise ValueError("has an invalid port: 0")
    return f"{parts.scheme}://{parts.netloc}"
