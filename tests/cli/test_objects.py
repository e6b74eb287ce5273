"""The objects around backups, through the command line: locations, namespaces, policies,
rules, schedules, shares, users, groups and roles, and the license."""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from deploy.local.stack import Stack
from tests.api.helpers import dev_s3, unique
from tests.cli.conftest import Lifeboat, SignedIn
from tests.conftest import Users


def test_a_location_is_created_read_and_deleted_after_confirmation(
    signed_in: SignedIn, stack: Stack, target: dict[str, str]
) -> None:
    lifeboat = signed_in("infraadmin")
    known = lifeboat.ok("location", "get", target["location"], "-o", "json").json()
    account = lifeboat.ok("cloud-account", "get", known["cloud_account_uid"], "-o", "json").json()
    bucket = unique("cli")
    dev_s3(stack).make_bucket(bucket)
    name = unique("loc")
    created = lifeboat.ok(
        "location", "create", name, "--endpoint", stack.s3_endpoint, "--bucket", bucket,
        "--cloud-account", account["name"], "-o", "json",
    ).json()  # fmt: skip
    assert created["bucket"] == bucket and created["cloud_account_uid"] == account["uid"]
    shown = lifeboat.ok("location", "get", name).out
    assert "bucket:" in shown and bucket in shown and created["uid"] in shown
    assert name in lifeboat.ok("location", "list").out

    unreachable = lifeboat(
        "location", "create", unique("loc"), "--endpoint", stack.s3_endpoint,
        "--bucket", unique("absent"), "--cloud-account", account["uid"],
    )  # fmt: skip
    assert unreachable.code == 1 and "422 Unprocessable" in unreachable.err, unreachable

    assert f"rotated the key of location {name}" in lifeboat.ok("location", "rotate-key", name).out
    chosen = lifeboat.ok(
        "location", "rotate-key", name, "--key-stdin", stdin="a-key-of-my-own-choice\n"
    )
    assert f"rotated the key of location {name}" in chosen.out
    short = lifeboat("location", "rotate-key", name, "--key-stdin", stdin="short\n")
    assert short.code == 1 and "encryption_key" in short.err, short

    unconfirmed = lifeboat("location", "delete", name)
    assert unconfirmed.code == 1
    assert "Not confirmed: standard input is not a terminal; add --yes" in unconfirmed.err
    lifeboat.ok("location", "get", created["uid"])
    assert f"deleted location {name}" in lifeboat.ok("location", "delete", name, "--yes").out
    gone = lifeboat("location", "get", name)
    assert gone.code == 1 and f"no location named {name!r}" in gone.err


