"""The per-user config file: named contexts (server, issuer, client, tokens), like a kubeconfig.

`$LIFEBOAT_CONFIG`, else `~/.config/lifeboat/config.yaml`; written with mode 0600 because it
holds tokens (and the client secret when the provider's client is confidential).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cli.errors import CliError, Exit


@dataclass
class Context:
    """One server signed in to, with the tokens of that sign-in."""

    server: str
    issuer: str
    client_id: str
    client_secret: str = ""
    username: str = ""
    access_token: str = ""
    refresh_token: str = ""
    # Seconds since the epoch after which the access token is refreshed before use.
    expires_at: float = 0.0


@dataclass
class Config:
    current_context: str = ""
    contexts: dict[str, Context] = field(default_factory=dict)

    def current(self) -> tuple[str, Context]:
        """The context in use, or CliError telling how to get one."""
        if not self.current_context or self.current_context not in self.contexts:
            raise CliError("not signed in: run `lifeboat login --server URL`", Exit.SIGN_IN)
        return self.current_context, self.contexts[self.current_context]


def config_path() -> Path:
    if env := os.environ.get("LIFEBOAT_CONFIG"):
        return Path(env)
    return Path.home() / ".config" / "lifeboat" / "config.yaml"


def load() -> Config:
    path = config_path()
    if not path.exists():
        return Config()
    try:
        raw: Any = yaml.safe_load(path.read_text()) or {}
        contexts = {name: Context(**value) for name, value in raw.get("contexts", {}).items()}
    except (yaml.YAMLError, TypeError, AttributeError) as exc:
        raise CliError(f"{path} is not a lifeboat config file ({exc}): fix or remove it") from exc
    return Config(current_context=raw.get("current-context", ""), contexts=contexts)


def save(config: Config) -> None:
    """Write the file with mode 0600 from the start, so tokens are never readable by others."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    document = {
        "current-context": config.current_context,
        "contexts": {name: asdict(context) for name, context in config.contexts.items()},
    }
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        yaml.safe_dump(document, stream, sort_keys=False)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
