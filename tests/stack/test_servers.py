"""Temporal and the S3 server start, answer, stop by PID and keep their data."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from minio import Minio
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from deploy.local.servers.procs import ManagedProcess, pid_alive, tcp_open
from deploy.local.servers.s3 import running_s3, start_s3, stop_s3
from deploy.local.servers.temporal import running_temporal, start_temporal, stop_temporal


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def test_temporal_starts_answers_and_stops(tmp_path: Path) -> None:
    server = start_temporal(tmp_path)
    pid = ManagedProcess("temporal", tmp_path).pid()
    assert pid is not None and running_temporal(tmp_path) == server

    async def version() -> str:
        client = await Client.connect(server.address)
        info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
        return info.server_version

    assert asyncio.run(version()) == "1.32.0"
    assert (tmp_path / "temporal.db").exists()
    stop_temporal(tmp_path)
    assert not pid_alive(pid)
    assert not tcp_open(_port(server.address))
    assert running_temporal(tmp_path) is None


def test_s3_starts_stops_and_keeps_objects(tmp_path: Path) -> None:
    server = start_s3(tmp_path)
    port = _port(server.endpoint)
    client = Minio(
        server.endpoint.removeprefix("http://"), server.access_key, server.secret_key, secure=False
    )
    client.make_bucket("kept-bucket")
    client.put_object("kept-bucket", "a/b.txt", io.BytesIO(b"hello"), 5)
    pid = ManagedProcess("s3", tmp_path).pid()
    assert pid is not None
    stop_s3(tmp_path)
    assert not pid_alive(pid) and not tcp_open(port)

    start_s3(tmp_path, port=port)
    try:
        assert client.get_object("kept-bucket", "a/b.txt").read() == b"hello"
        # Wrong credentials are refused: it checks signatures, unlike a mock.
        stranger = Minio(
            server.endpoint.removeprefix("http://"), "nobody", "wrong-secret", secure=False
        )
        try:
            stranger.list_buckets()
            raise AssertionError("wrong credentials were accepted")
        except Exception as exc:  # minio raises S3Error
            assert "InvalidAccessKeyId" in str(exc) or "SignatureDoesNotMatch" in str(exc)
    finally:
        stop_s3(tmp_path)
    assert running_s3(tmp_path) is None