def _scheduled_backup(lifeboat: Lifeboat, schedule_uid: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        backups = lifeboat.ok("backup", "list", "-o", "json").json()["items"]
        if any(b["schedule_uid"] == schedule_uid for b in backups):
            return
        assert time.monotonic() < deadline, f"no backup of schedule {schedule_uid} in {timeout}s"
        time.sleep(1)


def test_a_policy_and_a_rule_drive_a_schedule_suspended_resumed_and_run_now(
    signed_in: SignedIn, target: dict[str, str], tmp_path: Path
) -> None:
    lifeboat = signed_in("infraadmin")
    assert "default" in lifeboat.ok("namespace", "list", "--cluster", target["cluster"]).out.split()

    policy = unique("weekly")
    made = lifeboat.ok(
        "policy", "create", policy, "--every-minutes", "10080", "--keep-last", "3", "-o", "json"
    ).json()
    assert made["schedule"]["type"] == "interval" and made["retention"]["keep_last"] == 3
    assert "every 10080 min" in lifeboat.ok("policy", "list").out
    bad = lifeboat("policy", "create", unique("bad"), "--daily", "25:00")
    assert bad.code == 1 and "(field: schedule.time)" in bad.err, bad
    neither = lifeboat("policy", "create", unique("bad"))
    assert neither.code == 2 and "give one of --every-minutes, --daily or --file" in neither.err

    rule_file = tmp_path / "rule.yaml"
    items = [{"pod_selector": {"app": "shop"}, "actions": [{"command": "sync"}]}]
    rule_file.write_text(yaml.safe_dump(items))
    rule = unique("flush")
    created_rule = lifeboat.ok("rule", "create", rule, "--file", str(rule_file), "-o", "json")
    assert created_rule.json()["rules"][0]["pod_selector"] == {"app": "shop"}
    assert rule in lifeboat.ok("rule", "list").out

    name = unique("nightly")
    schedule = lifeboat.ok(
        "schedule", "create", name, "--policy", policy, "--cluster", target["cluster"],
        "--location", target["location"], "--namespace", "default", "--pre-rule", rule,
        "-o", "json",
    ).json()  # fmt: skip
    assert schedule["status"] == "Active" and schedule["spec"]["pre_rule_uid"]
    assert name in lifeboat.ok("schedule", "list").out
    assert lifeboat.ok("schedule", "suspend", name, "-o", "json").json()["suspended"] is True
    assert "Suspended" in lifeboat.ok("schedule", "get", name).out
    assert lifeboat.ok("schedule", "resume", name, "-o", "json").json()["suspended"] is False
    assert f"schedule {name} runs now" in lifeboat.ok("schedule", "run-now", name).out
    _scheduled_backup(lifeboat, schedule["uid"])

    # An edit changes what is given and keeps the rest, the uid and the backups.
    daily = unique("daily")
    lifeboat.ok("policy", "create", daily, "--daily", "02:30")
    edited = lifeboat.ok(
        "schedule", "edit", name, "--policy", daily, "--pre-rule", "", "--post-rule", rule,
        "--label-selector", "app=shop", "-o", "json",
    ).json()  # fmt: skip
    assert (
        edited["uid"] == schedule["uid"]
        and edited["policy_uid"] == lifeboat.ok("policy", "get", daily, "-o", "json").json()["uid"]
    )
    assert edited["spec"]["post_rule_uid"] == schedule["spec"]["pre_rule_uid"]
    assert not edited["spec"]["pre_rule_uid"] and edited["spec"]["label_selector"] == "app=shop"
    assert edited["spec"]["namespaces"] == ["default"]
    assert edited["next_runs"] and all(t.endswith("02:30:00Z") for t in edited["next_runs"])

    in_use = lifeboat("policy", "delete", daily, "--yes")
    assert in_use.code == 1 and "is used by 1 backup schedule(s)" in in_use.err
    # Deleting a schedule keeps its backups unless told otherwise.
    lifeboat.ok("schedule", "delete", name, "--yes")
    kept = lifeboat.ok("backup", "list", "-o", "json").json()["items"]
    assert any(b["name"].startswith(name) for b in kept), "the schedule's backup was kept"
    lifeboat.ok("policy", "delete", daily, "--yes")
    # At a terminal the question is asked, and only a yes deletes.
    declined = lifeboat.at_a_terminal("n\n", "rule", "delete", rule)
    assert declined.code == 1 and f"Delete rule {rule} (" in declined.err, declined
    lifeboat.ok("rule", "get", rule)
    assert f"deleted rule {rule}" in lifeboat.at_a_terminal("y\n", "rule", "delete", rule).out
    assert f"deleted policy {policy}" in lifeboat.ok("policy", "delete", policy, "--yes").out


def test_a_cluster_shared_with_a_user_is_theirs_to_see_until_unshared(
    signed_in: SignedIn, as_user: Users, kubeconfig_text: str
) -> None:
    name = unique("shared")
    response = as_user("infraadmin").post(
        "/api/v1/clusters", json={"name": name, "kubeconfig": kubeconfig_text}
    )
    assert response.status_code == 201, response.text
    owner, reader = signed_in("infraadmin"), signed_in("appuser")
    subject = reader.ok("whoami", "-o", "json").json()["subject"]
    assert reader("cluster", "get", name).code == 1

    share = owner.ok(
        "share", "create", "cluster", name, "--user", subject, "--access", "restore", "-o", "json"
    ).json()
    assert (share["subject"], share["access"]) == (subject, "restore")
    assert reader.ok("cluster", "get", name, "-o", "json").json()["owner"] == "infraadmin"
    listed = owner.ok("share", "list", "cluster", name).out
    assert subject in listed and share["uid"] in listed
    unknown = owner("share", "create", "cluster", name, "--user", unique("nobody"))
    assert unknown.code == 1 and "(field: subject)" in unknown.err
    wrong = owner("share", "create", "bucket", name, "--everyone")
    assert wrong.code == 2 and "share one of cluster, cloud-account, location" in wrong.err

    owner.ok("share", "delete", share["uid"], "--yes")
    assert reader("cluster", "get", name).code == 1


def test_roles_are_bound_to_users_and_groups_by_an_admin(signed_in: SignedIn) -> None:
    admin = signed_in("superadmin")
    roles = admin.ok("role", "list").out
    assert "lifeboat.app-user" in roles and "lifeboat.infra-admin" in roles
    subject = unique("invited")
    invited = admin.ok("user", "invite", subject, "--role", "lifeboat.app-user", "-o", "json")
    assert invited.json()["roles"] == ["lifeboat.app-user"]
    changed = admin.ok("user", "roles", subject, "--role", "lifeboat.app-admin", "-o", "json")
    assert changed.json()["roles"] == ["lifeboat.app-admin"]
    assert "lifeboat.app-admin" in admin.ok("user", "roles", subject).out
    assert subject in admin.ok("user", "list").out
    admin.ok("user", "revoke", subject, "--yes")
    assert admin.ok("user", "roles", subject, "-o", "json").json()["roles"] == []
    unknown = admin("user", "roles", subject, "--role", "lifeboat.no-such-role")
    assert unknown.code == 1 and "unknown role(s): lifeboat.no-such-role" in unknown.err

    group = unique("team")
    bound = admin.ok("group", "roles", group, "--role", "lifeboat.app-user", "-o", "json").json()
    assert bound == {"name": group, "roles": ["lifeboat.app-user"]}
    assert group in admin.ok("group", "list").out
    assert admin.ok("group", "roles", group, "--role", "", "-o", "json").json()["roles"] == []

    denied = signed_in("appuser")("user", "list")
    assert denied.code == 1 and denied.err.startswith("error: 403 Forbidden: ")


def test_everyone_reads_the_license_and_an_app_user_may_not_import_one(
    signed_in: SignedIn,
) -> None:
    status = signed_in("appuser").ok("license", "status", "-o", "json").json()
    assert (status["edition"], status["backups_allowed"]) == ("trial", True)
    refused = signed_in("appuser")("license", "import", "--key", "lifeboat-license-v1.a.b")
    assert refused.code == 1 and "only a super admin" in refused.err
