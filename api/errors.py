"""One error shape for every failure: `{"error": {"code", "message", "field"}}`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import ScheduleAlreadyRunningError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

log = logging.getLogger("lifeboat.api")


class LifeboatError(Exception):
    """An error meant for the caller: a status, a message naming the fix, maybe the field."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(LifeboatError):
    status = 404
    code = "not_found"


class Forbidden(LifeboatError):
    status = 403
    code = "forbidden"


class Conflict(LifeboatError):
    status = 409
    code = "conflict"


class Unprocessable(LifeboatError):
    status = 422
    code = "invalid"


class Unauthorized(LifeboatError):
    status = 401
    code = "unauthorized"


class ServiceUnavailable(LifeboatError):
    status = 503
    code = "unavailable"


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


def _render(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, field=field))
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _temporal_error(error: RPCError) -> LifeboatError:
    """Temporal client errors, mapped once."""
    if error.status == RPCStatusCode.ALREADY_EXISTS:
        return Conflict("that operation is already running")
    if error.status == RPCStatusCode.NOT_FOUND:
        return NotFound("no such workflow or schedule")
    return ServiceUnavailable(f"the workflow service is unavailable: {error.message}")


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LifeboatError)
    async def lifeboat_error(_request: Request, exc: LifeboatError) -> JSONResponse:
        return _render(exc.status, exc.code, exc.message, exc.field)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        field = _field(first.get("loc", ()))
        message = "; ".join(
            f"{_field(e.get('loc', ())) or 'body'}: {e.get('msg', 'invalid')}" for e in exc.errors()
        )
        return _render(422, "invalid", message, field or None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _render(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(RPCError)
    async def temporal_error(_request: Request, exc: RPCError) -> JSONResponse:
        error = _temporal_error(exc)
        return _render(error.status, error.code, error.message)

    @app.exception_handler(ScheduleAlreadyRunningError)
    @app.exception_handler(WorkflowAlreadyStartedError)
    async def already_running(_request: Request, _exc: Exception) -> JSONResponse:
        # The object's workflow or schedule exists already (a retried request, say).
        return _render(409, Conflict.code, "that operation is already running")

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _render(500, "internal", "an unexpected error occurred; see the API's log")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 403, 404, 409, 413, 422, 503)
}
