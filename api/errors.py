"""One error shape for every failure: `{"error": {"code", "message", "field"}}`.

Messages may quote what the caller sent; the renderer cuts every message and field name, so
an answer never grows with the input.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import ScheduleAlreadyRunningError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.schemas import MULTI_LINE, SINGLE_LINE

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


class PaymentRequired(LifeboatError):
    """The license does not allow it (new backups while expired or over its node limit)."""

    status = 402
    code = "license"


class Conflict(LifeboatError):
    status = 409
    code = "conflict"


class Unprocessable(LifeboatError):
    status = 422
    code = "invalid"


class Unauthorized(LifeboatError):
    status = 401
    code = "unauthorized"


class PayloadTooLarge(LifeboatError):
    status = 413
    code = "too_large"


class ServiceUnavailable(LifeboatError):
    status = 503
    code = "unavailable"


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


MAX_MESSAGE_CHARS = 1000
MAX_FIELD_CHARS = 200
_VALIDATION_ERRORS_SHOWN = 10
# Starlette's own refusals (no route, wrong method), by status.
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def render(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The one error response: every handler, and the middleware before them, answer with it."""
    body = ErrorResponse(
        error=ErrorBody(
            code=code,
            message=_cut(message, MAX_MESSAGE_CHARS),
            field=_cut(field, MAX_FIELD_CHARS) if field is not None else None,
        )
    )
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def error_response(error: LifeboatError) -> JSONResponse:
    return render(error.status, error.code, error.message, error.field)


def _allowed_methods(request: Request) -> str:
    """The methods of the request's path, as the OpenAPI lists them: the path's own when it
    is one (`/clusters/eks`), else those of the template it fills in (`/clusters/{uid}`)."""
    matching = [
        (template.count("{"), operations)
        for template, operations in request.app.openapi()["paths"].items()
        if re.fullmatch(re.sub(r"\{[^/}]+\}", "[^/]+", template), request.url.path)
    ]
    fewest = min((params for params, _ in matching), default=0)
    methods = {m.upper() for params, ops in matching if params == fewest for m in ops}
    return ", ".join(sorted(methods))


def _temporal_error(error: RPCError) -> LifeboatError:
    """Temporal client errors, mapped once."""
    if error.status == RPCStatusCode.ALREADY_EXISTS:
        return Conflict("that operation is already running")
    if error.status == RPCStatusCode.NOT_FOUND:
        return NotFound("no such workflow or schedule")
    return ServiceUnavailable(f"the workflow service is unavailable: {error.message}")


def _message(error: Any) -> str:
    """Pydantic's message, in words where it would only quote one of our patterns."""
    pattern = (error.get("ctx") or {}).get("pattern")
    if error.get("type") == "string_pattern_mismatch" and pattern == SINGLE_LINE:
        return "must be one line of text without control characters (such as NUL); remove them"
    if error.get("type") == "string_pattern_mismatch" and pattern == MULTI_LINE:
        return "must be text without control characters (such as NUL) other than tabs and newlines"
    return _cut(str(error.get("msg", "invalid")), 200)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LifeboatError)
    async def lifeboat_error(_request: Request, exc: LifeboatError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        field = _field(errors[0].get("loc", ()))
        shown = [
            f"{_cut(_field(e.get('loc', ())), MAX_FIELD_CHARS) or 'body'}: {_message(e)}"
            for e in errors[:_VALIDATION_ERRORS_SHOWN]
        ]
        if len(errors) > _VALIDATION_ERRORS_SHOWN:
            shown.append(f"and {len(errors) - _VALIDATION_ERRORS_SHOWN} more")
        return render(422, "invalid", "; ".join(shown), field or None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        message = str(exc.detail)
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
            message = f"{request.method} is not served here; use {headers['Allow']}"
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return render(exc.status_code, code, message, headers=headers)

    @app.exception_handler(RPCError)
    async def temporal_error(_request: Request, exc: RPCError) -> JSONResponse:
        error = _temporal_error(exc)
        return render(error.status, error.code, error.message)

    @app.exception_handler(ScheduleAlreadyRunningError)
    @app.exception_handler(WorkflowAlreadyStartedError)
    async def already_running(_request: Request, _exc: Exception) -> JSONResponse:
        # The object's workflow or schedule exists already (a retried request, say).
        return render(409, Conflict.code, "that operation is already running")

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return render(500, "internal", "an unexpected error occurred; see the API's log")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 402, 403, 404, 409, 413, 422, 503)
}
