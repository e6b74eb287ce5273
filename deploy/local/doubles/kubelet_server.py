"""Play a kubelet's exec endpoint for the dev cluster, which has no node to run pods on.

    python -m deploy.local.doubles.kubelet_server --home DIR --port P

The API server relays a `pods/exec` websocket upgrade byte for byte to the pod's Node (its
`InternalIP` and `daemonEndpoints.kubeletEndpoint.Port`), so this HTTPS server on 127.0.0.1
answers what a kubelet would: `GET /exec/<ns>/<pod>/<container>?command=..&input=1&output=1
&error=1` upgraded to `v5.channel.k8s.io` (or `v4`). The command runs as a real local
process in DIR/pods/<ns>/<pod>/<container>/, with a container-like environment (PATH, HOME and
HOSTNAME, plus POD_NAMESPACE, POD_NAME, CONTAINER_NAME and POD_DIR), never the server's own.
The container's own commands (its image's, say `virt-freezer`) go in its bin/, first on PATH.
Each exec gets its own process group: whatever it leaves behind goes when it ends, and all of
it goes when the client hangs up or the server stops.

It also serves `GET /containerLogs/<ns>/<pod>/<container>` (`kubectl logs`, the API's
`pods/log`) from DIR/pods/<ns>/<pod>/<container>/container.log, which the pod runner writes for
the containers it runs (`deploy.local.doubles.pod_runner`).

Files in DIR: tls.crt/tls.key (self-signed, reused on restart), pods/, and exec-log.jsonl (one
JSON line per finished exec). Started and stopped by `deploy.local.doubles.kubelet`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime
import hashlib
import ipaddress
import json
import logging
import os
import signal
import ssl
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypedDict
from urllib.parse import parse_qsl, unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from deploy.local.doubles.main_loop import start_process
from deploy.local.servers.procs import HOST

NODE_NAME = "lifeboat-node"
CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"
PODS_DIR = "pods"
EXEC_LOG_FILE = "exec-log.jsonl"
# A container's output, written by the pod runner (`deploy.local.doubles.pod_runner`), served as
# its logs.
CONTAINER_LOG = "container.log"

# Preferred first: only v5 lets the client say that it closed stdin.
V5_PROTOCOL, V4_PROTOCOL = "v5.channel.k8s.io", "v4.channel.k8s.io"
SUBPROTOCOLS = (V5_PROTOCOL, V4_PROTOCOL)
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
STDIN, STDOUT, STDERR, ERROR = 0, 1, 2, 3
# v5: a frame [255, n] says the peer closed its channel n.
CLOSE_SIGNAL = 255
OP_CONTINUATION, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x2, 0x8, 0x9, 0xA
CLOSE_NORMAL, CLOSE_GOING_AWAY = 1000, 1001
# Exec requests carry the whole command in the query string; a long `sh -c` script is fine.
REQUEST_LIMIT = 1 << 20
MESSAGE_LIMIT = 16 << 20
READ_CHUNK = 64 << 10
# SIGTERM first so a command can clean up (release a lock, remove a marker), then SIGKILL.
KILL_GRACE = 2.0
# How long a client gets to answer our close frame before we hang up anyway.
CLOSE_WAIT = 1.0
# On stop, each exec gets its grace to end, plus time to tell its client and close.
SHUTDOWN_WAIT = KILL_GRACE + 2 * CLOSE_WAIT + 1

log = logging.getLogger("kubelet")

Ended = Literal["exited", "disconnected", "shutdown"]


class ExecRecord(TypedDict):
    """One line of exec-log.jsonl: what ran, where, and how it ended."""

    started: str
    namespace: str
    pod: str
    container: str
    command: list[str]
    exit_code: int
    # exited: the command ended by itself; disconnected: the client hung up first and the
    # command was killed; shutdown: the server stopped while it ran.
    ended: Ended
    seconds: float


def container_dir(pods_dir: Path, namespace: str, pod: str, container: str) -> Path:
    """The working directory of a container's exec commands (POD_DIR in their environment)."""
    return pods_dir / namespace / pod / container


