"""`lifeboat cluster|namespace|location|cloud-account ...` and `lifeboat status`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cli import crud
from cli.api import Api
from cli.errors import CliError, Exit
from cli.operations import passed_or_fail, wait_for_check
from cli.output import Format, FormatOption, console, emit, errors, print_fields, print_table
from cli.resolve import CLOUD_ACCOUNT, CLUSTER, LOCATION, uid_of

cluster_app = typer.Typer(help="Clusters you registered or that are shared with you.")
namespace_app = typer.Typer(help="The namespaces of a cluster, as its last sync found them.")
location_app = typer.Typer(help="Backup locations (S3 buckets) that backups are stored in.")
cloud_account_app = typer.Typer(help="Cloud accounts: the keys backup locations are reached with.")

ClusterRef = Annotated[str, crud.ref_argument(CLUSTER)]
CLUSTERS = crud.Listing(
    CLUSTER,
    ("name", "owner", "status", "version", "namespaces", "uid"),
    lambda c: (c["name"], c["owner"], c["status"], c["kubernetes_version"], len(c["namespaces"]),
               c["uid"]),
    ("uid", "name", "owner", "status", "status_reason", "server_url", "provider",
     "kubernetes_version", "namespaces", "application_count", "pvc_count", "last_synced_at"),
)  # fmt: skip
LOCATIONS = crud.Listing(
    LOCATION,
    ("name", "owner", "endpoint", "bucket", "uid"),
    crud.columns("name", "owner", "endpoint", "bucket", "uid"),
    ("uid", "name", "owner", "provider", "endpoint", "bucket", "region", "prefix",
     "cloud_account_uid", "access_key_id", "created_at"),
)  # fmt: skip
CLOUD_ACCOUNTS = crud.Listing(
    CLOUD_ACCOUNT,
    ("name", "owner", "provider", "identity", "uid"),
    crud.columns("name", "owner", "provider", "identity", "uid"),
    ("uid", "name", "owner", "provider", "identity", "created_at"),
)

crud.add_list(cluster_app, CLUSTERS, "The clusters you may see, with their last inventory.")
crud.add_get(cluster_app, CLUSTERS, "One cluster and its last inventory, by name or uid.")
crud.add_delete(
    cluster_app,
    CLUSTER,
    "Remove a cluster from Lifeboat (the cluster itself is untouched; asks first).",
)
crud.add_list_get_delete(location_app, LOCATIONS, "backup locations")
crud.add_list(cloud_account_app, CLOUD_ACCOUNTS, "The cloud accounts you may see.")
crud.add_get(cloud_account_app, CLOUD_ACCOUNTS, "One cloud account, by name or uid.")


@cluster_app.command("add")
def add_cluster(
    name: Annotated[str, typer.Argument(help="A name for the cluster, unique among yours")],
    kubeconfig: Annotated[
        Path,
        typer.Option(help="A self-contained kubeconfig (`kubectl config view --raw --flatten`)"),
    ],
    output: FormatOption = Format.TABLE,
) -> None:
    """Register a cluster; Lifeboat syncs its inventory at once and then periodically."""
    try:
        text = kubeconfig.read_text()
    except OSError as exc:
        raise CliError(f"cannot read --kubeconfig {kubeconfig}: {exc.strerror}") from exc
    emit(Api().post("/clusters", {"name": name, "kubeconfig": text}), output, CLUSTERS.show)


@cluster_app.command("sync")
def sync_cluster(ref: ClusterRef) -> None:
    """Sync the cluster's inventory now."""
    api = Api()
    answer = api.post(f"/clusters/{uid_of(api, CLUSTER, ref)}/sync")
    console.print(answer["message"], highlight=False)


@namespace_app.command("list")
def list_namespaces(
    cluster: Annotated[str, typer.Option(help="The cluster's name or uid", show_default=False)],
    output: FormatOption = Format.TABLE,
) -> None:
    """The cluster's namespaces as its last sync found them (`cluster sync` to refresh)."""
    api = Api()
    page = api.get(f"/clusters/{uid_of(api, CLUSTER, cluster)}/namespaces")
    emit(page, output, lambda p: print_table("", ("name",), [(n["name"],) for n in p["items"]]))


