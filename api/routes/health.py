"""Liveness and version: unauthenticated, for load balancers and the console's footer."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

import lifeboat
from api.deps import SettingsDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Version(BaseModel):
    version: str
    mode: str


@router.get("/healthz")
async def healthz() -> Health:
    """The API process is up (it does not check its dependencies: see service status)."""
    return Health(status="ok")


@router.get("/version")
async def version(settings: SettingsDep) -> Version:
    return Version(version=lifeboat.__version__, mode=settings.mode)
