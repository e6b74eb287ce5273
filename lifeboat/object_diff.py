"""What replacing a Kubernetes object would change, field by field: a restore preview shows it
for each object the restore would replace.

A change is `{"path", "change", "old", "new"}`: `path` a JSON path (`spec.replicas`,
`spec.containers[0].image`, `metadata.labels["app.kubernetes.io/name"]`), `change` one of
`changed`, `added` (only the backup has it: no `old`) or `removed` (only the cluster has it: no
`new`), `old` the value in the cluster, `new` the backup's. A Secret's values are never shown:
its changes outside `metadata` and `type` carry `hidden: true` instead of `old` and `new`.
"""

from __future__ import annotations

import re
from typing import Any

# Changes kept per object; one more entry says how many were left out.
MAX_CHANGES = 50
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Holds the whole object as last applied: a Secret's values too.
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _step(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f'{path}["{key}"]'


def _walk(path: str, old: Any, new: Any, found: list[tuple[str, str, Any, Any]]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            _walk(_step(path, key), old.get(key, _ABSENT), new.get(key, _ABSENT), found)
    elif isinstance(old, list) and isinstance(new, list):
        for index in range(max(len(old), len(new))):
            _walk(
                _step(path, index),
                old[index] if index < len(old) else _ABSENT,
                new[index] if index < len(new) else _ABSENT,
                found,
            )
    elif old is _ABSENT:
        found.append((path, "added", _ABSENT, new))
    elif new is _ABSENT:
        found.append((path, "removed", old, _ABSENT))
    elif old != new:
        found.append((path, "changed", old, new))


class _Absent:
    def __repr__(self) -> str:
        return "absent"


_ABSENT: Any = _Absent()


def _shown(kind: str, path: str) -> bool:
    """Whether a changed value may be shown: not a Secret's data, nor its last-applied copy."""
    if kind != "Secret":
        return True
    return (path == "type" or path.startswith("metadata")) and _LAST_APPLIED not in path


def changes(
    kind: str, current: dict[str, Any], restored: dict[str, Any], *, ignore: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """The fields that replacing `current` (in the cluster) with `restored` (the backup's)
    changes, in path order; `ignore` lists annotation keys left out on both sides."""
    current, restored = _without(current, ignore), _without(restored, ignore)
    found: list[tuple[str, str, Any, Any]] = []
    _walk("", current, restored, found)
    listed: list[dict[str, Any]] = []
    for path, change, old, new in found[:MAX_CHANGES]:
        entry: dict[str, Any] = {"path": path, "change": change}
        if not _shown(kind, path):
            entry["hidden"] = True
        else:
            if old is not _ABSENT:
                entry["old"] = old
            if new is not _ABSENT:
                entry["new"] = new
        listed.append(entry)
    if len(found) > MAX_CHANGES:
        listed.append({"path": "", "change": f"{len(found) - MAX_CHANGES} more not listed"})
    return listed


def _without(obj: dict[str, Any], annotations: tuple[str, ...]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    kept = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in annotations}
    trimmed = {k: v for k, v in meta.items() if k != "annotations"}
    if kept:
        trimmed["annotations"] = kept
    return {**obj, "metadata": trimmed}
