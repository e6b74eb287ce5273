"""Pre- and post-exec rules: commands run in application pods around a backup's snapshot.

A rule set is a list of items; each item picks pods by labels (in some or all of the backup's
namespaces), a container, and the actions to run there in order. Pre rules quiesce an
application before the snapshot (flush tables, freeze writes); post rules undo that afterwards.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_LABEL_KEY = re.compile(rf"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?{_NAME}$")
_LABEL_VALUE = re.compile(rf"^({_NAME})?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _selector(labels: dict[str, str]) -> dict[str, str]:
    for key, value in labels.items():
        prefix, _, name = key.rpartition("/")
        if not _LABEL_KEY.match(key) or len(name) > 63 or len(prefix) > 253:
            raise ValueError(f"{key!r} is not a Kubernetes label key (such as 'app' or 'x.io/y')")
        if not _LABEL_VALUE.match(value) or len(value) > 63:
            raise ValueError(f"{value!r} (for {key!r}) is not a Kubernetes label value")
    return labels


def _command(command: str) -> str:
    if not command.strip():
        raise ValueError("give the command to run; it is empty")
    return command


def _dns_label(name: str) -> str:
    if not _DNS_LABEL.match(name) or len(name) > 63:
        raise ValueError(
            f"{name!r} is not a Kubernetes name: lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters"
        )
    return name


# The validators check these with their own messages; the schema shows the same rules.
DnsLabel = Annotated[
    str,
    AfterValidator(_dns_label),
    Field(max_length=63, json_schema_extra={"pattern": _DNS_LABEL.pattern}),
]
PodSelector = Annotated[
    dict[
        Annotated[str, Field(max_length=317, json_schema_extra={"pattern": _LABEL_KEY.pattern})],
        Annotated[str, Field(max_length=63, json_schema_extra={"pattern": _LABEL_VALUE.pattern})],
    ],
    Field(
        min_length=1, max_length=64, description="matchLabels: pods carrying all of these labels"
    ),
    AfterValidator(_selector),
]


class OnError(enum.StrEnum):
    """What a failed or timed-out action does to the backup."""

    FAIL = "fail"
    CONTINUE = "continue"


class _Strict(BaseModel):
    # A misspelt key would otherwise be dropped and its default used in silence.
    model_config = ConfigDict(extra="forbid")


class RuleAction(_Strict):
    """One command, run with `sh -c` in the container; actions run in order.

    A foreground action (the default) must finish before the next one starts. A `background`
    action is started and kept running until the snapshot is taken, then stopped; the next
    action starts without waiting for it. Use it for a command that must hold something while
    the snapshot is taken, such as a database session holding a read lock.

    `timeout_seconds` bounds how long any action runs: a foreground action past it, or a
    background one still waiting for the snapshot past it, has failed, and `on_error` says
    whether that fails the backup or is only recorded.
    """

    command: Annotated[
        str,
        # No NUL (PostgreSQL refuses it) nor other control characters but tab and newlines.
        Field(max_length=16 << 10, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"),
        AfterValidator(_command),
    ] = Field(description="Run with sh -c")
    background: bool = Field(default=False, strict=True)
    timeout_seconds: int = Field(default=60, strict=True, ge=1, le=3600)
    on_error: OnError = OnError.FAIL


class RuleItem(_Strict):
    """Where to run actions: the selected pods, in `namespaces` (all when omitted)."""

    pod_selector: PodSelector
    namespaces: list[DnsLabel] | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="Omit for every namespace of the backup",
    )
    container: DnsLabel | None = Field(
        default=None, description="Omit for the pod's first container"
    )
    actions: list[RuleAction] = Field(min_length=1, max_length=100)


RuleSet = Annotated[list[RuleItem], Field(min_length=1, max_length=100)]
