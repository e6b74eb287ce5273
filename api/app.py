"""The app factory: settings in, a FastAPI app out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import lifeboat
from api.auth import OidcVerifier
from api.authz import ensure_builtin_roles
from api.deps import AppState, TemporalConnection
from api.errors import ERROR_RESPONSES, PayloadTooLarge, error_response, install_error_handlers
from api.routes import (
    backup_locations,
    backup_schedules,
    backups,
    cloud_accounts,
    clusters,
    discovery,
    eks,
    health,
    lighthouses,
    restores,
    roles,
    rules,
    schedule_policies,
    shares,
    status,
    users,
)
from lifeboat.catalog.session import create_engine, create_sessionmaker
from lifeboat.secrets import SecretBox
from lifeboat.settings import Settings


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


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for the given settings (from the environment when None)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        sessions = create_sessionmaker(engine)
        async with sessions() as session:
            await ensure_builtin_roles(session)
        app.state.lifeboat = AppState(
            settings=settings,
            engine=engine,
            sessions=sessions,
            secrets=SecretBox(settings.secret_key),
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
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    return app
