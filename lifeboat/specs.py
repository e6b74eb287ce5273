"""What a backup or a restore was asked to do, typed: validated once at the API, then stored
through the catalog model and read by attribute, never by dict key with its default repeated.

`BackupResolution` holds what a backup's validate step derived from its spec (the namespaces
and objects it resolved to) and what a retry redoes: derived values, kept apart from the
request. Both are stored in the backup's `spec` JSON column under the keys they always had,
so rows written before these types read the same. Standard library only: the workflows'
contracts may carry these types.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self


class ReplacePolicy(enum.StrEnum):
    """What a restore does with an object that already exists in the target cluster."""

    KEEP = "keep"
    REPLACE = "replace"


class _Stored:
    """A spec as its JSON document: every field under its own name."""

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Self:
        """The spec a stored document (or a validated request) holds: its own fields only; a
        field missing or null (a row written before the field existed) takes its default."""
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in document.items() if k in names and v is not None})

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]


@dataclass
class BackupSpec(_Stored):
    """A backup request: namespaces (named or selected by label) or virtual machines."""

    namespaces: list[str] = field(default_factory=list)
    namespace_selector: str = ""
    label_selector: str = ""
    include_types: list[str] = field(default_factory=list)
    exclude_types: list[str] = field(default_factory=list)
    include_cluster_resources: bool = True
    pre_rule_uid: str = ""
    post_rule_uid: str = ""
    volumes: bool = True
    # A VM backup: "namespace/name" of each VM (then `namespaces` is empty).
    virtual_machines: list[str] = field(default_factory=list)


@dataclass
class ScheduledBackupSpec(BackupSpec):
    """What each run of a backup schedule backs up, and to which location."""

    location_uid: str = ""
    # Verify every Nth successful backup of the schedule (1: each one; 0: none).
    verify_every: int = 0

    def backup(self) -> BackupSpec:
        """The spec of one run's backup (its location is the backup's own column)."""
        return BackupSpec.from_json(self.to_json())


@dataclass
class BackupResolution:
    """What a backup's spec resolved to when it was validated, and what a retry redoes."""

    # The namespaces it backs up (existing, named or selected).
    namespaces: list[str] = field(default_factory=list)
    # A VM backup: only these objects, as (type, namespace, name); None: all of the namespaces.
    objects: list[tuple[str, str, str]] | None = None
    # A retry that redoes only the failed volumes: their (namespace, claim); None otherwise.
    retry_claims: list[tuple[str, str]] | None = None

    @property
    def claims(self) -> set[tuple[str, str]] | None:
        """The claims to snapshot, `(namespace, name)`; None: every bound claim."""
        if self.retry_claims is not None:
            return set(self.retry_claims)
        if self.objects is not None:
            return {(ns, name) for kind, ns, name in self.objects if kind == CLAIMS}
        return None

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> BackupResolution:
        objects, retry = document.get(_OBJECTS), document.get(_RETRY_CLAIMS)
        return cls(
            namespaces=list(document.get(_NAMESPACES) or []),
            objects=None if objects is None else [(k, ns, n) for k, ns, n in objects],
            retry_claims=None if retry is None else [(ns, n) for ns, n in retry],
        )

    def to_json(self) -> dict[str, Any]:
        """Under the keys backups always stored them with; a None is left out."""
        document: dict[str, Any] = {_NAMESPACES: self.namespaces}
        if self.objects is not None:
            document[_OBJECTS] = [list(o) for o in self.objects]
        if self.retry_claims is not None:
            document[_RETRY_CLAIMS] = [list(c) for c in self.retry_claims]
        return document


CLAIMS = "persistentvolumeclaims"
_NAMESPACES, _OBJECTS, _RETRY_CLAIMS = "resolved_namespaces", "resolved_objects", "retry_claims"
RESOLUTION_KEYS = frozenset({_NAMESPACES, _OBJECTS, _RETRY_CLAIMS})


@dataclass
class RestoreSpec(_Stored):
    """A restore request (or preview): what to bring back, where, and over what exists."""

    namespace_mapping: dict[str, str] = field(default_factory=dict)
    storage_class_mapping: dict[str, str] = field(default_factory=dict)
    replace_policy: ReplacePolicy = ReplacePolicy.KEEP
    include_namespaces: list[str] = field(default_factory=list)
    include_types: list[str] = field(default_factory=list)
    exclude_types: list[str] = field(default_factory=list)
    preview: bool = False

    def __post_init__(self) -> None:
        self.replace_policy = ReplacePolicy(self.replace_policy)

    @property
    def replace(self) -> bool:
        return self.replace_policy is ReplacePolicy.REPLACE

    def target_namespace(self, namespace: str) -> str:
        """Where a backed-up namespace's objects go."""
        return self.namespace_mapping.get(namespace, namespace)

    def target_namespaces(self, backed_up: list[str]) -> set[str]:
        """The namespaces the restore writes into, of a backup of `backed_up` namespaces."""
        return {
            self.target_namespace(n)
            for n in backed_up
            if not self.include_namespaces or n in self.include_namespaces
        }
