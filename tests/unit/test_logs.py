"""JSON log lines written while an activity runs name its workflow and the object."""

from __future__ import annotations

import dataclasses
import json
import logging

from temporalio.testing import ActivityEnvironment

from lifeboat.logs import REQUEST_USER, JsonFormatter

UID = "3930837a-6a53-454f-8c17-91cad14b0089"


def test_a_line_logged_in_an_activity_names_its_workflow_and_object() -> None:
    formatter = JsonFormatter()
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id=f"backup-{UID}")

    def activity() -> str:
        record = logging.LogRecord(
            "lifeboat.x", logging.INFO, __file__, 1, "moved %s", ("a",), None
        )
        return formatter.format(record)

    line = json.loads(env.run(activity))
    assert line["message"] == "moved a"
    assert line["workflow_id"] == f"backup-{UID}"
    assert line["object_uid"] == UID
    assert line["activity"] == env.info.activity_type
    assert "user" not in line


def test_a_line_outside_any_activity_or_request_has_only_the_basics() -> None:
    record = logging.LogRecord("lifeboat.x", logging.WARNING, __file__, 1, "hello", (), None)
    token = REQUEST_USER.set("alice")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        REQUEST_USER.reset(token)
    assert line.keys() == {"time", "level", "logger", "message", "user"}
    assert (line["level"], line["user"]) == ("WARNING", "alice")
