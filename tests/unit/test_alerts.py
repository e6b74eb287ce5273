"""The alerts and the dashboard (deploy/kubernetes/monitoring) through Prometheus's promtool:
every expression parses, and the alerts fire (and stay quiet) as alerts-test.yaml says.

promtool comes from Debian's `prometheus` package, unpacked once into the user cache (never
installed: that would start a Prometheus server).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes" / "monitoring"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lifeboat" / "promtool"


def _download(into: Path) -> None:
    download = ["apt-get", "download", "-qq", "prometheus"]
    if subprocess.run(download, cwd=into, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
        subprocess.run(download, cwd=into, check=True, capture_output=True)


@pytest.fixture(scope="module")
def promtool() -> str:
    cached = CACHE / "promtool"
    if found := shutil.which("promtool"):
        return found
    if cached.exists():
        return str(cached)
    with tempfile.TemporaryDirectory() as work:
        _download(Path(work))
        [deb] = Path(work).glob("prometheus_*.deb")
        subprocess.run(["dpkg", "-x", str(deb), f"{work}/x"], check=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f"{work}/x/usr/bin/promtool", CACHE / ".promtool.tmp")
        os.replace(CACHE / ".promtool.tmp", cached)
    return str(cached)


def test_every_expression_parses_and_the_alerts_fire_as_their_tests_say(
    promtool: str, tmp_path: Path
) -> None:
    rule = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule["spec"]))
    dashboard = json.loads((MONITORING / "lifeboat-dashboard.json").read_text())
    panels = [
        {"record": f"dashboard:panel_{p['id']}_{t['refId']}", "expr": t["expr"]}
        for p in dashboard["panels"]
        for t in p["targets"]
    ]
    (tmp_path / "dashboard.yaml").write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": panels}]})
    )
    shutil.copy2(MONITORING / "alerts-test.yaml", tmp_path)
    for command in (
        ["check", "rules", "rules.yaml", "dashboard.yaml"],
        ["test", "rules", "alerts-test.yaml"],
    ):
        done = subprocess.run([promtool, *command], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
