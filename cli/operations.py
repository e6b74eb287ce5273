"""`lifeboat backup ...` and `lifeboat restore ...`, with `--wait` following live progress."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from cli import crud
from cli.api import Api
from cli.errors import CliError, Exit
from cli.output import (
    Format,
    FormatOption,
    YesOption,
    confirm,
    console,
    emit,
    errors,
    human_bytes,
    print_fields,
    print_table,
)
from cli.resolve import BACKUP, CLUSTER, LOCATION, RESTORE, RULE, Resource, uid_of

backup_app = typer.Typer(help="Backups of namespaces: create, follow, inspect.")
restore_app = typer.Typer(help="Restores of backups, previewed first if you like.")

RUNNING = ("Pending", "InProgress")
POLL_SECONDS = 2.0
BackupRef = Annotated[str, crud.ref_argument(BACKUP)]
WaitOption = Annotated[
    bool,
    typer.Option("--wait", help="Follow the progress until it ends; exit 5 unless it ends Success"),
]
BACKUP_FIELDS = (
    "uid", "name", "owner", "status", "stage", "reason", "cluster_uid", "location_uid",
    "resource_count", "volume_count", "size_bytes", "attempt", "started_at", "finished_at",
)  # fmt: skip
BACKUPS = crud.Listing(
    BACKUP,
    ("name", "owner", "status", "size", "started", "uid"),
    lambda b: (b["name"], b["owner"], b["status"], human_bytes(b["size_bytes"]), b["started_at"],
               b["uid"]),
    BACKUP_FIELDS,
)  # fmt: skip
RESTORE_FIELDS = (
    "uid", "name", "owner", "status", "stage", "reason", "backup_uid", "cluster_uid",
    "started_at", "finished_at",
)  # fmt: skip
RESTORES = crud.Listing(
    RESTORE,
    ("name", "owner", "status", "backup", "started", "uid"),
    crud.columns("name", "owner", "status", "backup_uid", "started_at", "uid"),
    RESTORE_FIELDS,
)
# The columns of per-resource and per-volume results, in this order where present.
RESULT_COLUMNS = (
    "namespace", "type", "kind", "name", "pvc", "action", "status", "bytes_total", "reason",
)  # fmt: skip


def _results(title: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print(f"{title}: none", highlight=False)
        return
    columns = [c for c in RESULT_COLUMNS if any(c in row for row in rows)]
    print_table(title, columns, [[row.get(c) for c in columns] for row in rows])


def _changes(resources: list[dict[str, Any]]) -> None:
    """The fields a preview's replaces would change (a Secret's values are never shown)."""
    rows = [
        [
            f"{r['kind']} {r['namespace'] + '/' if r['namespace'] else ''}{r['name']}",
            c["path"],
            c["change"],
            "(hidden)" if c.get("hidden") else c.get("old"),
            "(hidden)" if c.get("hidden") else c.get("new"),
        ]
        for r in resources
        for c in r.get("changes") or []
    ]
    if rows:
        print_table("changes (cluster -> backup)", ("object", "path", "change", "old", "new"), rows)


def _describe(obj: dict[str, Any], fields: tuple[str, ...]) -> None:
    print_fields(obj, fields)
    _results("resources", obj["resources"])
    _changes(obj["resources"])
    _results("volumes", obj["volumes"])


def _wait(api: Api, path: str, noun: str) -> dict[str, Any]:
    """Poll `path` until the operation ends, showing its stage and bytes moved (on stderr,
    so `-o json` output stays parseable)."""
    columns = (
        TextColumn("[bold]{task.fields[status]}[/] {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=errors, transient=False) as progress:
        task = progress.add_task("", total=None, status="Pending")
        moved: dict[str, int] = {}
        while True:
            obj: dict[str, Any] = api.get(path)
            # Live progress is there only while data moves: keep the last figures shown.
            moved = obj.get("progress") or moved
            progress.update(
                task,
                description=obj["stage"] or "",
                status=obj["status"],
                completed=moved.get("bytes_done", 0),
                total=moved.get("bytes_total") or None,
            )
            if obj["status"] not in RUNNING:
                break
            time.sleep(POLL_SECONDS)
    if obj["status"] != "Success":
        verb = "describe" if noun == "backup" else "get"
        raise CliError(
            f"{noun} {obj['name']} ended {obj['status']}: {obj['reason'] or 'no reason given'} "
            f"(see `lifeboat {noun} {verb} {obj['uid']}`)",
            Exit.OPERATION_FAILED,
        )
    errors.print(f"{noun} {obj['name']} ended Success", highlight=False)
    return obj


def backup_spec(
    api: Api, cluster: str, location: str, namespaces: list[str], pre_rule: str, post_rule: str
) -> dict[str, Any]:
    """What a backup (or each run of a schedule) takes, with names resolved to uids."""
    spec: dict[str, Any] = {
        "cluster_uid": uid_of(api, CLUSTER, cluster),
        "location_uid": uid_of(api, LOCATION, location),
        "namespaces": namespaces,
    }
    for key, rule in (("pre_rule_uid", pre_rule), ("post_rule_uid", post_rule)):
        if rule:
            spec[key] = uid_of(api, RULE, rule)
    return spec


ClusterOption = Annotated[str, typer.Option(help="The cluster's name or uid", show_default=False)]
LocationOption = Annotated[
    str, typer.Option(help="The backup location's name or uid", show_default=False)
]
NamespacesOption = Annotated[
    list[str],
    typer.Option("--namespace", help="A namespace to back up (repeat for several)"),
]
PreRuleOption = Annotated[
    str, typer.Option(help="A rule (name or uid) to run in the pods before the snapshots")
]
PostRuleOption = Annotated[
    str, typer.Option(help="A rule (name or uid) to run in the pods after the snapshots")
]


@backup_app.command("create")
def create_backup(
    cluster: ClusterOption,
    location: LocationOption,
    namespace: NamespacesOption,
    name: Annotated[str, typer.Option(help="Default: <cluster>-<yyyymmddhhmmss>")] = "",
    pre_rule: PreRuleOption = "",
    post_rule: PostRuleOption = "",
    wait: WaitOption = False,
    output: FormatOption = Format.TABLE,
) -> None:
    """Back up namespaces of a cluster into a backup location."""
    api = Api()
    body = backup_spec(api, cluster, location, namespace, pre_rule, post_rule)
    if name:
        body["name"] = name
    backup = api.post("/backups", body)
    if wait:
        backup = _wait(api, f"/backups/{backup['uid']}", "backup")
    emit(backup, output, BACKUPS.show)


crud.add_list(backup_app, BACKUPS, "The backups you may see.")
crud.add_get(backup_app, BACKUPS, "One backup's status and counts, by name or uid.")


@backup_app.command("describe")
def describe_backup(ref: BackupRef, output: FormatOption = Format.TABLE) -> None:
    """One backup with its per-resource and per-volume results and their reasons."""
    api = Api()
    emit(
        api.get(f"/backups/{uid_of(api, BACKUP, ref)}"),
        output,
        lambda b: _describe(b, BACKUP_FIELDS),
    )


def _control(resource: Resource, ref: str, verb: str, *, wait: bool = False) -> None:
    """Cancel or retry a backup or a restore, say what the API does, and follow it if asked."""
    api = Api()
    path = f"{resource.path}/{uid_of(api, resource, ref)}"
    console.print(api.post(f"{path}/{verb}")["message"], highlight=False)
    if wait:
        _wait(api, path, resource.command)


@backup_app.command("retry")
def retry_backup(ref: BackupRef, wait: WaitOption = False) -> None:
    """Run again only what failed (a PartialSuccess's failed volumes; else the whole backup)."""
    _control(BACKUP, ref, "retry", wait=wait)


@backup_app.command("cancel")
def cancel_backup(ref: BackupRef) -> None:
    """Cancel a running backup: its post rules still run and its snapshots are removed."""
    _control(BACKUP, ref, "cancel")


VERIFICATION_FIELDS = (
    "status", "reason", "started_at", "finished_at", "cluster_uid", "differences_total",
)  # fmt: skip
DIFFERENCE_COLUMNS = ("kind", "namespace", "name", "path", "problem")


def _show_verification(verification: dict[str, Any]) -> None:
    print_fields(verification, VERIFICATION_FIELDS)
    _results("volumes", verification.get("volumes") or [])
    rows = verification.get("differences") or []
    if rows:
        print_table(
            "differences",
            DIFFERENCE_COLUMNS,
            [[r.get(c) for c in DIFFERENCE_COLUMNS] for r in rows],
        )
    else:
        console.print("differences: none", highlight=False)


@backup_app.command("verify")
def verify_backup(
    ref: BackupRef,
    cluster: Annotated[
        str, typer.Option(help="Verify in this cluster (name or uid); default: the backup's own")
    ] = "",
    wait: Annotated[
        bool,
        typer.Option("--wait", help="Wait for the result and show it; exit 5 unless it Passed"),
    ] = False,
    output: FormatOption = Format.TABLE,
) -> None:
    """Restore a backup into scratch namespaces, compare every object and file with what it
    recorded, then remove them; the result is the backup's verification."""
    api = Api()
    uid = uid_of(api, BACKUP, ref)
    body = {"cluster_uid": uid_of(api, CLUSTER, cluster)} if cluster else {}

    def verification() -> dict[str, Any]:
        found: dict[str, Any] = api.get(f"/backups/{uid}").get("verification") or {}
        return found

    before = verification().get("started_at")
    # On stderr: with -o json|yaml, stdout is the result alone.
    errors.print(api.post(f"/backups/{uid}/verify", body)["message"], highlight=False)
    if wait:
        result = wait_for_check(verification, before)
        emit(result, output, _show_verification)
        passed_or_fail(result, f"the verification of backup {ref}")


def wait_for_check(read: Callable[[], dict[str, Any]], before: str | None) -> dict[str, Any]:
    """Poll `read` until it gives the result of the check (a verification, a repository check)
    started after the one `before` named: not the earlier one, and not while it runs."""
    while True:
        result = read()
        if result.get("started_at") not in (None, before) and result["status"] != "InProgress":
            return result
        time.sleep(POLL_SECONDS)


def passed_or_fail(result: dict[str, Any], what: str) -> None:
    """Exit 5 (operation failed) unless the check `result` Passed."""
    if result["status"] != "Passed":
        raise CliError(
            f"{what} ended {result['status']}: {result['reason'] or 'no reason given'}",
            Exit.OPERATION_FAILED,
        )


crud.add_delete(
    backup_app,
    BACKUP,
    "Delete a backup and its data in the bucket (a workflow; asks first, --yes does not).",
)


def _mapping(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        source, sep, target = pair.partition("=")
        if not sep or not source or not target:
            raise CliError(
                f"--namespace-mapping {pair!r}: write it as source=target, e.g. shop=shop-copy",
                Exit.USAGE,
            )
        mapping[source] = target
    return mapping


def _show_preview(preview: dict[str, Any], output: Format) -> None:
    """The plan before the question; on stderr when stdout carries `-o json|yaml`, so stdout
    stays one parseable object (Rich writes to whatever sys.stdout is at the time)."""
    if output is Format.TABLE:
        _describe(preview, RESTORE_FIELDS)
        return
    with contextlib.redirect_stdout(sys.stderr):
        _describe(preview, RESTORE_FIELDS)


@restore_app.command("create")
def create_restore(
    backup: Annotated[str, typer.Option(help="The backup's name or uid", show_default=False)],
    namespace_mapping: Annotated[
        list[str] | None,
        typer.Option(help="Restore namespace a into b: a=b (repeat for several)"),
    ] = None,
    cluster: Annotated[
        str, typer.Option(help="Restore into this cluster (name or uid); default: the backup's")
    ] = "",
    replace: Annotated[
        bool,
        typer.Option(
            "--replace/--keep",
            help="Objects that exist already: replace them, or keep them and skip theirs",
        ),
    ] = False,
    preview: Annotated[
        bool,
        typer.Option(
            help="First show what would be created, replaced or skipped, then ask to go on"
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(help="Only show what would be created, replaced or skipped; restore nothing"),
    ] = False,
    yes: YesOption = False,
    wait: WaitOption = False,
    output: FormatOption = Format.TABLE,
) -> None:
    """Restore a backup into its cluster or another (namespaces optionally mapped to new names)."""
    mapping = _mapping(namespace_mapping or [])  # a typo is reported before any call
    api = Api()
    body: dict[str, Any] = {
        "backup_uid": uid_of(api, BACKUP, backup),
        "namespace_mapping": mapping,
        "replace_policy": "replace" if replace else "keep",
    }
    if cluster:
        body["cluster_uid"] = uid_of(api, CLUSTER, cluster)
    if dry_run:
        emit(api.post("/restores/preview", body), output, lambda r: _describe(r, RESTORE_FIELDS))
        return
    if preview:
        _show_preview(api.post("/restores/preview", body), output)
        confirm("Restore as shown?", yes)
    restore = api.post("/restores", body)
    if wait:
        restore = _wait(api, f"/restores/{restore['uid']}", "restore")
    emit(restore, output, lambda r: _describe(r, RESTORE_FIELDS))


@restore_app.command("get")
def get_restore(
    ref: Annotated[str, crud.ref_argument(RESTORE)], output: FormatOption = Format.TABLE
) -> None:
    """One restore with its per-resource and per-volume results."""
    api = Api()
    emit(
        api.get(f"/restores/{uid_of(api, RESTORE, ref)}"),
        output,
        lambda r: _describe(r, RESTORE_FIELDS),
    )


crud.add_list(restore_app, RESTORES, "The restores you may see.")
RestoreRef = Annotated[str, crud.ref_argument(RESTORE)]


@restore_app.command("cancel")
def cancel_restore(ref: RestoreRef) -> None:
    """Cancel a running (or waiting) restore: it ends Aborted; what it applied stays."""
    _control(RESTORE, ref, "cancel")


@restore_app.command("retry")
def retry_restore(ref: RestoreRef, wait: WaitOption = False) -> None:
    """Restore again only what failed or was not reached; what was restored is left alone."""
    _control(RESTORE, ref, "retry", wait=wait)


crud.add_delete(
    restore_app,
    RESTORE,
    "Delete a restore's record; the cluster and the backup are untouched (asks first).",
)
