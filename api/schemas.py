"""Request and response bodies, in families: XCreate, XUpdate, XRead, XList."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, TypeVar

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


class KubeconfigReplace(BaseModel):
    kubeconfig: str = Field(description="A whole self-contained kubeconfig (YAML)")


class Accepted(BaseModel):
    message: str
