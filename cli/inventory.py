"""`lifeboat cluster ...`, `lifeboat location list` and `lifeboat status`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli.api import Api
from cli.errors import CliError
from cli.output import (
    Format,
    FormatOption,
    console,
    emit,
    print_fields,
    print_table,
)
from cli.resolve import resolve

cluster_app = typer.Typer(help="Clusters you registered or that are shared with you.")
location_app = typer.Typer(help="Backup locations (S3 buckets).")

ClusterRef = Annotated[str, typer.Argument(help="The cluster's name or uid")]
CLUSTER_FIELDS = (
    "uid", "name", "owner", "status", "status_reason", "server_url", "provider",
    "kubernetes_version", "namespaces", "application_count", "pvc_count", "last_synced_at",
)  # fmt: skip


def _cluster_rows(items: list[dict[str, Any]]) -> None:
    rows = [
        (c["name"], c["owner"], c["status"], c["kubernetes_version"], len(c["namespaces"]),
         c["uid"])
        for c in items
    ]  # fmt: skip
    print_table("", ("name", "owner", "status", "version", "namespaces", "uid"), rows)


@cluster_app.command("list")
def list_clusters(output: FormatOption = Format.TABLE) -> None:
    """The clusters you may see, with their last inventory."""
    emit(Api().get("/clusters"), output, lambda page: _cluster_rows(page["items"]))


@cluster_app.command("get")
def get_cluster(ref: ClusterRef, output: FormatOption = Format.TABLE) -> None:
    """One cluster."""
    api = Api()
    cluster = api.get(f"/clusters/{resolve(api, '/clusters', 'cluster', ref)['uid']}")
    emit(cluster, output, lambda c: print_fields(c, CLUSTER_FIELDS))


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
    cluster = Api().post("/clusters", {"name": name, "kubeconfig": text})
    emit(cluster, output, lambda c: print_fields(c, CLUSTER_FIELDS))


@cluster_app.command("sync")
def sync_cluster(ref: ClusterRef) -> None:
    """Sync the cluster's inventory now."""
    api = Api()
    cluster = resolve(api, "/clusters", "cluster", ref)
    console.print(api.post(f"/clusters/{cluster['uid']}/sync")["message"], highlight=False)


@location_app.command("list")
def list_locations(output: FormatOption = Format.TABLE) -> None:
    """The backup locations you may use."""

    def table(page: dict[str, Any]) -> None:
        items = page["items"]
        rows = [(x["name"], x["owner"], x["endpoint"], x["bucket"], x["uid"]) for x in items]
        print_table("", ("name", "owner", "endpoint", "bucket", "uid"), rows)

    emit(Api().get("/backup-locations"), output, table)


def status(output: FormatOption = Format.TABLE) -> None:
    """The service status: catalog, Temporal, workers, storage, identity provider."""

    def table(page: dict[str, Any]) -> None:
        rows = [(s["name"], s["status"], s["version"], s["detail"]) for s in page["items"]]
        print_table("", ("service", "status", "version", "detail"), rows)

    emit(Api().get("/service-status"), output, table)
