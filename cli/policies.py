"""`lifeboat policy|rule|schedule ...`: when backups run, what is kept, what runs around them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from cli import crud
from cli.api import Api
from cli.errors import CliError, Exit
from cli.operations import (
    ClusterOption,
    LocationOption,
    NamespacesOption,
    PostRuleOption,
    PreRuleOption,
    backup_spec,
)
from cli.output import Format, FormatOption, YesOption, console, emit
from cli.resolve import CLUSTER, LOCATION, POLICY, RULE, SCHEDULE, uid_of

policy_app = typer.Typer(help="Schedule policies: when backups run and how many are kept.")
rule_app = typer.Typer(help="Pre- and post-exec rules: commands run in pods around snapshots.")
schedule_app = typer.Typer(help="Backup schedules: a backup taken as a policy says, again.")


def _summary(schedule: dict[str, Any]) -> str:
    when = schedule.get("time", "")
    if schedule["type"] == "interval":
        return f"every {schedule['every_minutes']} min"
    if schedule["type"] == "weekly":
        return f"weekly {','.join(schedule['days'])} {when}"
    return f"{schedule['type']} {when}"


POLICIES = crud.Listing(
    POLICY,
    ("name", "owner", "schedule", "keep last", "uid"),
    lambda p: (p["name"], p["owner"], _summary(p["schedule"]), p["retention"]["keep_last"],
               p["uid"]),
    ("uid", "name", "owner", "schedule", "retention", "created_at"),
)  # fmt: skip
RULES = crud.Listing(
    RULE,
    ("name", "owner", "items", "uid"),
    lambda r: (r["name"], r["owner"], len(r["rules"]), r["uid"]),
    ("uid", "name", "owner", "rules", "created_at"),
)
SCHEDULES = crud.Listing(
    SCHEDULE,
    ("name", "owner", "status", "last backup", "uid"),
    crud.columns("name", "owner", "status", "last_backup_at", "uid"),
    ("uid", "name", "owner", "status", "status_reason", "policy_uid", "cluster_uid", "spec",
     "suspended", "last_backup_at", "last_due_at", "missed", "next_runs", "policy_update_error"),
)  # fmt: skip
crud.add_list_get_delete(policy_app, POLICIES, "schedule policies")
crud.add_list_get_delete(rule_app, RULES, "rules")
crud.add_list(schedule_app, SCHEDULES, "The backup schedules you may see.")
crud.add_get(schedule_app, SCHEDULES, "One schedule with its next runs, by name or uid.")

FileOption = Annotated[
    Path | None,
    typer.Option("--file", "-f", help="The object as YAML or JSON, as the API takes it"),
]


def _document(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except OSError as exc:
        raise CliError(f"cannot read --file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise CliError(f"--file {path} is neither YAML nor JSON: {exc}") from exc


@policy_app.command("create")
def create_policy(
    name: Annotated[str, typer.Argument(help="A name for the policy, unique among yours")],
    file: FileOption = None,
    every_minutes: Annotated[
        int, typer.Option(help="Back up every N minutes", show_default=False)
    ] = 0,
    daily: Annotated[str, typer.Option(help="Back up once a day at HH:MM")] = "",
    timezone: Annotated[str, typer.Option(help="An IANA time zone for --daily")] = "UTC",
    keep_last: Annotated[
        int, typer.Option(help="Keep the last N backups (default: 7)", show_default=False)
    ] = 0,
    output: FormatOption = Format.TABLE,
) -> None:
    """Create a schedule policy: from --every-minutes or --daily, or a whole one from --file
    (weekly and monthly schedules, grandfather-father-son retention)."""
    if file is not None:
        body = _document(file)
        if not isinstance(body, dict):
            raise CliError(f"--file {file}: give a mapping with schedule and retention")
    elif bool(every_minutes) == bool(daily):
        raise CliError("give one of --every-minutes, --daily or --file", Exit.USAGE)
    elif every_minutes:
        body = {"schedule": {"type": "interval", "every_minutes": every_minutes}}
    else:
        body = {"schedule": {"type": "daily", "time": daily, "timezone": timezone}}
    if keep_last:
        body["retention"] = {**body.get("retention", {}), "keep_last": keep_last}
    emit(Api().post("/schedule-policies", {**body, "name": name}), output, POLICIES.show)


@rule_app.command("create")
def create_rule(
    name: Annotated[str, typer.Argument(help="A name for the rule, unique among yours")],
    file: Annotated[
        Path,
        typer.Option(
            "--file",
            "-f",
            help="The rule's items as YAML or JSON: a list of {pod_selector, namespaces, "
            "container, actions: [{command, background, timeout_seconds, on_error}]}",
        ),
    ],
    output: FormatOption = Format.TABLE,
) -> None:
    """Create a rule: where (pods by labels, a container) and which commands to run there."""
    items = _document(file)
    if isinstance(items, dict) and "rules" in items:
        items = items["rules"]
    emit(Api().post("/rules", {"name": name, "rules": items}), output, RULES.show)


ScheduleRef = Annotated[str, crud.ref_argument(SCHEDULE)]


@schedule_app.command("create")
def create_schedule(
    name: Annotated[str, typer.Argument(help="A name for the schedule, unique among yours")],
    policy: Annotated[str, typer.Option(help="The schedule policy's name or uid")],
    cluster: ClusterOption,
    location: LocationOption,
    namespace: NamespacesOption,
    pre_rule: PreRuleOption = "",
    post_rule: PostRuleOption = "",
    output: FormatOption = Format.TABLE,
) -> None:
    """Back up namespaces of a cluster as a schedule policy says, keeping what it says."""
    api = Api()
    body = {
        "name": name,
        "policy_uid": uid_of(api, POLICY, policy),
        "backup": backup_spec(api, cluster, location, namespace, pre_rule, post_rule),
    }
    emit(api.post("/backup-schedules", body), output, SCHEDULES.show)


def _act(ref: str, verb: str, output: Format) -> None:
    api = Api()
    emit(api.post(f"/backup-schedules/{uid_of(api, SCHEDULE, ref)}/{verb}"), output, SCHEDULES.show)


@schedule_app.command("suspend")
def suspend_schedule(ref: ScheduleRef, output: FormatOption = Format.TABLE) -> None:
    """Stop the schedule's runs until it is resumed."""
    _act(ref, "suspend", output)


