"""The EKS token plugin (`python -m lifeboat.eks`) as the Kubernetes client runs it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lifeboat.credentials import AccessKeys
from lifeboat.eks import EXEC_API_VERSION, TOKEN_PREFIX, main, with_token_plugin

ARN = "arn:aws:eks:eu-central-1:123456789012:cluster/shop"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_it_prints_a_credential_with_a_token_and_its_expiry(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    assert main([ARN]) == 0
    printed = capsys.readouterr()
    credential = json.loads(printed.out)
    assert credential["apiVersion"] == EXEC_API_VERSION
    assert credential["kind"] == "ExecCredential"
    assert credential["status"]["token"].startswith(TOKEN_PREFIX)
    assert credential["status"]["expirationTimestamp"].endswith("Z")
    assert SECRET not in printed.out + printed.err


@pytest.mark.parametrize(
    ("keys", "arn", "says"),
    [
        ({}, ARN, "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
        ({"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE"}, ARN, "AWS_SECRET_ACCESS_KEY"),
        (
            {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": SECRET},
            "arn:aws:s3:::bucket",
            "is not an EKS cluster ARN",
        ),
    ],
)
def test_it_refuses_missing_keys_or_another_arn_saying_why(
    keys: dict[str, str],
    arn: str,
    says: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    assert main([arn]) == 2
    printed = capsys.readouterr()
    assert printed.out == "" and says in printed.err
    assert SECRET not in printed.err  # the client logs what the plugin says on failure


def test_the_kubeconfig_puts_the_keys_in_the_plugins_environment_only() -> None:
    config: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Config", "current-context": "shop",
        "clusters": [{"name": "shop", "cluster": {"server": "https://shop.example.com"}}],
        "users": [{"name": "shop", "user": {"token": "k8s-aws-v1.old"}}],
        "contexts": [{"name": "shop", "context": {"cluster": "shop", "user": "shop"}}],
    }  # fmt: skip
    plugin = with_token_plugin(config, ARN, AccessKeys("AKIAIOSFODNN7EXAMPLE", SECRET))
    user = plugin["users"][0]["user"]
    assert set(user) == {"exec"}  # the stale token is gone
    assert SECRET not in json.dumps([user["exec"]["command"], *user["exec"]["args"]])
    assert {"name": "AWS_SECRET_ACCESS_KEY", "value": SECRET} in user["exec"]["env"]
    assert config["users"][0]["user"] == {"token": "k8s-aws-v1.old"}  # the input is kept
    with pytest.raises(ValueError, match="not an EKS cluster ARN"):
        with_token_plugin(config, "arn:aws:s3:::bucket", AccessKeys("AKIAIOSFODNN7EXAMPLE", SECRET))
