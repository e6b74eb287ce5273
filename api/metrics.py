"""The api's /metrics: requests counted and timed per route template and status.

Routes are labelled by their template (`/api/v1/backups/{uid}`), never the path a client
sent, and methods outside HTTP's usual ones as `other`, so no client can grow the series.
/metrics answers without a token, like /healthz; the NetworkPolicy and the Ingress decide who
reaches it.
"""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "lifeboat_api_requests",
    "API requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "lifeboat_api_request_duration_seconds",
    "Time to answer an API request, by method and route template.",
    ["method", "route"],
)
log = logging.getLogger("lifeboat.api.requests")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# What requests that matched no route are labelled (404s of any path, for one).
UNMATCHED = "unmatched"

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class RequestMetrics:
    """ASGI middleware: one count and one duration per answered request, and with
    `log_requests` one log line (`lifeboat.api.requests`): the access log of JSON logs."""

    def __init__(self, app: ASGIApp, *, log_requests: bool = False) -> None:
        self.app = app
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app starts an answer

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            template = _template(scope)
            method = scope["method"] if scope["method"] in METHODS else "other"
            took = time.perf_counter() - started
            REQUESTS.labels(method, template, str(status)).inc()
            LATENCY.labels(method, template).observe(took)
            if self.log_requests:
                # The template, not the path: no query string, nothing a client made up.
                log.info("%s %s %d %.0f ms", method, template, status, took * 1000)


def _template(scope: Scope) -> str:
    """The matched route's path template, with the prefix of the router it came in with.

    Routing puts the matched route into the scope; FastAPI's routes of an included router
    carry their path without that router's prefix, which is the part of the path before
    where the route's own pattern matches.
    """
    route = scope.get("route")
    pattern = getattr(route, "path_regex", None)
    if route is None or pattern is None:
        return UNMATCHED
    path: str = scope["path"]
    for i, char in enumerate(path):
        if char == "/" and pattern.match(path[i:]):
            return path[:i] + str(route.path)
    return str(route.path)
