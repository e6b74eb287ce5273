"""Names or uids on the command line: exactly one match, or an error saying what to type.

Names are unique per owner, not globally: two users may each have a cluster called `prod`, and
a super admin (or someone both are shared with) sees both; then only the uid tells them apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cli.api import Api
from cli.errors import CliError


@dataclass(frozen=True)
class Resource:
    """A kind of catalog object as the command line names it, and where the API keeps it."""

    command: str  # `lifeboat <command> list`
    plural: str
    path: str  # under /api/v1; also the API's kind in shares (`backup-locations`)

    @property
    def kind(self) -> str:
        return self.path.removeprefix("/")


CLUSTER = Resource("cluster", "clusters", "/clusters")
CLOUD_ACCOUNT = Resource("cloud-account", "cloud accounts", "/cloud-accounts")
LOCATION = Resource("location", "locations", "/backup-locations")
POLICY = Resource("policy", "policies", "/schedule-policies")
RULE = Resource("rule", "rules", "/rules")
ROLE = Resource("role", "roles", "/roles")
SCHEDULE = Resource("schedule", "schedules", "/backup-schedules")
BACKUP = Resource("backup", "backups", "/backups")
RESTORE = Resource("restore", "restores", "/restores")
RECEIVER = Resource("receiver", "receivers", "/notification-receivers")
SUBSCRIPTION = Resource("subscription", "subscriptions", "/notification-subscriptions")
# What `lifeboat share` accepts: the kinds the API shares, by their command names.
SHAREABLE = {
    r.command: r
    for r in (CLUSTER, CLOUD_ACCOUNT, LOCATION, POLICY, RULE, ROLE, SCHEDULE, BACKUP, RESTORE)
}


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def resolve(api: Api, resource: Resource, ref: str) -> dict[str, Any]:
    """The one object of `resource` whose uid or name is `ref`, among those the caller sees."""
    # Lists that page narrow to names starting so (the others ignore the filter).
    listed: list[dict[str, Any]] = api.get_all(resource.path, name_prefix=ref)["items"]
    named = [item for item in listed if item["name"] == ref]
    if not named:
        every: list[dict[str, Any]] = api.get_all(resource.path)["items"]
        by_uid = [item for item in every if item["uid"] == ref]
        if by_uid:
            return by_uid[0]
    if len(named) == 1:
        return named[0]
    if not named:
        raise CliError(
            f"no {resource.command} named {ref!r} that you may see: "
            f"`lifeboat {resource.command} list`"
        )
    owners = sorted(item["owner"] for item in named)
    raise CliError(
        f"ambiguous: {len(named)} {resource.plural} named {ref}, owners {_and(owners)}, use the uid"
    )


def uid_of(api: Api, resource: Resource, ref: str) -> str:
    uid: str = resolve(api, resource, ref)["uid"]
    return uid
