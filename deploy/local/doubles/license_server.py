"""Play the vendor's license server for subscriptions (`lifeboat.license_server` speaks to it).

    python -m deploy.local.doubles.license_server --port P --private-key PEM \
        --subscription ACTIVATION_ID:CUSTOMER:NODES:DAYS [...]

Each activation of a known id answers a fresh license key signed with PEM, valid DAYS from
now, for NODES nodes, bound to the asking installation; an unknown id answers 404. Every
request is appended to the log on stdout as one JSON line. Tests only: `LicenseServerDouble`
starts and stops it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from deploy.local.doubles.http_json import send_json
from deploy.local.doubles.main_loop import start_process
from deploy.local.servers.procs import HOST, ManagedProcess
from lifeboat.licensing import LicenseDocument, sign

REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Subscription:
    customer: str
    nodes: int
    days: float


def _subscription(text: str) -> tuple[str, Subscription]:
    activation_id, customer, nodes, days = text.split(":")
    return activation_id, Subscription(customer, int(nodes), float(days))


def serve(port: int, signer: Ed25519PrivateKey, subscriptions: dict[str, Subscription]) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                asked = json.loads(self.rfile.read(length))
            except ValueError:
                send_json(self, 400, {"error": "the body is not JSON"})
                return
            print(json.dumps({"path": self.path, "asked": asked}), flush=True)
            subscription = subscriptions.get(asked.get("activation_id", ""))
            if self.path != "/v1/activations":
                send_json(self, 404, {"error": f"no such path {self.path}"})
            elif subscription is None:
                send_json(self, 404, {"error": "no subscription has this activation id"})
            else:
                now = datetime.now(UTC).replace(microsecond=0)
                document = LicenseDocument(
                    id=str(uuid.uuid4()), customer=subscription.customer,
                    edition="subscription", node_limit=subscription.nodes, valid_from=now,
                    valid_until=now + timedelta(days=subscription.days), grace_days=3,
                    issued_at=now, installation_id=asked.get("installation_id"),
                )  # fmt: skip
                send_json(self, 200, {"license_key": sign(document, signer)})

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one JSON line per request instead (above)

    server = ThreadingHTTPServer((HOST, port), Handler)
    # serve_forever() runs in this thread, so its shutdown is asked from another.
    start_process(lambda: threading.Thread(target=server.shutdown).start(), stopping="stopping")
    try:
        server.serve_forever()
    finally:
        server.server_close()


@dataclass
class LicenseServerDouble:
    """The double as a managed process on 127.0.0.1:`port` (stopped and started again at will,
    to show what a subscription does while its server is away)."""

    home: Path
    port: int
    private_key: Path
    subscriptions: tuple[str, ...]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def process(self) -> ManagedProcess:
        return ManagedProcess("license-server", self.home)

    def _answers(self) -> bool:
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(f"{self.url}/health", json={}, timeout=2)
            return True
        return False

    def start(self) -> None:
        cmd = [sys.executable, "-m", "deploy.local.doubles.license_server"]
        cmd += ["--port", str(self.port), "--private-key", str(self.private_key)]
        for subscription in self.subscriptions:
            cmd += ["--subscription", subscription]
        self.process.start(cmd, env={"PYTHONPATH": str(REPO_ROOT)}, healthy=self._answers)

    def stop(self) -> None:
        self.process.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--private-key", type=Path, required=True)
    parser.add_argument("--subscription", action="append", default=[], type=_subscription)
    args = parser.parse_args()
    signer = load_pem_private_key(args.private_key.read_bytes(), password=None)
    assert isinstance(signer, Ed25519PrivateKey)
    serve(args.port, signer, dict(args.subscription))


if __name__ == "__main__":
    main()
