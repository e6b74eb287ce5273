"""`lifeboat backup ...` and `lifeboat restore ...`, with `--wait` following live progress."""

from __future__ import annotations

import time
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

from cli.api import Api
from cli.errors import CliError, Exit
from cli.output import (
    Format,
    FormatOption,
    console,
    emit,
    errors,
    human_bytes,
    print_fields,
    print_table,
)
from cli.resolve import resolve

backup_app = typer.Typer(help="Backups of namespaces: create, follow, inspect.")
restore_app = typer.Typer(help="Restores of backups, previewed first if you like.")

RUNNING = ("Pending", "InProgress")
POLL_SECONDS = 2.0
BackupRef = Annotated[str, typer.Argument(help="The backup's name or uid")]
WaitOption = Annotated[
    bool,
    typer.Option("--wait", help="Follow the progress until it ends; exit 5 unless it ends Success"),
]
BACKUP_FIELDS = (
    "uid", "name", "owner", "status", "stage", "reason", "cluster_uid", "location_uid",
    "resource_count", "volume_count", "size_bytes", "attempt", "started_at", "finished_at",
)  # fmt: skip
RESTORE_FIELDS = (
    "uid", "name", "owner", "status", "stage", "reason", "backup_uid", "cluster_uid",
    "started_at", "finished_at",
)  # fmt: skip
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


def _describe(obj: dict[str, Any], fields: tuple[str, ...]) -> None:
    print_fields(obj, fields)
    _results("resources", obj["resources"])
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


@backup_app.command("create")
def create_backup(
    cluster: Annotated[str, typer.Option(help="The cluster's name or uid")],
    location: Annotated[str, typer.Option(help="The backup location's name or uid")],
    namespace: Annotated[
        list[str], typer.Option(help="A namespace to back up (repeat for several)")
    ],
    name: Annotated[str, typer.Option(help="Default: <cluster>-<yyyymmddhhmmss>")] = "",
    wait: WaitOption = False,
    output: FormatOption = Format.TABLE,
) -> None:
    """Back up namespaces of a cluster into a backup location."""
    api = Api()
    body: dict[str, Any] = {
        "cluster_uid": resolve(api, "/clusters", "cluster", cluster)["uid"],
        "location_uid": resolve(api, "/backup-locations", "location", location)["uid"],
        "namespaces": namespace,
    }
    if name:
        body["name"] = name
    backup = api.post("/backups", body)
    if wait:
        backup = _wait(api, f"/backups/{backup['uid']}", "backup")
    emit(backup, output, lambda b: print_fields(b, BACKUP_FIELDS))


@backup_app.command("list")
def list_backups(output: FormatOption = Format.TABLE) -> None:
    """The backups you may see."""

    def table(page: dict[str, Any]) -> None:
        rows = [
            (b["name"], b["owner"], b["status"], human_bytes(b["size_bytes"]), b["started_at"],
             b["uid"])
            for b in page["items"]
        ]  # fmt: skip
        print_table("", ("name", "owner", "status", "size", "started", "uid"), rows)

    emit(Api().get("/backups"), output, table)


def _backup(api: Api, ref: str) -> dict[str, Any]:
    found: dict[str, Any] = api.get(f"/backups/{resolve(api, '/backups', 'backup', ref)['uid']}")
    return found


@backup_app.command("get")
def get_backup(ref: BackupRef, output: FormatOption = Format.TABLE) -> None:
    """One backup's status and counts."""
    emit(_backup(Api(), ref), output, lambda b: print_fields(b, BACKUP_FIELDS))


@backup_app.command("describe")
def describe_backup(ref: BackupRef, output: FormatOption = Format.TABLE) -> None:
    """One backup with its per-resource and per-volume results and their reasons."""
    emit(_backup(Api(), ref), output, lambda b: _describe(b, BACKUP_FIELDS))


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


@restore_app.command("create")
def create_restore(
    backup: Annotated[str, typer.Option(help="The backup's name or uid")],
    namespace_mapping: Annotated[
        list[str] | None,
        typer.Option(help="Restore namespace a into b: a=b (repeat for several)"),
    ] = None,
    preview: Annotated[
        bool,
        typer.Option(help="Only show what would be created, replaced or skipped"),
    ] = False,
    wait: WaitOption = False,
    output: FormatOption = Format.TABLE,
) -> None:
    """Restore a backup into its cluster (namespaces optionally mapped to new names)."""
    mapping = _mapping(namespace_mapping or [])  # a typo is reported before any call
    api = Api()
    body = {
        "backup_uid": resolve(api, "/backups", "backup", backup)["uid"],
        "namespace_mapping": mapping,
    }
    if preview:
        emit(api.post("/restores/preview", body), output, lambda r: _describe(r, RESTORE_FIELDS))
        return
    restore = api.post("/restores", body)
    if wait:
        restore = _wait(api, f"/restores/{restore['uid']}", "restore")
    emit(restore, output, lambda r: _describe(r, RESTORE_FIELDS))


@restore_app.command("get")
def get_restore(
    ref: Annotated[str, typer.Argument(help="The restore's name or uid")],
    output: FormatOption = Format.TABLE,
) -> None:
    """One restore with its per-resource and per-volume results."""
    api = Api()
    found = api.get(f"/restores/{resolve(api, '/restores', 'restore', ref)['uid']}")
    emit(found, output, lambda r: _describe(r, RESTORE_FIELDS))
