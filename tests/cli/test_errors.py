"""What a refused or unclear command prints: the API's message, or which object was meant."""

from __future__ import annotations

from pathlib import Path

from deploy.local.stack import Stack
from tests.api.helpers import unique
from tests.cli.conftest import SignedIn
from tests.conftest import Users


def test_a_denied_action_prints_the_apis_message_and_exits_1(
    signed_in: SignedIn, stack: Stack, target: dict[str, str], as_user: Users
) -> None:
    cluster = as_user("infraadmin").get(f"/api/v1/clusters/{target['cluster']}").json()
    nobody = signed_in("nobody")
    added = nobody("cluster", "add", unique("mine"), "--kubeconfig", stack.kubeconfig)
    assert added.code == 1
    assert added.err.startswith("error: 403 Forbidden: ")
    assert "Traceback" not in added.err

    # A cluster the user may not see is unknown by name, and a 404 by uid.
    lifeboat = signed_in("appuser")
    by_name = lifeboat("cluster", "sync", cluster["name"])
    assert by_name.code == 1
    assert f"no cluster named {cluster['name']!r} that you may see" in by_name.err
    by_uid = lifeboat("backup", "get", target["cluster"])
    assert by_uid.code == 1 and "no backup named" in by_uid.err


def test_an_invalid_input_names_the_field(signed_in: SignedIn, tmp_path: Path) -> None:
    lifeboat = signed_in("infraadmin")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\n")
    result = lifeboat("cluster", "add", unique("broken"), "--kubeconfig", str(kubeconfig))
    assert result.code == 1
    assert "error: 422 Unprocessable" in result.err and "(field: kubeconfig" in result.err

    missing = lifeboat("cluster", "add", "x", "--kubeconfig", str(tmp_path / "absent"))
    assert missing.code == 1 and "cannot read --kubeconfig" in missing.err

    mapping = lifeboat("restore", "create", "--backup", "b", "--namespace-mapping", "shop")
    assert mapping.code == 2 and "write it as source=target" in mapping.err


def test_a_name_two_owners_use_is_ambiguous(
    signed_in: SignedIn, as_user: Users, kubeconfig_text: str
) -> None:
    name = unique("prod")
    uids = []
    for owner in ("infraadmin", "appadmin"):
        response = as_user(owner).post(
            "/api/v1/clusters", json={"name": name, "kubeconfig": kubeconfig_text}
        )
        assert response.status_code == 201, response.text
        uids.append(response.json()["uid"])
    lifeboat = signed_in("superadmin")  # sees every cluster
    ambiguous = f"ambiguous: 2 clusters named {name}, owners appadmin and infraadmin, use the uid"
    result = lifeboat("cluster", "get", name)
    assert result.code == 1 and ambiguous in result.err
    # Every command that takes a name resolves it the same way.
    listed = lifeboat("namespace", "list", "--cluster", name)
    assert listed.code == 1 and ambiguous in listed.err
    assert lifeboat.ok("cluster", "get", uids[1], "-o", "json").json()["owner"] == "appadmin"
