"""Activities that reach a lighthouse's storage cluster through its OpenStorage SDK REST gateway.

Two calls, as a Portworx cluster answers them: `GET /v1/identities/version` (the driver's
version) and `GET /v1/clusters/inspectcurrent` (the cluster's name, id and status), over HTTPS
with a bearer token or a client certificate.
"""

from __future__ import annotations

import asyncio
import ssl
import tempfile
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from lifeboat.catalog.models import Lighthouse, utcnow
from lifeboat.lighthouse import LighthouseCredentials, LighthouseSecurity
from lifeboat.secrets import SecretBox, SecretDecryptError
from lifeboat.status import ClusterStatus
from workflows.contracts import (
    LighthouseCheckInput,
    LighthouseCheckResult,
    LighthouseProbe,
    RecordLighthouseInput,
)
from workflows.errors import LIGHTHOUSE_NOT_FOUND

VERSION_PATH = "/v1/identities/version"
CLUSTER_PATH = "/v1/clusters/inspectcurrent"
HEALTHY = "STATUS_OK"
# A user may be waiting for this answer: fail fast on a dead address, allow a slow gateway.
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# TLS alerts a server sends when it refuses the client certificate during the handshake.
REFUSED_CERTIFICATE = frozenset(
    {
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "TLSV1_ALERT_UNKNOWN_CA",
        "TLSV1_ALERT_ACCESS_DENIED",
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    }
)
MAX_MESSAGE = 200


class _Answer(Exception):
    """Ends a probe early with its finding."""

    def __init__(self, status: ClusterStatus, reason: str) -> None:
        super().__init__(reason)
        self.probe = LighthouseProbe(status=status, reason=reason)


def _tls_context(credentials: LighthouseCredentials, ca_certificate: str) -> ssl.SSLContext:
    """Trust the lighthouse's CA (else the system's), and present its client certificate."""
    context = ssl.create_default_context(cadata=ca_certificate or None)
    if credentials.certificate:
        # OpenSSL loads a certificate chain only from a file: a private directory, removed
        # as soon as the context holds the key.
        with tempfile.TemporaryDirectory(prefix="lifeboat-lighthouse-") as home:
            pem = Path(home) / "client.pem"
            pem.write_text(f"{credentials.certificate.strip()}\n{credentials.key.strip()}\n")
            context.load_cert_chain(pem)
    return context