@location_app.command("create")
def create_location(
    name: Annotated[str, typer.Argument(help="A name for the location, unique among yours")],
    endpoint: Annotated[
        str, typer.Option(help="The S3 endpoint, e.g. https://s3.eu-west-1.amazonaws.com")
    ],
    bucket: Annotated[str, typer.Option(help="An existing bucket")],
    cloud_account: Annotated[
        str, typer.Option(help="Classic mode: the cloud account (name or uid) whose keys to use")
    ] = "",
    access_key_id: Annotated[
        str, typer.Option(help="Federated mode: the location's own access key id")
    ] = "",
    secret_access_key_stdin: Annotated[
        bool,
        typer.Option(
            "--secret-access-key-stdin", help="Federated mode: read the secret key from stdin"
        ),
    ] = False,
    region: Annotated[str, typer.Option(help="The bucket's region, when the store needs it")] = "",
    prefix: Annotated[str, typer.Option(help="Keep backups under this path in the bucket")] = "",
    output: FormatOption = Format.TABLE,
) -> None:
    """Add a backup location; the API reaches and writes to the bucket before it saves it."""
    body: dict[str, Any] = {"name": name, "endpoint": endpoint, "bucket": bucket}
    body.update({k: v for k, v in (("region", region), ("prefix", prefix)) if v})
    if access_key_id or secret_access_key_stdin:
        secret = sys.stdin.readline().rstrip("\n") if secret_access_key_stdin else ""
        if not access_key_id or not secret:
            raise CliError(
                "the location's own keys take both --access-key-id and the secret key piped "
                "into --secret-access-key-stdin",
                Exit.USAGE,
            )
        body["credentials"] = {"access_key_id": access_key_id, "secret_access_key": secret}
    api = Api()
    if cloud_account:
        body["cloud_account_uid"] = uid_of(api, CLOUD_ACCOUNT, cloud_account)
    emit(api.post("/backup-locations", body), output, LOCATIONS.show)


@location_app.command("rotate-key")
def rotate_location_key(
    ref: Annotated[str, crud.ref_argument(LOCATION)],
    key_stdin: Annotated[
        bool,
        typer.Option("--key-stdin", help="Read the new key from stdin (else one is generated)"),
    ] = False,
) -> None:
    """Give the location a new encryption key: its data key is re-wrapped in the bucket; no
    backup is re-encrypted or uploaded again, and every backup stays restorable."""
    body: dict[str, Any] = {}
    if key_stdin:
        body["encryption_key"] = sys.stdin.readline().rstrip("\n")
    api = Api()
    rotated = api.post(f"/backup-locations/{uid_of(api, LOCATION, ref)}/rotate-key", body)
    console.print(f"rotated the key of location {rotated['name']}", highlight=False)


def status(output: FormatOption = Format.TABLE) -> None:
    """The service status: catalog, Temporal, workers, storage, identity provider."""

    def table(page: dict[str, Any]) -> None:
        rows = [(s["name"], s["status"], s["version"], s["detail"]) for s in page["items"]]
        print_table("", ("service", "status", "version", "detail"), rows)

    emit(Api().get("/service-status"), output, table)


PROBLEM_COLUMNS = ("problem", "chunk", "object", "backups", "reason")
CHECK_FIELDS = (
    "status", "reason", "started_at", "finished_at", "sample_fraction", "snapshots", "chunks",
    "chunks_sampled", "bytes_sampled", "problems_total",
)  # fmt: skip


def _show_check(check: dict[str, Any]) -> None:
    print_fields(check, CHECK_FIELDS)
    rows = [
        [p["problem"], p["chunk"], p["object"], ", ".join(b["name"] for b in p["backups"]),
         p["reason"]]
        for p in check.get("problems") or []
    ]  # fmt: skip
    if rows:
        print_table("problems", PROBLEM_COLUMNS, rows)
    affected = check.get("backups_affected") or []
    names = ", ".join(b["name"] for b in affected) or "none"
    console.print(f"backups affected: {names}", highlight=False)


@location_app.command("check-repository")
def check_repository(
    ref: Annotated[str, crud.ref_argument(LOCATION)],
    sample_fraction: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of chunks (0 to 1) downloaded to check their content hash; every "
            "chunk's presence and size is checked anyway",
        ),
    ] = 0.0,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="Wait for the result and show it; exit 5 unless it Passed"),
    ] = False,
    output: FormatOption = Format.TABLE,
) -> None:
    """Check a location's repository: every chunk its backups need is there, whole, and (on
    the sample) decrypts to what was stored; the problems name the backups affected."""
    api = Api()
    uid = uid_of(api, LOCATION, ref)

    def check() -> dict[str, Any]:
        found: dict[str, Any] = api.get(f"/backup-locations/{uid}/repository-check")
        return found

    before = check().get("started_at")
    api.post(f"/backup-locations/{uid}/check-repository", {"sample_fraction": sample_fraction})
    # On stderr: with -o json|yaml, stdout is the result alone.
    errors.print(f"checking the repository of location {ref}", highlight=False)
    if wait:
        result = wait_for_check(check, before)
        emit(result, output, _show_check)
        passed_or_fail(result, f"the repository check of location {ref}")
