"""The field-level changes a restore preview lists for an object it would replace."""

from __future__ import annotations

import json

from lifeboat.object_diff import MAX_CHANGES, changes


def test_changes_name_each_path_with_old_and_new() -> None:
    current = {
        "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web"}},
        "spec": {"replicas": 3, "containers": [{"image": "web:2"}]},
    }
    restored = {
        "metadata": {"name": "web", "annotations": {"lifeboat.dev/restored-by": "r1"}},
        "spec": {"replicas": 1, "containers": [{"image": "web:1"}, {"image": "sidecar:1"}]},
    }
    found = changes("Deployment", current, restored, ignore=("lifeboat.dev/restored-by",))
    assert found == [
        {"path": 'metadata.labels', "change": "removed",
         "old": {"app.kubernetes.io/name": "web"}},
        {"path": "spec.containers[0].image", "change": "changed", "old": "web:2", "new": "web:1"},
        {"path": "spec.containers[1]", "change": "added", "new": {"image": "sidecar:1"}},
        {"path": "spec.replicas", "change": "changed", "old": 3, "new": 1},
    ]  # fmt: skip
    assert changes("Deployment", current, current) == []


def test_keys_that_are_not_names_are_quoted() -> None:
    found = changes("ConfigMap", {"data": {"a.b": "1"}}, {"data": {"a.b": "2"}})
    assert found == [{"path": 'data["a.b"]', "change": "changed", "old": "1", "new": "2"}]


def test_a_secrets_values_are_never_shown_only_that_they_differ() -> None:
    applied = "kubectl.kubernetes.io/last-applied-configuration"
    current = {
        "metadata": {"name": "db", "labels": {"a": "1"}, "annotations": {applied: "old-pw"}},
        "type": "Opaque",
        "data": {"password": "b2xkLXB3"},
    }
    restored = {
        "metadata": {"name": "db", "labels": {"a": "2"}, "annotations": {applied: "new-pw"}},
        "type": "Opaque",
        "data": {"password": "bmV3LXB3", "user": "YWRtaW4="},
    }
    found = changes("Secret", current, restored)
    assert found == [
        {"path": "data.password", "change": "changed", "hidden": True},
        {"path": "data.user", "change": "added", "hidden": True},
        {"path": 'metadata.annotations["' + applied + '"]', "change": "changed", "hidden": True},
        {"path": "metadata.labels.a", "change": "changed", "old": "1", "new": "2"},
    ]
    text = json.dumps(found)
    for value in ("b2xkLXB3", "bmV3LXB3", "YWRtaW4=", "old-pw", "new-pw"):
        assert value not in text


def test_a_long_list_of_changes_is_cut_and_says_how_many_more() -> None:
    current = {"data": {f"k{i:03d}": "a" for i in range(MAX_CHANGES + 7)}}
    restored = {"data": {f"k{i:03d}": "b" for i in range(MAX_CHANGES + 7)}}
    found = changes("ConfigMap", current, restored)
    assert len(found) == MAX_CHANGES + 1
    assert found[-1] == {"path": "", "change": "7 more not listed"}
