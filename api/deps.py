"""What routes receive, as Annotated aliases: settings, catalog session, Temporal, principal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.auth import AuthenticationError, OidcVerifier, Principal
from api.errors import ServiceUnavailable, Unauthorized
from lifeboat.logs import REQUEST_OBJECT, REQUEST_USER
from lifeboat.secrets import SecretBox
from lifeboat.settings import Settings
from lifeboat.temporal import CONNECT_ERRORS, connect


class TemporalConnection:
    """Connects on first use, so the API starts (and reports status) while Temporal is down."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await connect(self._settings)
                except CONNECT_ERRORS as exc:
                    raise ServiceUnavailable(
                        f"the workflow service at {self._settings.temporal_address} "
                        f"is unreachable: {exc}"
                    ) from exc
            return self._client


@dataclass
class AppState:
    """Built once per process in the app factory."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    secrets: SecretBox
    verifier: OidcVerifier
    temporal: TemporalConnection


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.lifeboat
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_settings(state: StateDep) -> Settings:
    return state.settings


async def get_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    async with state.sessions() as session:
        yield session


async def get_temporal(state: StateDep) -> Client:
    return await state.temporal.client()


_bearer = HTTPBearer(auto_error=False, description="An access token from the OIDC provider")


async def get_principal(
    request: Request,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("sign in: send `Authorization: Bearer <access token>`")
    try:
        # JWKS fetching is blocking I/O (cached); keep it off the event loop.
        principal = await run_in_threadpool(state.verifier.verify, credentials.credentials)
    except AuthenticationError as exc:
        raise Unauthorized(str(exc)) from exc
    # For the log lines of this request.
    REQUEST_USER.set(principal.username)
    REQUEST_OBJECT.set(request.path_params.get("uid"))
    return principal


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
