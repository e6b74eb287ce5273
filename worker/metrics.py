"""The worker's /metrics: Lifeboat's domain series, then the Temporal SDK's, on one port.

The SDK's Prometheus exporter serves on a loopback port of its own; each scrape of
`LIFEBOAT_WORKER_METRICS_PORT` returns prometheus-client's registry followed by what that
exporter says, so Prometheus scrapes one target per worker.
"""

from __future__ import annotations

import logging
import socket
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from lifeboat.metrics import CatalogCollector
from lifeboat.settings import Settings

log = logging.getLogger("lifeboat.worker.metrics")


def _loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def serve_metrics(settings: Settings) -> ThreadingHTTPServer | None:
    """Start serving /metrics (None when `worker_metrics_port` is 0).

    Call it before the Temporal client connects: it makes the SDK's default runtime the one
    that exports to Prometheus.
    """
    if not settings.worker_metrics_port:
        return None
    sdk = f"127.0.0.1:{_loopback_port()}"
    Runtime.set_default(
        Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=sdk))),
        error_if_already_set=True,
    )
    REGISTRY.register(CatalogCollector(settings.database_url))

    class Metrics(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404, "only /metrics is served here")
                return
            body = generate_latest(REGISTRY) + _sdk_metrics(sdk)
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Scrapes are not worth a log line each."""

    server = ThreadingHTTPServer(
        (settings.worker_metrics_host, settings.worker_metrics_port), Metrics
    )
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("metrics on http://%s:%d/metrics", settings.worker_metrics_host, server.server_port)
    return server


def _sdk_metrics(address: str) -> bytes:
    try:
        with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as response:
            text: bytes = response.read()
    except (urllib.error.URLError, OSError) as exc:
        # The SDK exports nothing until the worker has run a little: leave its part out.
        log.debug("metrics: the Temporal SDK's exporter did not answer: %s", exc)
        return b""
    return text if text.endswith(b"\n") or not text else text + b"\n"