def exec_status(code: int, command: Sequence[str]) -> dict[str, object]:
    """The metav1.Status a kubelet sends on the error channel when a command ends.

    Clients read the exit code from `details.causes[0].message` of a NonZeroExitCode failure.
    """
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": (
            "command terminated with non-zero exit code: error executing command "
            f"[{' '.join(command)}], exit code {code}"
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def server_tls(home: Path) -> ssl.SSLContext:
    """A TLS context serving home's self-signed certificate, created on first use.

    The API server checks no kubelet certificate unless told a CA, so self-signed will do;
    keeping it across restarts spares clients that pin it a surprise.
    """
    cert, key = home / CERT_FILE, home / KEY_FILE
    if not (cert.exists() and key.exists()):
        private_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NODE_NAME)])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(private_key.public_key())
            .serial_number(x509.random_serial_number())
            # Backdated so a clock that lags by seconds does not reject it.
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.IPAddress(ipaddress.ip_address(HOST)),
                        x509.DNSName("localhost"),
                        x509.DNSName(NODE_NAME),
                    ]
                ),
                critical=False,
            )
            .sign(private_key, hashes.SHA256())
        )
        pem_key = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Key first and owner-only: a certificate without its key would be reused broken.
        key.unlink(missing_ok=True)
        key.touch(mode=0o600)
        key.write_bytes(pem_key)
        cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    return context


