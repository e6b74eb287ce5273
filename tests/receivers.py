"""Notification receivers a test starts on 127.0.0.1: a webhook (an HTTP server that keeps
every POST) and an SMTP server's mailbox (aiosmtpd); the fixtures are in tests/conftest.py."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from deploy.local.servers.procs import HOST


@dataclass
class Hook:
    """One POST the webhook server received."""

    headers: dict[str, str]
    body: bytes

    @property
    def document(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


class WebhookServer:
    """An HTTP server on 127.0.0.1 that answers every POST with 204 and keeps it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[Hook] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(Hook({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((HOST, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/lifeboat"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Mailbox:
    """What the test's SMTP server was sent."""

    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, bytes]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.messages.append((envelope, content))
        return "250 OK"
