"""What the hostpath CSI driver's components share: API paths, the journal, object helpers."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from kubernetes.client.exceptions import ApiException

from deploy.local.doubles.kube_json import Obj
from deploy.local.doubles.main_loop import log_action
from deploy.local.doubles.snapshot_crds import DRIVER, GROUP, VERSION

FINALIZER = "snapshot.storage.lifeboat.dev/protection"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"

CORE = "/api/v1"
STORAGE_CLASSES = "/apis/storage.k8s.io/v1/storageclasses"
SNAPSHOT_API = f"/apis/{GROUP}/{VERSION}"


class Journal:
    """What the driver did: the process log, and one JSON line per action in csi-log.jsonl."""

    def __init__(self, path: Path) -> None:
        self._path = path
        # The last problem reported per object, so a condition that lasts is reported once.
        self._problems: dict[str, str] = {}

    def record(self, action: str, **fields: Any) -> None:
        """Log the action and append it as one JSON line."""
        line = {"time": now().isoformat(timespec="milliseconds"), "action": action, **fields}
        log_action(action, **fields)
        with self._path.open("a") as out:
            out.write(json.dumps(line) + "\n")

    def problem(self, key: str, action: str, message: str) -> None:
        """Record a condition that blocks an object, unless it was the last one recorded."""
        if self._problems.get(key) != message:
            self._problems[key] = message
            self.record(action, object=key, message=message)

    def resolved(self, key: str) -> None:
        """The object is past its problem: a recurrence is recorded again."""
        self._problems.pop(key, None)


def ours(volume: Obj) -> bool:
    return (volume["metadata"].get("annotations") or {}).get(PROVISIONED_BY) == DRIVER


def name_of(obj: Obj) -> str:
    return str(obj["metadata"]["name"])


def uid_of(obj: Obj) -> str:
    return str(obj["metadata"]["uid"])


def ref_of(obj: Obj) -> str:
    """namespace/name of a namespaced object, as reports name it."""
    return f"{obj['metadata']['namespace']}/{name_of(obj)}"


def plain(name: str) -> str:
    """A name that is safe as one path component: data is only ever touched under our dirs."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"{name!r} is not a usable volume or snapshot handle")
    return name


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def age(meta: Obj) -> float:
    created = datetime.datetime.fromisoformat(meta["creationTimestamp"].replace("Z", "+00:00"))
    return (now() - created).total_seconds()


def rfc3339(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def timestamp(nanoseconds: int) -> str:
    return rfc3339(datetime.datetime.fromtimestamp(nanoseconds / 1e9, datetime.UTC))


def differs(current: Obj, wanted: Obj) -> bool:
    """Whether writing `wanted` changes a status; errors count as equal by message alone."""
    for field, value in wanted.items():
        if field == "error":
            if (current.get(field) or {}).get("message") != (value or {}).get("message"):
                return True
        elif current.get(field) != value:
            return True
    return False


def quantity(size: int) -> str:
    """Bytes as the API server writes a quantity: the largest exact binary suffix."""
    for suffix, factor in (("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if size and size % factor == 0:
            return f"{size // factor}{suffix}"
    return str(size)


def api_message(error: ApiException) -> str:
    try:
        message = json.loads(error.body or "")["message"]
    except (ValueError, KeyError, TypeError):
        message = error.body or ""
    return f"{error.status} {error.reason}: {message}"