class WebSocket:
    """The server side of one RFC 6455 connection: whole messages in, single frames out."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        # Output pumps and the reader (answering pings) write concurrently; a frame must go out
        # whole, and StreamWriter.drain is not safe to await from several tasks at once.
        self._lock = asyncio.Lock()
        self._close_sent = False
        self._broken = False

    async def send(self, opcode: int, payload: bytes) -> None:
        """Send one unmasked frame; a no-op once the peer is gone or after our close frame."""
        size = len(payload)
        if size < 126:
            header = struct.pack("!BB", 0x80 | opcode, size)
        elif size < 1 << 16:
            header = struct.pack("!BBH", 0x80 | opcode, 126, size)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 127, size)
        async with self._lock:
            if self._close_sent or self._broken or self._writer.is_closing():
                return
            self._close_sent = opcode == OP_CLOSE
            try:
                self._writer.write(header + payload)
                await self._writer.drain()
            except OSError:
                # The client hung up; the receiving side notices and ends the exec.
                self._broken = True

    async def send_channel(self, channel: int, data: bytes) -> None:
        """Send data on a k8s channel: the channel byte, then the data, as a binary frame."""
        await self.send(OP_BINARY, bytes([channel]) + data)

    async def close(self, code: int) -> None:
        """Send a close frame with the status code."""
        await self.send(OP_CLOSE, struct.pack("!H", code))

    async def receive(self) -> bytes | None:
        """The next data message, or None once the peer closed, hung up or broke protocol.

        Pings are answered here, and a close frame is answered with one.
        """
        parts: list[bytes] = []
        while True:
            try:
                first, second = await self._reader.readexactly(2)
                size = second & 0x7F
                if size == 126:
                    (size,) = struct.unpack("!H", await self._reader.readexactly(2))
                elif size == 127:
                    (size,) = struct.unpack("!Q", await self._reader.readexactly(8))
                if size > MESSAGE_LIMIT:
                    log.warning("websocket frame of %d bytes refused", size)
                    return None
                mask = await self._reader.readexactly(4) if second & 0x80 else b""
                payload = await self._reader.readexactly(size)
            except (asyncio.IncompleteReadError, OSError):
                return None
            if mask:
                payload = _unmask(payload, mask)
            opcode = first & 0x0F
            if opcode == OP_PING:
                await self.send(OP_PONG, payload)
            elif opcode == OP_CLOSE:
                await self.send(OP_CLOSE, payload[:2])
                return None
            elif opcode != OP_PONG:
                # Text and binary frames both carry channel data: the Python client sends str
                # stdin as text frames.
                parts.append(payload)
                if first & 0x80:
                    return b"".join(parts)


def _unmask(payload: bytes, mask: bytes) -> bytes:
    # One big-integer XOR instead of a byte loop: stdin payloads can be large.
    size = len(payload)
    key = (mask * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big")


@dataclass(frozen=True)
class ExecRequest:
    """What the API server asked for: the container, the argv and which streams to attach."""

    namespace: str
    pod: str
    container: str
    command: list[str]
    stdin: bool
    stdout: bool
    stderr: bool

    @property
    def target(self) -> str:
        return f"{self.namespace}/{self.pod}/{self.container}"


class BadRequest(ValueError):
    """The request cannot be served; the message tells the client why."""


def parse_exec_request(path: str, query: str) -> ExecRequest:
    """Parse `/exec/<ns>/<pod>/<container>` and its query; raise BadRequest when unusable."""
    segments = path.split("/")
    if len(segments) != 5 or segments[:2] != ["", "exec"]:
        raise BadRequest(f"not an exec path: {path}")
    namespace, pod, container = (unquote(s) for s in segments[2:])
    for name in (namespace, pod, container):
        # They become directory names: refuse anything that could leave the pods directory.
        if name in ("", ".", "..") or "/" in name or "\0" in name:
            raise BadRequest(f"invalid name in exec path: {name!r}")
    params = parse_qsl(query, keep_blank_values=True)
    flags = {key: value in ("1", "true") for key, value in params if key != "command"}
    if flags.get("tty"):
        raise BadRequest("this kubelet test double runs commands without a terminal (tty)")
    command = [value for key, value in params if key == "command"]
    if not command:
        raise BadRequest("no command given")
    return ExecRequest(
        namespace=namespace,
        pod=pod,
        container=container,
        command=command,
        stdin=flags.get("input", False),
        stdout=flags.get("output", False),
        stderr=flags.get("error", False),
    )


def _exit_code(returncode: int) -> int:
    # A command killed by a signal reports 128 + signal, as container runtimes do.
    return returncode if returncode >= 0 else 128 - returncode


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class ExecSession:
    """One exec: the command's process and its streams over one websocket."""

    def __init__(
        self,
        home: Path,
        request: ExecRequest,
        websocket: WebSocket,
        protocol: str,
        stopping: asyncio.Event,
    ) -> None:
        self._home = home
        self._request = request
        self._ws = websocket
        # Only v5 has a close signal; under v4 stdin stays open until the connection closes.
        self._can_close_stdin = protocol == V5_PROTOCOL
        self._stopping = stopping
        self._started = datetime.datetime.now(datetime.UTC)
        self._clock = time.monotonic()

    async def run(self) -> None:
        """Run the command to its end, or kill it when the client or the server goes first."""
        request = self._request
        pods_dir = self._home / PODS_DIR
        workdir = container_dir(pods_dir, request.namespace, request.pod, request.container)
        workdir.mkdir(parents=True, exist_ok=True)
        pipe, devnull = asyncio.subprocess.PIPE, asyncio.subprocess.DEVNULL
        try:
            process = await asyncio.create_subprocess_exec(
                *request.command,
                stdin=pipe if request.stdin else devnull,
                stdout=pipe if request.stdout else devnull,
                stderr=pipe if request.stderr else devnull,
                cwd=workdir,
                env=self._environment(workdir),
                start_new_session=True,
            )
        except OSError as error:
            # What container runtimes report: 127 for a missing command, 126 for one that
            # cannot run.
            await self._ws.send_channel(STDERR, f"exec failed: {error}\n".encode())
            await self._finish(127 if isinstance(error, FileNotFoundError) else 126, "exited")
            return
        log.info("exec %s %s started as PID %d", request.target, request.command, process.pid)
        pumps = [
            asyncio.create_task(self._pump(stream, channel))
            for stream, channel in ((process.stdout, STDOUT), (process.stderr, STDERR))
            if stream is not None
        ]
        exited = asyncio.create_task(process.wait())
        client = asyncio.create_task(self._from_client(process))
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({exited, client, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if exited.done():
                # The exec ends with its command: whatever it left running in the background
                # goes too, else it would hold the output pipes open and outlive the exec.
                _signal_group(process.pid, signal.SIGKILL)
                await self._drain(pumps)
                await self._finish(_exit_code(exited.result()), "exited")
                # Give the client a moment to answer our close frame before hanging up.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(client, CLOSE_WAIT)
            else:
                # The client hung up or the server stops: nobody will read the output, and a
                # command holding something (a database lock) must let go now.
                ended: Ended = "shutdown" if stopping.done() else "disconnected"
                await self._terminate(process.pid, exited)
                await self._drain(pumps)
                if ended == "shutdown":
                    await self._ws.close(CLOSE_GOING_AWAY)
                self._record(_exit_code(exited.result()), ended)
        finally:
            for task in (*pumps, exited, client, stopping):
                task.cancel()
            _signal_group(process.pid, signal.SIGKILL)

    def _environment(self, workdir: Path) -> dict[str, str]:
        request = self._request
        return {
            "PATH": os.pathsep.join((str(workdir / "bin"), os.environ.get("PATH", os.defpath))),
            "HOME": str(workdir),
            "HOSTNAME": request.pod,
            "LANG": "C.UTF-8",
            "POD_NAMESPACE": request.namespace,
            "POD_NAME": request.pod,
            "CONTAINER_NAME": request.container,
            "POD_DIR": str(workdir),
        }

    async def _pump(self, stream: asyncio.StreamReader, channel: int) -> None:
        """Forward output as it comes, one frame per read."""
        while chunk := await stream.read(READ_CHUNK):
            await self._ws.send_channel(channel, chunk)

    async def _from_client(self, process: asyncio.subprocess.Process) -> None:
        """Feed stdin frames to the process until the client closes or hangs up."""
        stdin = process.stdin
        while (message := await self._ws.receive()) is not None:
            if not message or stdin is None or stdin.is_closing():
                continue
            channel, data = message[0], message[1:]
            if channel == STDIN:
                try:
                    stdin.write(data)
                    await stdin.drain()
                except OSError:
                    # The command stopped reading (or exited); its exit ends the exec.
                    stdin.close()
            elif self._can_close_stdin and channel == CLOSE_SIGNAL and data[:1] == bytes([STDIN]):
                stdin.close()
            # Resize (channel 4) means nothing without a terminal.

    async def _terminate(self, pgid: int, exited: asyncio.Task[int]) -> None:
        _signal_group(pgid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(exited), KILL_GRACE)
        except TimeoutError:
            _signal_group(pgid, signal.SIGKILL)
            await exited
        _signal_group(pgid, signal.SIGKILL)

    async def _drain(self, pumps: list[asyncio.Task[None]]) -> None:
        # The group is dead, so the pipes hit EOF at once; a grandchild that escaped into its own
        # session could still hold them, and must not hold the exec.
        if pumps:
            await asyncio.wait(pumps, timeout=KILL_GRACE)

    async def _finish(self, code: int, ended: Ended) -> None:
        # Recorded before the status goes out, so a client that has its exit code can already
        # find the record.
        self._record(code, ended)
        status = exec_status(code, self._request.command)
        await self._ws.send_channel(ERROR, json.dumps(status).encode())
        await self._ws.close(CLOSE_NORMAL)

    def _record(self, code: int, ended: Ended) -> None:
        request = self._request
        seconds = round(time.monotonic() - self._clock, 3)
        log.info(
            "exec %s %s %s with code %d after %.2fs",
            request.target,
            request.command,
            ended,
            code,
            seconds,
        )
        record: ExecRecord = {
            "started": self._started.isoformat(),
            "namespace": request.namespace,
            "pod": request.pod,
            "container": request.container,
            "command": request.command,
            "exit_code": code,
            "ended": ended,
            "seconds": seconds,
        }
        with (self._home / EXEC_LOG_FILE).open("a") as file:
            file.write(json.dumps(record) + "\n")


class KubeletDouble:
    """The HTTPS endpoint: exec upgrades and /healthz; every connection it serves."""

    def __init__(self, home: Path) -> None:
        self._home = home
        self.stopping = asyncio.Event()
        self._connections: set[asyncio.Task[None]] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one connection: one request, then close (or an exec over websocket)."""
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError, ValueError):
            log.debug("dropped a malformed or broken request")
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), CLOSE_WAIT)

    async def wait_connections(self) -> None:
        """Wait for the connections being served to finish (their execs stop on `stopping`)."""
        if self._connections:
            await asyncio.wait(set(self._connections), timeout=SHUTDOWN_WAIT)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *header_lines = head.split("\r\n")
        method, target, _ = request_line.split(" ", 2)
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in header_lines if line)
        }
        url = urlsplit(target)
        if url.path == "/healthz":
            await _respond(writer, "200 OK", "ok")
            return
        if url.path.startswith("/containerLogs/"):
            await self._logs(writer, url.path, url.query)
            return
        if not url.path.startswith("/exec/"):
            await _respond(writer, "404 Not Found", "this kubelet test double serves exec and logs")
            return
        try:
            request = parse_exec_request(url.path, url.query)
            protocol, accept = _websocket_handshake(method, headers)
        except BadRequest as error:
            log.warning("exec refused: %s", error)
            await _respond(writer, "400 Bad Request", str(error))
            return
        writer.write(
            (
                "HTTP/1.1 101 Switching Protocols\r\n"
                "Upgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n"
                f"Sec-WebSocket-Protocol: {protocol}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        websocket = WebSocket(reader, writer)
        await ExecSession(self._home, request, websocket, protocol, self.stopping).run()

    async def _logs(self, writer: asyncio.StreamWriter, path: str, query: str) -> None:
        """`GET /containerLogs/<ns>/<pod>/<container>[?tailLines=N]`: what `kubectl logs` reads,
        for containers the pod runner ran (no follow: the log so far)."""
        segments = [unquote(s) for s in path.split("/")]
        if len(segments) != 5 or any(n in ("", ".", "..") or "/" in n for n in segments[2:]):
            await _respond(writer, "400 Bad Request", f"not a container logs path: {path}")
            return
        namespace, pod, container = segments[2:]
        log_file = container_dir(self._home / PODS_DIR, namespace, pod, container) / CONTAINER_LOG
        try:
            data = log_file.read_bytes()
        except FileNotFoundError:
            await _respond(writer, "404 Not Found", f"container {container} of {namespace}/{pod} "
                           "has not run here")  # fmt: skip
            return
        tail = dict(parse_qsl(query)).get("tailLines")
        if tail is not None and tail.isdigit():
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-int(tail) :]) if int(tail) else b""
        await _send(writer, "200 OK", data)


def _websocket_handshake(method: str, headers: dict[str, str]) -> tuple[str, str]:
    """The chosen subprotocol and the accept key; BadRequest when not a usable upgrade."""
    upgrade = headers.get("upgrade", "").lower() == "websocket"
    connection = "upgrade" in headers.get("connection", "").lower()
    key = headers.get("sec-websocket-key")
    if method != "GET" or not (upgrade and connection and key):
        # kubectl speaks SPDY here; the Python client, which Lifeboat uses, speaks websocket.
        raise BadRequest("this kubelet test double serves exec over websocket only, not SPDY")
    offered = {p.strip() for p in headers.get("sec-websocket-protocol", "").split(",")}
    protocol = next((p for p in SUBPROTOCOLS if p in offered), None)
    if protocol is None:
        raise BadRequest(f"no supported subprotocol offered; supported: {', '.join(SUBPROTOCOLS)}")
    digest = hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()
    return protocol, base64.b64encode(digest).decode()


async def _respond(writer: asyncio.StreamWriter, status: str, body: str) -> None:
    await _send(writer, status, body.encode() + b"\n")


async def _send(writer: asyncio.StreamWriter, status: str, data: bytes) -> None:
    writer.write(
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(data)}\r\n"
        "Connection: close\r\n\r\n".encode()
        + data
    )
    await writer.drain()


async def serve(home: Path, port: int) -> None:
    """Serve on 127.0.0.1:port until SIGTERM or SIGINT, then stop every exec and return."""
    double = KubeletDouble(home)
    start_process(
        double.stopping.set, stopping="ending running execs", loop=asyncio.get_running_loop()
    )
    tls = server_tls(home)
    server = await asyncio.start_server(double.handle, HOST, port, ssl=tls, limit=REQUEST_LIMIT)
    log.info("kubelet test double for node %s serving on https://%s:%d", NODE_NAME, HOST, port)
    await double.stopping.wait()
    server.close()
    await double.wait_connections()
    log.info("stopped")


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and serve until told to stop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--home", required=True, type=Path, help="state directory")
    parser.add_argument("--port", required=True, type=int, help="HTTPS port on 127.0.0.1")
    args = parser.parse_args(argv)
    home: Path = args.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    asyncio.run(serve(home, args.port))


if __name__ == "__main__":
    main()
