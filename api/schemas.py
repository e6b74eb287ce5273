"""Request and response bodies, in families: XCreate, XUpdate, XRead, XList."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    ),
]
Labels = Annotated[
    dict[str, Annotated[str, StringConstraints(max_length=63)]], Field(max_length=64)
]

T = TypeVar("T")


class ListOf(BaseModel, Generic[T]):
    items: list[T]
    count: int


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
    kubeconfig: str = Field(description="A self-contained kubeconfig (YAML), write-only")
    labels: Labels = Field(default_factory=dict)


class ClusterRead(ObjectRead):
    server_url: str
    provider: str
    status: str
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
    kubeconfig: str = Field(description="A whole self-contained kubeconfig (YAML)")


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
