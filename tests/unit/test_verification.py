"""How a verification restores objects (at rest, in scratch namespaces) and what it counts as
a difference between an archived object and the one the cluster holds."""

from __future__ import annotations

from typing import Any

from activities.verification import at_rest, object_differences, scratch_namespaces


def _deployment(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {"replicas": 3, **spec},
    }


def test_scratch_namespaces_are_named_after_the_backup_and_one_per_namespace() -> None:
    uid = "1a2b3c4d-0000-4000-8000-000000000000"
    assert scratch_namespaces(uid, ["shop"]) == {"shop": "lifeboat-verify-1a2b3c4d"}
    assert scratch_namespaces(uid, ["web", "db"]) == {
        "db": "lifeboat-verify-1a2b3c4d",
        "web": "lifeboat-verify-1a2b3c4d-2",
    }


def test_no_workload_starts_and_the_archived_object_is_left_as_it_was() -> None:
    deployment = _deployment()
    rested, note = at_rest(deployment)
    assert rested is not None and rested["spec"]["replicas"] == 0 and note
    assert deployment["spec"]["replicas"] == 3
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {}}
    assert (at_rest(job)[0] or {})["spec"]["parallelism"] == 0
    cron = {"apiVersion": "batch/v1beta1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"schedule": "* * * * *"}}  # fmt: skip
    assert (at_rest(cron)[0] or {})["spec"]["suspend"] is True
    daemons = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d"},
               "spec": {"template": {"spec": {}}}}  # fmt: skip
    assert (at_rest(daemons)[0] or {})["spec"]["template"]["spec"]["nodeSelector"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}
    assert at_rest(pod) == (None, "a bare pod would start: not restored by a verification")
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}
    assert at_rest(config) == (config, "")


def test_what_the_server_adds_is_no_difference_but_a_changed_or_missing_field_is() -> None:
    expected = _deployment(template={"spec": {"containers": [{"name": "web", "image": "a"}]}})
    actual = _deployment(
        template={"spec": {"containers": [{"name": "web", "image": "a", "imagePullPolicy": "x"}]}},
        strategy={"type": "RollingUpdate"},
    )
    actual["metadata"] |= {"uid": "u", "resourceVersion": "9", "annotations": {"a": "b"}}
    actual["status"] = {"replicas": 0}
    assert object_differences(expected, actual) == []

    actual["spec"]["template"]["spec"]["containers"][0]["image"] = "b"
    del actual["metadata"]["labels"]
    assert object_differences(expected, actual) == [
        ("spec.template.spec.containers[0].image", "'b' instead of 'a'"),
        ("metadata.labels.app", "missing"),
    ]
    assert object_differences(expected, {}) == [("", "not in the cluster after the restore")]


def test_a_secrets_values_are_never_shown() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
              "data": {"password": "czNjcjN0"}}  # fmt: skip
    changed = {**secret, "data": {"password": "b3RoZXI="}}
    assert object_differences(secret, changed) == [("data.password", "differs")]