def _tls_failure(error: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _unreachable(endpoint: str, error: httpx.TransportError) -> _Answer:
    tls = _tls_failure(error)
    if isinstance(tls, ssl.SSLCertVerificationError):
        return _Answer(
            ClusterStatus.FAILED,
            f"TLS verification of {endpoint} failed ({tls.verify_message or tls.reason}): set "
            "ca_certificate to the CA that signed the storage cluster's server certificate",
        )
    if tls is not None and tls.reason in REFUSED_CERTIFICATE:
        return _Answer(
            ClusterStatus.FAILED,
            f"authentication failed: {endpoint} refused the client certificate during the TLS "
            f"handshake ({tls.reason}): use a certificate signed by a CA the storage cluster "
            "trusts, and its key",
        )
    if tls is not None:
        return _Answer(
            ClusterStatus.FAILED,
            f"the TLS handshake with {endpoint} failed ({tls.reason or tls}): check that the "
            "endpoint is the storage cluster's HTTPS SDK gateway",
        )
    if isinstance(error, httpx.TimeoutException):
        return _Answer(
            ClusterStatus.OFFLINE, f"cannot reach {endpoint}: no answer within the time limit"
        )
    return _Answer(
        ClusterStatus.OFFLINE, f"cannot reach {endpoint}: {error or type(error).__name__}"
    )


def _message(response: httpx.Response) -> str:
    """The gateway's own error message (grpc-gateway answers `{"code", "message"}`)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    text = body.get("message") if isinstance(body, dict) else None
    return str(text or response.reason_phrase or "no message")[:MAX_MESSAGE]


def _get(client: httpx.Client, endpoint: str, path: str, security: str) -> dict[str, Any]:
    try:
        response = client.get(path)
    except httpx.TransportError as exc:
        raise _unreachable(endpoint, exc) from exc
    code = response.status_code
    if code in (401, 403):
        what = "token" if security == LighthouseSecurity.TOKEN else "client certificate"
        raise _Answer(
            ClusterStatus.FAILED,
            f"authentication failed: {endpoint} refused the {what} (HTTP {code}: "
            f"{_message(response)}): replace the lighthouse's credentials",
        )
    if code >= 500:
        raise _Answer(
            ClusterStatus.OFFLINE,
            f"{endpoint} answered GET {path} with HTTP {code} ({_message(response)})",
        )
    body: Any = None
    if code == 200:
        try:
            body = response.json()
        except ValueError:
            body = None
    if not isinstance(body, dict):
        raise _Answer(
            ClusterStatus.FAILED,
            f"{endpoint} does not answer like an OpenStorage SDK gateway (GET {path}: HTTP "
            f"{code}): check the endpoint's host and port",
        )
    return body


def _field(body: dict[str, Any], *path: str) -> str:
    node: Any = body
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return str(node) if isinstance(node, str | int) else ""


def probe_storage_cluster(
    endpoint: str, security: str, credentials: LighthouseCredentials, ca_certificate: str
) -> LighthouseProbe:
    """Ask the storage cluster for its version and status with the lighthouse's credentials."""
    try:
        tls = _tls_context(credentials, ca_certificate)
    except (ssl.SSLError, ValueError, OSError) as exc:
        return LighthouseProbe(
            status=ClusterStatus.FAILED,
            reason=f"the stored certificates cannot be used ({exc}): replace the credentials",
        )
    headers = {"Accept": "application/json"}
    if security == LighthouseSecurity.TOKEN:
        headers["Authorization"] = f"bearer {credentials.token}"
    try:
        with httpx.Client(base_url=endpoint, verify=tls, timeout=TIMEOUT, headers=headers) as c:
            identity = _get(c, endpoint, VERSION_PATH, security)
            cluster = _get(c, endpoint, CLUSTER_PATH, security)
    except _Answer as answer:
        probe = answer.probe
    else:
        probe = _found(endpoint, identity, cluster)
    if credentials.token:  # never let a server's echo carry the token into history
        probe.reason = probe.reason.replace(credentials.token, "<token>")
    return probe


def _found(endpoint: str, identity: dict[str, Any], cluster: dict[str, Any]) -> LighthouseProbe:
    version = _field(identity, "version", "version")[:64]
    name = _field(cluster, "cluster", "name")
    uid = _field(cluster, "cluster", "id")
    health = _field(cluster, "cluster", "status")
    if not version or not uid:
        return LighthouseProbe(
            status=ClusterStatus.FAILED,
            reason=f"{endpoint} does not answer like an OpenStorage SDK gateway (no version or "
            "cluster id): check the endpoint's host and port",
        )
    driver = _field(identity, "version", "driver") or "driver"
    sdk = _field(identity, "sdk_version", "version")
    described = f"storage cluster {name or '(unnamed)'} (id {uid}), {driver} {version}" + (
        f", SDK {sdk}" if sdk else ""
    )
    healthy = health == HEALTHY
    return LighthouseProbe(
        status=ClusterStatus.ONLINE if healthy else ClusterStatus.OFFLINE,
        reason=(
            f"{described}: {HEALTHY}"
            if healthy
            else f"{described} reports {health or 'no status'}, not {HEALTHY}"
        ),
        version=version,
        cluster_name=name,
        cluster_id=uid,
    )


class LighthouseActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], secrets: SecretBox) -> None:
        self._sessions = sessions
        self._secrets = secrets

    @activity.defn
    async def probe_lighthouse(self, input: LighthouseCheckInput) -> LighthouseProbe:
        """Reach the storage cluster with the credentials decrypted here, never from history."""
        async with self._sessions() as session:
            lighthouse = await session.get(Lighthouse, input.lighthouse_uid)
        if lighthouse is None:
            raise ApplicationError(
                f"lighthouse {input.lighthouse_uid} is gone",
                type=LIGHTHOUSE_NOT_FOUND,
                non_retryable=True,
            )
        try:
            secret = self._secrets.decrypt(lighthouse.credentials_ciphertext or b"")
            credentials = LighthouseCredentials.from_json(secret)
        except (SecretDecryptError, ValueError):
            return LighthouseProbe(
                status=ClusterStatus.FAILED,
                reason="the lighthouse's credentials cannot be read (was LIFEBOAT_SECRET_KEY "
                "changed?): replace them",
            )
        return await asyncio.to_thread(
            probe_storage_cluster,
            lighthouse.endpoint,
            lighthouse.security,
            credentials,
            lighthouse.ca_certificate,
        )

    @activity.defn
    async def record_lighthouse_check(self, input: RecordLighthouseInput) -> LighthouseCheckResult:
        """Record status, reason and time; the version only when the cluster told it."""
        probe = input.probe
        async with self._sessions.begin() as session:
            lighthouse = await session.get(Lighthouse, input.lighthouse_uid, with_for_update=True)
            if lighthouse is None:
                raise ApplicationError(
                    f"lighthouse {input.lighthouse_uid} is gone",
                    type=LIGHTHOUSE_NOT_FOUND,
                    non_retryable=True,
                )
            lighthouse.status = probe.status
            lighthouse.status_reason = probe.reason
            lighthouse.last_checked_at = utcnow()
            if probe.version:
                lighthouse.version = probe.version
            return LighthouseCheckResult(
                lighthouse_uid=lighthouse.uid,
                status=lighthouse.status,
                reason=lighthouse.status_reason,
                version=lighthouse.version,
            )
