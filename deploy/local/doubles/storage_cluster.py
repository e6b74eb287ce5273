"""A storage cluster's OpenStorage SDK REST gateway, for tests of lighthouses (test-only).

A Portworx cluster cannot run here; this plays the part a lighthouse talks to, at the same
boundary and in the same shape: HTTPS on 127.0.0.1 (a port the kernel picks), serving

    GET /v1/identities/version      {"sdk_version": {...}, "version": {"driver", "version"}}
    GET /v1/clusters/inspectcurrent {"cluster": {"id", "name", "status"}}

to a caller that proves itself with `Authorization: bearer <token>` or with a client
certificate signed by the double's own CA (mutual TLS). Anything else gets the gateway's error
shape, `{"code", "message", "details"}`: 401 without valid credentials, 404 for other paths.
A client certificate from another CA is refused during the handshake, as a real gateway does.

Everything is generated on start with `cryptography`: the CA, the server certificate (SAN
127.0.0.1 and localhost), a client certificate and key, a token. The server runs in a thread
of the test process:

    with StorageClusterDouble(tmp_path) as cluster:
        cluster.endpoint, cluster.token, cluster.ca_certificate, cluster.client_certificate, ...
"""

from __future__ import annotations

import datetime
import hmac
import ipaddress
import secrets
import ssl
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from deploy.local.doubles.http_json import send_json
from deploy.local.servers.kube import CA_KEY_USAGE, certificate_builder, certificate_name
from deploy.local.servers.procs import HOST

VERSION_PATH = "/v1/identities/version"
CLUSTER_PATH = "/v1/clusters/inspectcurrent"
CERT_LIFETIME = datetime.timedelta(days=1)
# gRPC status codes the gateway puts in its error bodies.
UNAUTHENTICATED, NOT_FOUND = 16, 5


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate and its private key, both PEM."""

    certificate: str
    key: str


class CertificateAuthority:
    """A self-signed CA that issues server and client certificates (EC P-256: fast to make)."""

    def __init__(self, common_name: str) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = certificate_name(common_name)
        self._cert = (
            self._builder(self._name, self._key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(CA_KEY_USAGE, critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )

    @property
    def certificate(self) -> str:
        return self._cert.public_bytes(serialization.Encoding.PEM).decode()

    def _builder(
        self, subject: x509.Name, key: ec.EllipticCurvePublicKey
    ) -> x509.CertificateBuilder:
        return certificate_builder(subject, self._name, key, CERT_LIFETIME)

    def issue(self, common_name: str, *, server: bool = False) -> IssuedCertificate:
        """A server certificate for 127.0.0.1 and localhost, or a client certificate."""
        key = ec.generate_private_key(ec.SECP256R1())
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            self._builder(certificate_name(common_name), key.public_key())
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )
        if server:
            names = [x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return IssuedCertificate(cert.public_bytes(serialization.Encoding.PEM).decode(), _pem(key))


@dataclass(frozen=True)
class SeenRequest:
    """One request the double answered: its path, how the caller proved itself, the status."""

    path: str
    auth: str  # "token", "certificate" or "none"
    status: int


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    double: StorageClusterDouble


class _Gateway(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    routes: ClassVar[dict[str, str]] = {VERSION_PATH: "version", CLUSTER_PATH: "cluster"}

    def handle(self) -> None:
        # The handshake runs here, in the request's thread, so one slow or refused client
        # never holds up the accept loop.
        self.request.settimeout(10)
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            return
        super().handle()

    def do_GET(self) -> None:
        double = self.server.double
        auth = self._authenticated(double)
        if auth == "none":
            message = "Access denied: a valid bearer token or client certificate is required"
            self._answer(401, {"code": UNAUTHENTICATED, "message": message, "details": []}, auth)
            return
        route = self.routes.get(self.path.split("?", 1)[0])
        if route is None:
            self._answer(404, {"code": NOT_FOUND, "message": "Not Found", "details": []}, auth)
            return
        self._answer(
            200, double.version_body() if route == "version" else double.cluster_body(), auth
        )

    def _authenticated(self, double: StorageClusterDouble) -> str:
        # With CERT_OPTIONAL a presented certificate has been verified against our CA already.
        if self.request.getpeercert():
            return "certificate"
        scheme, _, value = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), double.token):
            return "token"
        return "none"

    def _answer(self, status: int, body: dict[str, Any], auth: str) -> None:
        send_json(self, status, body)
        self.server.double.seen.append(SeenRequest(self.path, auth, status))

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `seen` instead."""


class StorageClusterDouble:
    """The gateway of a one-cluster storage system, served from a thread of this process."""

    def __init__(
        self, home: Path, *, cluster_name: str = "px-dev", version: str = "3.1.2-c7a1f0b"
    ) -> None:
        self.home = home
        self.authority = CertificateAuthority("lifeboat storage cluster double CA")
        self.client = self.authority.issue("lifeboat-lighthouse")
        self.token = secrets.token_urlsafe(32)
        self.cluster_name = cluster_name
        self.cluster_id = str(uuid.uuid4())
        self.cluster_status = "STATUS_OK"
        self.version = version
        self.seen: list[SeenRequest] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def ca_certificate(self) -> str:
        return self.authority.certificate

    @property
    def endpoint(self) -> str:
        if self._server is None:
            raise RuntimeError("the storage cluster double is not started")
        return f"https://{HOST}:{self._server.server_address[1]}"

    def version_body(self) -> dict[str, Any]:
        return {
            "sdk_version": {"major": 0, "minor": 101, "patch": 44, "version": "0.101.44"},
            "version": {"driver": "pxd", "version": self.version, "details": {}},
        }

    def cluster_body(self) -> dict[str, Any]:
        return {
            "cluster": {
                "id": self.cluster_id,
                "name": self.cluster_name,
                "status": self.cluster_status,
            }
        }

    def _tls(self) -> ssl.SSLContext:
        served = self.authority.issue(HOST, server=True)
        pem = self.home / "server.pem"
        pem.touch(mode=0o600)
        pem.write_text(served.certificate + served.key)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(pem)
        context.load_verify_locations(cadata=self.ca_certificate)
        context.verify_mode = ssl.CERT_OPTIONAL
        return context

    def start(self) -> StorageClusterDouble:
        self.home.mkdir(parents=True, exist_ok=True)
        server = _Server((HOST, 0), _Gateway)
        server.double = self
        server.socket = self._tls().wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> StorageClusterDouble:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
