"""Validation of user-supplied kubeconfigs, before anything is stored.

A kubeconfig is code as much as data: `exec` and `auth-provider` entries run programs, and
file paths read the worker's disk. Lifeboat accepts only self-contained kubeconfigs (embedded
certificate data or a bearer token), and names the field at fault when it refuses one.

It is also untrusted YAML: aliases (`*name`) let a few hundred bytes expand to megabytes (each
level of a "billion laughs" multiplies the one below), and deep nesting exhausts the parser's
stack. Kubeconfigs never need aliases (`kubectl config view --flatten` writes none), so they
are refused, and so is nesting deeper than any kubeconfig goes. Values echoed in a refusal are
cut short: the message never grows with the input.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml

MAX_KUBECONFIG_BYTES = 256 * 1024
# A kubeconfig nests about six levels deep (clusters, an entry, its cluster, extensions...).
MAX_KUBECONFIG_DEPTH = 32
_SHOWN_CHARS = 80
_FILE_FIELDS = ("certificate-authority", "client-certificate", "client-key", "tokenFile")
_DATA_FIELDS = ("certificate-authority-data", "client-certificate-data", "client-key-data")


class KubeconfigError(ValueError):
    """A kubeconfig Lifeboat cannot use; the message names the field and the fix."""


def cut(text: str) -> str:
    """User input to echo in a message, cut to a few dozen characters."""
    return text if len(text) <= _SHOWN_CHARS else f"{text[: _SHOWN_CHARS - 3]}..."


class _KubeconfigLoader(yaml.SafeLoader):
    """Safe YAML without aliases and with bounded nesting."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
        if self.check_event(yaml.AliasEvent):
            raise KubeconfigError(
                f"uses a YAML alias at line {mark.line + 1}, column {mark.column + 1}; "
                "write the values out (`kubectl config view --raw --flatten` does)"
            )
        self._depth += 1
        try:
            if self._depth > MAX_KUBECONFIG_DEPTH:
                raise KubeconfigError(
                    f"nests deeper than {MAX_KUBECONFIG_DEPTH} levels at line {mark.line + 1}; "
                    "a kubeconfig needs far fewer"
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


@dataclass(frozen=True)
class KubeconfigSummary:
    """What the catalog shows about a kubeconfig: never its credentials."""

    server_url: str
    context: str
    cluster: str
    user: str


def _named(items: Any, kind: str, name: str) -> dict[str, Any]:
    if not isinstance(items, list):
        raise KubeconfigError(f"`{kind}` must be a list")
    for item in items:
        if isinstance(item, dict) and item.get("name") == name:
            body = item.get(kind.rstrip("s"))
            if not isinstance(body, dict):
                raise KubeconfigError(
                    f"`{kind}[{cut(str(name))}]` has no `{kind.rstrip('s')}` mapping"
                )
            return body
    raise KubeconfigError(f"`{kind}` has no entry named {cut(repr(name))}")


def parse_kubeconfig(text: str) -> dict[str, Any]:
    """Parse and validate a kubeconfig; return it as a dict ready for the Kubernetes client."""
    if len(text.encode()) > MAX_KUBECONFIG_BYTES:
        raise KubeconfigError(f"is larger than {MAX_KUBECONFIG_BYTES // 1024} KiB")
    try:
        config = yaml.load(text, Loader=_KubeconfigLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise KubeconfigError(f"is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(config, dict):
        raise KubeconfigError("must be a YAML mapping with clusters, contexts and users")
    if config.get("kind", "Config") != "Config":
        raise KubeconfigError(f"`kind` must be Config, not {cut(repr(config.get('kind')))}")
    summarize(config)
    return config


def summarize(config: dict[str, Any]) -> KubeconfigSummary:
    """Check the current context resolves to a usable cluster and user; say what they are."""
    context_name = config.get("current-context")
    if not context_name:
        raise KubeconfigError("`current-context` is missing: set it to the context to use")
    context = _named(config.get("contexts"), "contexts", context_name)
    cluster_name, user_name = context.get("cluster"), context.get("user")
    if not cluster_name or not user_name:
        raise KubeconfigError(
            f"context {cut(repr(context_name))} must name a `cluster` and a `user`"
        )
    cluster = _named(config.get("clusters"), "clusters", cluster_name)
    user = _named(config.get("users"), "users", user_name)
    # Where the messages below point: the names as written, cut short.
    in_cluster, in_user = f"clusters[{cut(str(cluster_name))}]", f"users[{cut(str(user_name))}]"

    server = cluster.get("server")
    parts = urlsplit(server) if isinstance(server, str) else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
        raise KubeconfigError(
            f"`{in_cluster}.server` must be the API server URL, "
            f"like https://host:6443 (got {cut(repr(server))})"
        )
    for field, body, where in (
        *((f, cluster, in_cluster) for f in _FILE_FIELDS),
        *((f, user, in_user) for f in _FILE_FIELDS),
    ):
        if body.get(field):
            raise KubeconfigError(
                f"`{where}.{field}` refers to a file; embed it as `{field}-data` "
                "(`kubectl config view --raw --flatten` does this)"
            )
    for field in ("exec", "auth-provider"):
        if user.get(field):
            raise KubeconfigError(
                f"`{in_user}.{field}` runs a program Lifeboat will not run; "
                "use a service-account token or a client certificate instead"
            )
    for field, body, where in (
        *((f, cluster, in_cluster) for f in _DATA_FIELDS),
        *((f, user, in_user) for f in _DATA_FIELDS),
    ):
        value = body.get(field)
        if value is None:
            continue
        try:
            base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            raise KubeconfigError(f"`{where}.{field}` is not valid base64") from None
    has_cert = user.get("client-certificate-data") and user.get("client-key-data")
    has_token = user.get("token") or (user.get("username") and user.get("password"))
    if not (has_cert or has_token):
        raise KubeconfigError(
            f"`{in_user}` has no credentials: give `token`, or "
            "`client-certificate-data` with `client-key-data`"
        )
    return KubeconfigSummary(
        server_url=str(server), context=context_name, cluster=cluster_name, user=user_name
    )
