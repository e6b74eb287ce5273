"""The web console in Debian's Chromium (Playwright), against this session's real stack and
the real provider's login page: each role's menu and actions, a cluster added with a bad and
then a good kubeconfig, an EKS cluster discovered and onboarded, a backup of the sample app to
Success, a restore into a mapped namespace after its preview, shares, schedules, settings, and
a super admin managing a user's roles, lists paged by the API and edit forms, an app user's
notification receiver (a failed test message) and subscription, and the pages of federated
mode against a second api of the stack in that mode (console/e2e/*.spec.ts).

The console must be built (`make console`, which `make test` runs first); screenshots of each
page land in console/artifacts/screenshots (not in git).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest

from deploy.local.sample_app import NAMESPACE, deploy_sample_app
from deploy.local.servers.oidc import DEV_PASSWORD
from deploy.local.stack import Stack
from tests.api.helpers import dev_location, platform, unique
from tests.conftest import IN_CI, Users

CONSOLE = Path(__file__).resolve().parents[2] / "console"
CHROMIUM = "/usr/bin/chromium"
EKS_REGION = "eu-central-1"
# More schedule policies than the console's first page of 20: the lists spec pages through them.
PAGED_POLICIES = 25


def _require(ready: bool, message: str) -> None:
    """What the browser run needs must be there in CI; elsewhere its absence skips."""
    if ready:
        return
    if IN_CI:
        pytest.fail(f"{message}; CI needs it (CI=true)")
    pytest.skip(message)


def test_console_in_a_browser(stack: Stack, as_user: Users, tmp_path: Path) -> None:
    _require((CONSOLE / "dist" / "index.html").is_file(), "the console is not built: make console")
    _require(Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: apt-get install chromium")
    _require(shutil.which("npx") is not None, "npx (Node.js) is missing")
    deploy_sample_app(Path(stack.kubeconfig), Path(stack.csi_home))
    # infraadmin's backup location for the journey (the console's own forms are its subject
    # elsewhere; here the journey needs one to back up to).
    api = as_user("infraadmin")
    location = dev_location(api, stack)
    # An EKS cluster in the stack's local AWS API (moto), and an aws account to discover it with.
    eks_cluster = unique("eks")
    boto3.client(
        "eks",
        endpoint_url=stack.aws_endpoint,
        region_name=EKS_REGION,
        aws_access_key_id="AKIATESTSETUP",
        aws_secret_access_key="setup-secret",
    ).create_cluster(
        name=eks_cluster,
        version="1.30",
        roleArn="arn:aws:iam::123456789012:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
    )
    aws = api.post(
        "/api/v1/cloud-accounts",
        json={
            "name": unique("aws"),
            "provider": "aws",
            "credentials": {"access_key_id": "AKIACONSOLE", "secret_access_key": unique("s")},
        },
    )
    assert aws.status_code == 201, aws.text
    # The journey shares a backup with appuser: a user Lifeboat knows once they signed in.
    assert as_user("appuser").get("/api/v1/me").status_code == 200
    # appadmin's policies under one prefix, for the lists spec to page through and search.
    paged = unique("paged")
    hourly = {"type": "interval", "every_minutes": 60}
    for i in range(PAGED_POLICIES):
        policy = as_user("appadmin").post(
            "/api/v1/schedule-policies", json={"name": f"{paged}-{i:02d}", "schedule": hourly}
        )
        assert policy.status_code == 201, policy.text

    # An api of the same stack in federated mode (no worker: the spec only reads and is
    # refused); the federated spec sends the console's API calls there.
    with platform(stack, tmp_path, {"LIFEBOAT_MODE": "federated"}, worker=False) as federated:
        run = _playwright(
            stack,
            eks_cluster=eks_cluster,
            location=location["location"],
            paged=paged,
            federated=federated,
        )
    print(run.stdout, run.stderr)
    assert run.returncode == 0, f"Playwright failed:\n{run.stdout}\n{run.stderr}"


def _playwright(
    stack: Stack, *, eks_cluster: str, location: str, paged: str, federated: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["npx", "playwright", "test"],
        cwd=CONSOLE,
        env={
            **os.environ,
            "LIFEBOAT_CONSOLE_URL": stack.api_url,
            "LIFEBOAT_KUBECONFIG": stack.kubeconfig,
            "LIFEBOAT_SAMPLE_NAMESPACE": NAMESPACE,
            "LIFEBOAT_RESTORED_NAMESPACE": unique(f"{NAMESPACE}-restored"),
            "LIFEBOAT_PASSWORD": DEV_PASSWORD,
            "LIFEBOAT_EKS_CLUSTER": eks_cluster,
            # The journey backs up there: other tests' locations of infraadmin's may sort first.
            "LIFEBOAT_BACKUP_LOCATION": location,
            "LIFEBOAT_EKS_REGION": EKS_REGION,
            "LIFEBOAT_PAGED_PREFIX": paged,
            "LIFEBOAT_PAGED_COUNT": str(PAGED_POLICIES),
            "LIFEBOAT_FEDERATED_API_URL": federated,
            "CHROMIUM": CHROMIUM,
        },
        capture_output=True,
        text=True,
        timeout=900,
    )