@schedule_app.command("resume")
def resume_schedule(ref: ScheduleRef, output: FormatOption = Format.TABLE) -> None:
    """Run the schedule again (runs due while it was suspended are not made up)."""
    _act(ref, "resume", output)


@schedule_app.command("run-now")
def run_schedule_now(ref: ScheduleRef) -> None:
    """Take the schedule's backup now, outside its calendar (also while suspended)."""
    api = Api()
    answer = api.post(f"/backup-schedules/{uid_of(api, SCHEDULE, ref)}/run-now")
    console.print(answer["message"], highlight=False)


@schedule_app.command("edit")
def edit_schedule(
    ref: ScheduleRef,
    name: Annotated[str, typer.Option(help="A new name")] = "",
    policy: Annotated[str, typer.Option(help="Another schedule policy (name or uid)")] = "",
    cluster: Annotated[str, typer.Option(help="Another cluster (name or uid)")] = "",
    location: Annotated[str, typer.Option(help="Another backup location (name or uid)")] = "",
    namespace: Annotated[
        list[str] | None,
        typer.Option("--namespace", help="Back up these namespaces instead (repeat for several)"),
    ] = None,
    label_selector: Annotated[
        str | None, typer.Option(help="Back up only objects with these labels ('' for all)")
    ] = None,
    pre_rule: Annotated[
        str | None, typer.Option(help="Another pre rule (name or uid; '' for none)")
    ] = None,
    post_rule: Annotated[
        str | None, typer.Option(help="Another post rule (name or uid; '' for none)")
    ] = None,
    output: FormatOption = Format.TABLE,
) -> None:
    """Change a schedule (what is not given stays); its uid and backups stay, its Temporal
    Schedule follows."""
    api = Api()
    uid = uid_of(api, SCHEDULE, ref)
    current = api.get(f"/backup-schedules/{uid}")
    backup = {**current["spec"], "cluster_uid": current["cluster_uid"]}
    backup = {k: v for k, v in backup.items() if v not in ("", None)}
    if cluster:
        backup["cluster_uid"] = uid_of(api, CLUSTER, cluster)
    if location:
        backup["location_uid"] = uid_of(api, LOCATION, location)
    if namespace:
        backup["namespaces"] = namespace
    if label_selector is not None:
        backup["label_selector"] = label_selector
    for key, rule in (("pre_rule_uid", pre_rule), ("post_rule_uid", post_rule)):
        if rule is not None:
            backup[key] = uid_of(api, RULE, rule) if rule else None
    body: dict[str, Any] = {"backup": backup}
    if name:
        body["name"] = name
    if policy:
        body["policy_uid"] = uid_of(api, POLICY, policy)
    emit(api.patch(f"/backup-schedules/{uid}", body), output, SCHEDULES.show)


@schedule_app.command("delete")
def delete_schedule(
    ref: ScheduleRef,
    delete_backups: Annotated[
        bool,
        typer.Option(
            "--delete-backups/--keep-backups",
            help="Delete the schedule's backups too, their data in the bucket included "
            "(default: keep them)",
        ),
    ] = False,
    yes: YesOption = False,
) -> None:
    """Delete a schedule; its backups are kept unless --delete-backups (asks first)."""
    crud.delete(Api(), SCHEDULE, ref, yes, backups="delete" if delete_backups else "keep")
