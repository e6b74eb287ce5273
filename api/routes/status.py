"""Service status: each service the platform depends on, with its status and version."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable

import httpx
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeTaskQueueRequest,
    GetSystemInfoRequest,
)

from api.deps import PrincipalDep, StateDep

router = APIRouter(tags=["service status"])

CHECK_TIMEOUT_SECONDS = 3.0


class Health(enum.StrEnum):
    UP = "up"
    DOWN = "down"
    NOT_CONFIGURED = "not configured"


class ServiceStatus(BaseModel):
    name: str
    status: Health
    version: str = ""
    detail: str = ""


class ServiceStatusList(BaseModel):
    items: list[ServiceStatus]
    count: int


async def _catalog(state: StateDep) -> ServiceStatus:
    dialect = state.engine.dialect.name
    query = "select sqlite_version()" if dialect == "sqlite" else "show server_version"
    async with state.engine.connect() as connection:
        version = (await connection.execute(text(query))).scalar_one()
    return ServiceStatus(name="catalog", status=Health.UP, version=f"{dialect} {version}")


async def _temporal(state: StateDep) -> ServiceStatus:
    client = await state.temporal.client()
    info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
    return ServiceStatus(
        name="temporal",
        status=Health.UP,
        version=info.server_version,
        detail=f"{state.settings.temporal_address}, namespace {client.namespace}",
    )


async def _workers(state: StateDep) -> ServiceStatus:
    client = await state.temporal.client()
    queue = state.settings.task_queue
    described = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    pollers = len(described.pollers)
    identities = sorted({p.identity for p in described.pollers})
    return ServiceStatus(
        name="workers",
        status=Health.UP if pollers else Health.DOWN,
        version=", ".join(identities),
        detail=f"{pollers} poller(s) on task queue {queue}",
    )


async def _object_storage(state: StateDep) -> ServiceStatus:
    endpoint = state.settings.s3_endpoint
    if not endpoint:
        return ServiceStatus(name="object storage", status=Health.NOT_CONFIGURED)
    async with httpx.AsyncClient(timeout=CHECK_TIMEOUT_SECONDS) as http:
        # Any S3 answer (403 to an anonymous request included) means the store is up.
        response = await http.get(endpoint)
    return ServiceStatus(
        name="object storage",
        status=Health.UP if response.status_code < 500 else Health.DOWN,
        version=response.headers.get("server", ""),
        detail=endpoint,
    )


async def _identity(state: StateDep) -> ServiceStatus:
    issuer = state.verifier.issuer
    async with httpx.AsyncClient(timeout=CHECK_TIMEOUT_SECONDS) as http:
        response = await http.get(f"{issuer}/.well-known/openid-configuration")
        response.raise_for_status()
    return ServiceStatus(name="identity provider", status=Health.UP, detail=issuer)


async def _checked(name: str, check: Awaitable[ServiceStatus]) -> ServiceStatus:
    try:
        return await asyncio.wait_for(check, CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return ServiceStatus(
            name=name, status=Health.DOWN, detail=f"no answer in {CHECK_TIMEOUT_SECONDS:.0f}s"
        )
    except Exception as exc:  # any failure of a dependency is that dependency being down
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        return ServiceStatus(name=name, status=Health.DOWN, detail=message)


@router.get("/service-status")
async def service_status(state: StateDep, _principal: PrincipalDep) -> ServiceStatusList:
    """Each service Lifeboat depends on: the console's Service Status page."""
    items = await asyncio.gather(
        _checked("catalog", _catalog(state)),
        _checked("temporal", _temporal(state)),
        _checked("workers", _workers(state)),
        _checked("object storage", _object_storage(state)),
        _checked("identity provider", _identity(state)),
    )
    return ServiceStatusList(items=list(items), count=len(items))
