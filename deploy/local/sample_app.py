"""A small application with data, deployed into the dev cluster to back up and restore."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import kubernetes.client
import kubernetes.config
from kubernetes.client.exceptions import ApiException

from deploy.local.doubles.csi.driver import VolumeNotFound, volume_dir
from deploy.local.doubles.snapshot_crds import STORAGE_CLASS

NAMESPACE = "sample-shop"


def _objects() -> list[tuple[str, dict[str, Any]]]:
    labels = {"app": "shop"}
    return [
        ("config_map", {"metadata": {"name": "shop-settings"}, "data": {"currency": "EUR"}}),
        ("secret", {"metadata": {"name": "shop-db"}, "stringData": {"password": "sample-only"}}),
        ("persistent_volume_claim", {
            "metadata": {"name": "orders"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": STORAGE_CLASS,
                     "resources": {"requests": {"storage": "1Gi"}}},
        }),
        ("service", {"metadata": {"name": "shop"},
                     "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}}),
    ]  # fmt: skip


def _deployment() -> dict[str, Any]:
    labels = {"app": "shop"}
    return {
        "metadata": {"name": "shop"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{
                        "name": "shop", "image": "nginx:1.25",
                        "volumeMounts": [{"name": "orders", "mountPath": "/data"}],
                    }],
                    "volumes": [{"name": "orders",
                                 "persistentVolumeClaim": {"claimName": "orders"}}],
                },
            },
        },
    }  # fmt: skip


def _created(call: Any, *args: Any) -> None:
    try:
        call(*args)
    except ApiException as exc:
        if exc.status != 409:  # already deployed by an earlier `make up`
            raise


def deploy_sample_app(kubeconfig: Path, csi_home: Path) -> Path:
    """Deploy the sample shop (idempotent); return the directory holding its orders volume."""
    with kubernetes.config.new_client_from_config(config_file=str(kubeconfig)) as client:
        core = kubernetes.client.CoreV1Api(client)
        _created(core.create_namespace, {"metadata": {"name": NAMESPACE}})
        for kind, body in _objects():
            _created(getattr(core, f"create_namespaced_{kind}"), NAMESPACE, body)
        apps = kubernetes.client.AppsV1Api(client)
        _created(apps.create_namespaced_deployment, NAMESPACE, _deployment())
    deadline = time.monotonic() + 60
    while True:
        try:
            data = volume_dir(csi_home, kubeconfig, NAMESPACE, "orders")
            break
        except VolumeNotFound:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    orders = data / "orders.csv"
    if not orders.exists():
        orders.write_text("".join(f"{i},widget,{i % 7 + 1}\n" for i in range(10_000)))
    return data
