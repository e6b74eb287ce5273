"""Logging of the api and the worker: text lines for people, or JSON lines for a log pipeline
(`LIFEBOAT_LOG_FORMAT=json`) with what each line is about.

A JSON line carries `time`, `level`, `logger`, `message` (and `exception`), and when known:
`workflow_id` and `activity` (a line written while an activity runs, or by the Temporal
SDK about one), `object_uid` (the uid in the workflow id, `backup-<uid>`, or the `{uid}` of
the API route), and `user` (the caller of the API request). Nothing else of a request or an
activity's input is written: secrets never travel in either where a log line could see them.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from temporalio import activity, workflow

from lifeboat.settings import LogFormat

# Set by the api for the request being answered.
REQUEST_USER: ContextVar[str | None] = ContextVar("lifeboat_request_user", default=None)
REQUEST_OBJECT: ContextVar[str | None] = ContextVar("lifeboat_request_object", default=None)

_UID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def _temporal_context(record: logging.LogRecord) -> dict[str, str]:
    """The workflow and activity a line is about: from the Temporal SDK's own loggers'
    extras, else from the activity running in this context."""
    about: dict[str, Any] = (
        getattr(record, "temporal_activity", None)
        or getattr(record, "temporal_workflow", None)
        or {}
    )
    if not about and activity.in_activity():
        info = activity.info()
        about = {"workflow_id": info.workflow_id, "activity_type": info.activity_type}
    found = {"workflow_id": about.get("workflow_id"), "activity": about.get("activity_type")}
    return {k: str(v) for k, v in found.items() if v}


class JsonFormatter(logging.Formatter):
    """One JSON object per line (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_temporal_context(record),
        }
        uid = _UID.search(line.get("workflow_id", "")) or None
        object_uid = uid.group() if uid else REQUEST_OBJECT.get()
        if object_uid:
            line["object_uid"] = object_uid
        if user := REQUEST_USER.get():
            line["user"] = user
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


def configure_logging(log_format: LogFormat) -> None:
    """Log INFO and up to stderr in the given format, uvicorn's own lines too (its access
    log stays as its command line says: the api's request lines replace it in JSON)."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format is LogFormat.JSON:
        handler.setFormatter(JsonFormatter())
        # The workflow and activity go into their own fields, not the message.
        workflow.logger.workflow_info_on_message = False
        activity.logger.activity_info_on_message = False
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("uvicorn").handlers = [handler]
    # A line per outgoing request, with its whole URL: not worth it, and a URL may carry keys.
    logging.getLogger("httpx").setLevel(logging.WARNING)
