"""The app factory: settings in, a FastAPI app out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import h11
from fastapi import FastAPI, HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol

import lifeboat
from api.auth import OidcVerifier
from api.authz import ensure_builtin_roles
from api.console import mount_console
from api.deps import AppState, TemporalConnection
from api.errors import (
    ERROR_RESPONSES,
    ErrorBody,
    ErrorResponse,
    PayloadTooLarge,
    error_response,
    install_error_handlers,
)
from api.metrics import RequestMetrics
from api.metrics import router as metrics_router
from api.routes import (
    backup_locations,
    backup_schedules,
    backups,
    cloud_accounts,
    clusters,
    discovery,
    eks,
    health,
    licenses,
    lighthouses,
    notification_receivers,
    notification_subscriptions,
    restores,
    roles,
    rules,
    schedule_policies,
    shares,
    status,
    users,
)
from lifeboat.catalog.licenses import installation
from lifeboat.catalog.session import create_engine, create_sessionmaker
from lifeboat.logs import configure_logging
from lifeboat.settings import LogFormat, Settings


class BodyLimit:
    """Refuses request bodies over the limit with 413, declared or not (chunked)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.message = f"the request body is over {limit} bytes; send less"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await error_response(PayloadTooLarge(self.message))(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                # FastAPI turns anything else raised while it reads a body into a 400.
                raise HTTPException(413, self.message)
            return message

        await self.app(scope, counted, send)


# A request line and headers larger than this (a bearer token of megabytes) are refused.
MAX_REQUEST_HEAD_BYTES = 64 * 1024
# How long a refused request's remaining bytes are read (and dropped) before closing.
_DRAIN_SECONDS = 30


class BoundedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 server, answering an oversized or malformed request head cleanly.

    uvicorn answers such a request and closes at once, with the rest of the request still
    unread; the kernel then resets the connection and the client never sees the answer. This
    answers (431 when the head is too large, in the API's error shape), then reads and drops
    what the client still sends until it closes. Run the API with `--http
    api.app:BoundedH11Protocol`.
    """

    def __init__(self, config: Config, *args: Any, **kwargs: Any) -> None:
        # The limit is this class's: the one the 431 below names.
        config.h11_max_incomplete_event_size = MAX_REQUEST_HEAD_BYTES
        super().__init__(config, *args, **kwargs)
        self._draining = False

    def data_received(self, data: bytes) -> None:
        if not self._draining:
            super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        buffered, _closed = self.conn.trailing_data
        if len(buffered) > MAX_REQUEST_HEAD_BYTES:
            status, code = 431, "too_large"
            msg = f"the request's headers are over {MAX_REQUEST_HEAD_BYTES} bytes; send less"
        else:
            status, code = 400, "bad_request"
        body = ErrorResponse(error=ErrorBody(code=code, message=msg)).model_dump_json().encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=status, headers=headers),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self._draining = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        asyncio.get_running_loop().call_later(_DRAIN_SECONDS, self.transport.close)

    def eof_received(self) -> None:
        # The client is done sending: whatever it sent after a refusal has been dropped.
        if self._draining:
            self.transport.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for the given settings (from the environment when None)."""
    settings = settings or Settings()
    if settings.log_format is LogFormat.JSON:  # else uvicorn's logging, as it set it up
        configure_logging(settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        sessions = create_sessionmaker(engine)
        async with sessions() as session:
            await ensure_builtin_roles(session)
            # The installation's id (which bound licenses name) and trial start, made once.
            await installation(session)
            await session.commit()
        app.state.lifeboat = AppState(
            settings=settings,
            engine=engine,
            sessions=sessions,
            secrets=settings.secret_box(),
            verifier=OidcVerifier(settings),
            temporal=TemporalConnection(settings),
        )
        yield
        await engine.dispose()

    app = FastAPI(
        title="Lifeboat",
        version=lifeboat.__version__,
        description="Backup and restore for Kubernetes applications.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(metrics_router)
    app.include_router(status.router, prefix="/api/v1")
    app.include_router(clusters.router, prefix="/api/v1")
    app.include_router(discovery.router, prefix="/api/v1")
    app.include_router(eks.router, prefix="/api/v1")
    app.include_router(backups.router, prefix="/api/v1")
    app.include_router(backup_schedules.router, prefix="/api/v1")
    app.include_router(restores.router, prefix="/api/v1")
    app.include_router(roles.router, prefix="/api/v1")
    app.include_router(users.router, prefix="/api/v1")
    app.include_router(shares.router, prefix="/api/v1")
    app.include_router(schedule_policies.router, prefix="/api/v1")
    app.include_router(rules.router, prefix="/api/v1")
    app.include_router(cloud_accounts.router, prefix="/api/v1")
    app.include_router(backup_locations.router, prefix="/api/v1")
    app.include_router(lighthouses.router, prefix="/api/v1")
    app.include_router(licenses.router, prefix="/api/v1")
    app.include_router(notification_receivers.router, prefix="/api/v1")
    app.include_router(notification_subscriptions.router, prefix="/api/v1")
    mount_console(app, settings)  # last: its catch-all route comes after the API's
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    # Outermost: requests that BodyLimit refuses are counted too.
    app.add_middleware(RequestMetrics, log_requests=settings.log_format is LogFormat.JSON)
    return app
