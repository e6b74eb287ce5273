"""Liveness, version and sign-in settings: unauthenticated, for load balancers, the console's
footer and the `lifeboat` command line."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

import lifeboat
from api.deps import SettingsDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Version(BaseModel):
    version: str
    mode: str


class AuthConfig(BaseModel):
    issuer: str
    client_id: str
    console_client_id: str = Field(description="the client the web console signs in with")


@router.get("/healthz")
async def healthz() -> Health:
    """The API process is up (it does not check its dependencies: see service status)."""
    return Health(status="ok")


@router.get("/version")
async def version(settings: SettingsDep) -> Version:
    return Version(version=lifeboat.__version__, mode=settings.mode)


@router.get("/api/v1/auth-config")
async def auth_config(settings: SettingsDep) -> AuthConfig:
    """Where to sign in: the OIDC issuer, and the client whose tokens this API accepts (the
    audience it checks), so a command line needs only the API's URL."""
    return AuthConfig(
        issuer=settings.oidc_issuer.rstrip("/"),
        client_id=settings.oidc_audience,
        console_client_id=settings.oidc_console_client_id or settings.oidc_audience,
    )
