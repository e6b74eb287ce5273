"""Cluster discovery (federated mode) on the real stack: the test cluster plays the garden.

Shoots are real `core.gardener.cloud/v1beta1` objects in the test API server, and their
`<shoot>.kubeconfig` secrets hold service-account tokens that really authenticate there, so
the clusters discovery onboards really sync.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import kubernetes.client
import kubernetes.config
import pytest
import yaml
from temporalio.client import Client

from deploy.local.doubles.gardener import (
    GROUP,
    SHOOTS,
    VERSION,
    Shoot,
    create_shoot,
    delete_shoot,
    install_shoot_api,
    rotate_shoot_kubeconfig,
)
from deploy.local.servers.oidc import OidcProvider
from deploy.local.servers.procs import free_port
from deploy.local.stack import Stack
from tests.api.helpers import (
    platform_users,
    remove_cluster,
    unique,
    wait_for_sync,
    workflow_histories,
)
from tests.conftest import Users

CONFIGS = "/api/v1/discovery-configs"
TEST_LABEL = "lifeboat-discovery-test"
# Longer than two discovery intervals (3600 s here): discovery warns about shorter-lived ones.
TOKEN_SECONDS = 3 * 3600


@pytest.fixture(scope="module")
def garden(stack: Stack) -> Iterator[kubernetes.client.ApiClient]:
    """The test cluster with the Shoot API installed, as an administrator sees it."""
    api = kubernetes.config.new_client_from_config(config_file=stack.kubeconfig)
    install_shoot_api(api)
    yield api
    api.close()


@pytest.fixture(scope="module")
def federated(
    stack: Stack, provider: OidcProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Users]:
    """An api and a worker as `make up` starts them, with LIFEBOAT_MODE=federated, on a task
    queue of their own (the stack's classic worker must not take their work)."""
    home = tmp_path_factory.mktemp("federated-discovery")
    settings = {"LIFEBOAT_MODE": "federated", "LIFEBOAT_TASK_QUEUE": unique("lifeboat-federated")}
    with platform_users(stack, provider, home, settings) as users:
        yield users


def _wait_run(api: httpx.Client, uid: str, *, after: str | None, timeout: float = 60) -> Any:
    """The configuration once a run newer than `after` has been recorded."""
    deadline = time.monotonic() + timeout
    while True:
        response = api.get(f"{CONFIGS}/{uid}")
        assert response.status_code == 200, response.text
        config = response.json()
        if config["last_run_at"] and config["last_run_at"] != after:
            return config
        assert time.monotonic() < deadline, f"no discovery run recorded within {timeout}s: {config}"
        time.sleep(0.3)


def _run(api: httpx.Client, config: dict[str, Any]) -> Any:
    response = api.post(f"{CONFIGS}/{config['uid']}/run")
    assert response.status_code == 202, response.text
    return _wait_run(api, config["uid"], after=config["last_run_at"])


def _discovered(api: httpx.Client, config_uid: str) -> dict[str, Any]:
    """The clusters the configuration discovered, by shoot uid, as /clusters lists them."""
    clusters = api.get("/api/v1/clusters").json()["items"]
    return {c["external_id"]: c for c in clusters if c["source_uid"] == config_uid}


def _label_shoot(garden: kubernetes.client.ApiClient, shoot: Shoot, value: str | None) -> None:
    kubernetes.client.CustomObjectsApi(garden).patch_namespaced_custom_object(
        GROUP, VERSION, shoot.namespace, SHOOTS, shoot.name,
        {"metadata": {"labels": {TEST_LABEL: value}}},
    )  # fmt: skip


def _token(kubeconfig: str) -> str:
    token: str = yaml.safe_load(kubeconfig)["users"][0]["user"]["token"]
    return token


def _with_server(kubeconfig: str, server: str) -> str:
    config = yaml.safe_load(kubeconfig)
    config["clusters"][0]["cluster"]["server"] = server
    return yaml.safe_dump(config)


def _sync_paused(stack: Stack, cluster_uid: str) -> bool:
    """Whether the cluster's sync schedule is paused, as the Temporal UI shows it."""

    async def describe() -> bool:
        client = await Client.connect(stack.temporal_address)
        handle = client.get_schedule_handle(f"cluster-sync-{cluster_uid}")
        return (await handle.describe()).schedule.state.paused

    return asyncio.run(describe())


def test_discovery_onboards_refreshes_retires_and_resumes_shoots(
    federated: Users,
    garden: kubernetes.client.ApiClient,
    kubeconfig_text: str,
    stack: Stack,
) -> None:
    admin = federated("superadmin")
    tag = uuid.uuid4().hex[:6]
    matching = {TEST_LABEL: tag}
    name = f"web-{tag}"
    first = create_shoot(garden, f"a{tag}", name, matching, token_seconds=TOKEN_SECONDS)
    # The same name in another project.
    second = create_shoot(garden, f"b{tag}", name, matching, token_seconds=TOKEN_SECONDS)
    create_shoot(garden, f"a{tag}", f"dev-{tag}", {TEST_LABEL: "another"})
    create_shoot(garden, f"c{tag}", name, matching)  # in a namespace the configuration skips

    response = admin.post(CONFIGS, json={
        "name": unique("garden"), "garden_kubeconfig": kubeconfig_text,
        "label_selector": f"{TEST_LABEL}={tag}",
        "namespaces": [first.namespace, second.namespace], "interval_seconds": 3600,
    })  # fmt: skip
    assert response.status_code == 201, response.text
    config = response.json()
    assert "garden_kubeconfig" not in config and config["status"] == "Pending"
    assert config["garden_server_url"] == stack.kube_server

    # Onboarded: two clusters of the configuration's owner, named uniquely, that really sync.
    config = _wait_run(admin, config["uid"], after=None)
    assert config["status"] == "Ready", config["status_reason"]
    assert config["status_reason"].startswith("2 shoot(s) match: 2 onboarded, 0 refreshed")
    assert config["discovered_clusters"] == 2
    clusters = _discovered(admin, config["uid"])
    assert set(clusters) == {first.uid, second.uid}
    assert clusters[first.uid]["name"] == name
    assert clusters[second.uid]["name"] == f"b{tag}-{name}"
    one, two = clusters[first.uid]["uid"], clusters[second.uid]["uid"]
    now = datetime.now(UTC)
    for cluster in clusters.values():
        assert cluster["provider"] == "gardener"
        assert cluster["owner_id"] == config["owner_id"]
        expires = datetime.fromisoformat(cluster["credentials_expire_at"])
        assert now + timedelta(hours=2.9) < expires < now + timedelta(hours=3.1)
    synced = {uid: wait_for_sync(admin, uid) for uid in (one, two)}
    assert [c["status"] for c in synced.values()] == ["Online", "Online"], synced
    old_kubeconfig = admin.get(f"/api/v1/clusters/{one}/kubeconfig").json()["kubeconfig"]

    # Refreshed: a new token in the shoot's secret replaces the stored kubeconfig, then syncs.
    new_kubeconfig = rotate_shoot_kubeconfig(garden, first, token_seconds=TOKEN_SECONDS)
    config = _run(admin, config)
    assert config["status_reason"].startswith("2 shoot(s) match: 0 onboarded, 1 refreshed")
    stored = admin.get(f"/api/v1/clusters/{one}/kubeconfig").json()["kubeconfig"]
    assert stored == new_kubeconfig != old_kubeconfig
    refreshed = wait_for_sync(admin, one, after=synced[one]["last_synced_at"])
    assert refreshed["status"] == "Online", refreshed["status_reason"]

    # A bad change is refused and changes nothing.
    response = admin.patch(f"{CONFIGS}/{config['uid']}", json={"label_selector": "a in (b"})
    assert response.status_code == 422 and response.json()["error"]["field"] == "label_selector"
    assert admin.get(f"{CONFIGS}/{config['uid']}").json()["label_selector"] == f"{TEST_LABEL}={tag}"

    # An unreachable garden fails the run, and leaves the clusters alone.
    closed = f"https://127.0.0.1:{free_port()}"
    response = admin.patch(
        f"{CONFIGS}/{config['uid']}",
        json={"garden_kubeconfig": _with_server(kubeconfig_text, closed)},
    )
    assert response.status_code == 200, response.text
    config = _wait_run(admin, config["uid"], after=config["last_run_at"])
    assert config["status"] == "Failed"
    assert f"cannot reach the garden {closed}" in config["status_reason"]
    assert {c["status"] for c in _discovered(admin, config["uid"]).values()} == {"Online"}
    admin.patch(f"{CONFIGS}/{config['uid']}", json={"garden_kubeconfig": kubeconfig_text})
    config = _wait_run(admin, config["uid"], after=config["last_run_at"])
    assert config["status"] == "Ready", config["status_reason"]

    # Retired: the shoot is gone; its cluster stays, Failed with the reason, syncs paused.
    delete_shoot(garden, second)
    config = _run(admin, config)
    assert config["status_reason"].startswith("1 shoot(s) match: 0 onboarded, 0 refreshed, 1 ret")
    gone = admin.get(f"/api/v1/clusters/{two}").json()
    assert gone["status"] == "Failed"
    reason = f"shoot {second.namespace}/{name} is gone in garden {stack.kube_server}"
    assert reason in gone["status_reason"]
    assert two in {c["uid"] for c in admin.get("/api/v1/clusters").json()["items"]}
    # Recorded only once Temporal applied the pause, so the next run reads it back.
    assert _sync_paused(stack, two)
    # A manual sync would hide why: refused, saying so.
    refused = admin.post(f"/api/v1/clusters/{two}/sync")
    assert refused.status_code == 409 and "no longer listed" in refused.json()["error"]["message"]
    assert admin.get(f"/api/v1/clusters/{two}").json()["status"] == "Failed"

    # A shoot that stops matching is retired too; when it matches again it is resumed.
    _label_shoot(garden, first, None)
    config = _run(admin, config)
    unmatched = admin.get(f"/api/v1/clusters/{one}").json()
    assert unmatched["status"] == "Failed"
    assert "no longer matches the label selector" in unmatched["status_reason"]
    _label_shoot(garden, first, tag)
    config = _run(admin, config)
    assert config["status_reason"].startswith("1 shoot(s) match: 0 onboarded, 1 refreshed")
    assert not _sync_paused(stack, one)
    resumed = wait_for_sync(admin, one, after=unmatched["last_synced_at"])
    assert resumed["status"] == "Online", resumed["status_reason"]

    # Credentials that expire before the next runs, with nothing newer, are reported.
    short_lived = rotate_shoot_kubeconfig(garden, first, token_seconds=1800)
    config = _run(admin, config)
    assert config["status"] == "Degraded"
    warning = f"shoot {first.namespace}/{name}: its kubeconfig's credentials expire at"
    assert warning in config["status_reason"]

    # No kubeconfig in any discovery history: neither the garden's key nor a shoot's token.
    garden_key = yaml.safe_load(kubeconfig_text)["users"][0]["user"]["client-key-data"]
    query = 'LifeboatKind = "discovery"'
    for history in workflow_histories(stack.temporal_address, query, mentioning=config["uid"]):
        tokens = (_token(old_kubeconfig), _token(new_kubeconfig), _token(short_lived))
        for secret in (garden_key, *tokens):
            assert secret not in history
        assert "BEGIN" not in history

    # Deleting the configuration keeps the clusters it discovered.
    response = admin.delete(f"{CONFIGS}/{config['uid']}")
    assert response.status_code == 200, response.text
    assert set(response.json()["kept_cluster_uids"]) == {one, two}
    assert "kept" in response.json()["message"]
    assert admin.get(f"{CONFIGS}/{config['uid']}").status_code == 404
    assert set(_discovered(admin, config["uid"])) == {first.uid, second.uid}
    for uid in (one, two):  # their owner removes them, and their sync schedules, as any other
        remove_cluster(admin, uid)


def _exec_plugin(kubeconfig: str) -> str:
    config = yaml.safe_load(kubeconfig)
    config["users"][0]["user"] = {"exec": {"command": "sh", "args": ["-c", "id"]}}
    return yaml.safe_dump(config)


# What each bad configuration changes in a good one (given the garden kubeconfig), the field
# the error names, and what its message says.
BAD_CONFIGS: dict[str, tuple[Callable[[str], dict[str, Any]], str, str]] = {
    "exec plugin": (lambda k: {"garden_kubeconfig": _exec_plugin(k)}, "garden_kubeconfig",
                    "runs a program Lifeboat will not run"),
    "not yaml": (lambda k: {"garden_kubeconfig": "clusters: [unclosed"}, "garden_kubeconfig",
                 "valid YAML"),
    "bad selector": (lambda k: {"label_selector": "env in (a,b"}, "label_selector",
                     "without its ')'"),
    "bad selector key": (lambda k: {"label_selector": "-env=x"}, "label_selector", "key name"),
    "short interval": (lambda k: {"interval_seconds": 30}, "interval_seconds",
                       "greater than or equal"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_CONFIGS, ids=list(BAD_CONFIGS))
def test_bad_configuration_is_refused_naming_the_field_and_nothing_is_stored(
    federated: Users, kubeconfig_text: str, case: str
) -> None:
    admin = federated("superadmin")
    change, field, expected = BAD_CONFIGS[case]
    before = admin.get(CONFIGS).json()["count"]
    body = {"name": unique("bad"), "garden_kubeconfig": kubeconfig_text, **change(kubeconfig_text)}
    response = admin.post(CONFIGS, json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field and expected in error["message"]
    assert admin.get(CONFIGS).json()["count"] == before


def test_only_super_admins_may_configure_discovery(federated: Users, kubeconfig_text: str) -> None:
    for username in ("infraadmin", "appuser"):
        api = federated(username)
        assert api.get(CONFIGS).status_code == 403
        response = api.post(
            CONFIGS, json={"name": unique("mine"), "garden_kubeconfig": kubeconfig_text}
        )
        assert response.status_code == 403
        assert "only a super admin" in response.json()["error"]["message"]
    assert federated("superadmin").get(CONFIGS).status_code == 200


def test_classic_mode_has_no_discovery(as_user: Users, kubeconfig_text: str) -> None:
    admin = as_user("superadmin")
    response = admin.get(CONFIGS)
    assert response.status_code == 404
    assert "classic mode" in response.json()["error"]["message"]
    response = admin.post(CONFIGS, json={"name": unique("g"), "garden_kubeconfig": kubeconfig_text})
    assert response.status_code == 404
