"""Start and stop a real Kubernetes control plane on 127.0.0.1: etcd, API server, controllers.

No scheduler and no kubelet: pods never run, but everything the API server and the controller
manager do is real (validation, RBAC, CRDs, garbage collection, Deployments getting
ReplicaSets, default service accounts). Everything lives under one home directory:

    home/pki/                 CA, serving, client and service-account keys (reused on restart)
    home/etcd-data/           etcd's data, kept across stop and start
    home/<process>/           each process's log and pid file
    home/kubeconfig           admin kubeconfig with embedded certificates
    home/cluster.json         what the running cluster answers at
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from deploy.local.servers import kubebuild
from deploy.local.servers.procs import HOST, ManagedProcess, StartError, free_port, http_ok

CLUSTER_NAME = "lifeboat-dev"
ADMIN_USER = "lifeboat-admin"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
# The `kubernetes` Service takes the first address of the service range; in-cluster clients
# dial it, so the serving certificate names it too.
KUBERNETES_SERVICE_IP = "10.0.0.1"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc"
START_TIMEOUT = 60.0
# Stop order: clients of the API server first, its storage last.
PROCESS_NAMES = ("kube-controller-manager", "kube-apiserver", "etcd")
CERT_LIFETIME = datetime.timedelta(days=3650)


@dataclass(frozen=True)
class KubeCluster:
    """Where a running control plane answers and how to talk to it as an administrator."""

    server: str
    kubeconfig: Path
    version: str


@dataclass(frozen=True)
class _Pki:
    """Paths of the certificates and keys under home/pki."""

    root: Path

    def crt(self, name: str) -> Path:
        return self.root / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.root / f"{name}.key"

    @property
    def sa_key(self) -> Path:
        return self.root / "sa.key"

    @property
    def sa_pub(self) -> Path:
        return self.root / "sa.pub"


def _process(home: Path, name: str) -> ManagedProcess:
    return ManagedProcess(name, home / name)


def _state_file(home: Path) -> Path:
    return home / "cluster.json"


def running_kube(home: Path) -> KubeCluster | None:
    """The cluster started from this home when all its processes still run, else None."""
    if any(_process(home, name).pid() is None for name in PROCESS_NAMES):
        return None
    try:
        state = json.loads(_state_file(home).read_text())
        return KubeCluster(
            server=str(state["server"]),
            kubeconfig=Path(state["kubeconfig"]),
            version=str(state["version"]),
        )
    except (OSError, ValueError, KeyError):
        return None


def start_kube(home: Path, *, port: int | None = None) -> KubeCluster:
    """Start etcd, kube-apiserver and kube-controller-manager under home; wait until usable.

    Returns the running cluster unchanged when it already runs (and listens on `port`, if
    given). Certificates and etcd data from an earlier run are reused, so an old kubeconfig
    keeps working when the port is the same. Without a port a free one is chosen: the Python
    client caches API discovery per host:port on disk, so tests want a fresh port each run.
    """
    home = home.resolve()
    running = running_kube(home)
    if running is not None:
        if port is None or running.server == _server_url(port):
            return running
        raise StartError(
            f"Kubernetes from {home} already runs at {running.server}, not on port {port}; "
            "stop it first (stop_kube) or start it without a port"
        )
    # Leftovers of a half-finished start or a crash: stop them by their recorded PIDs.
    stop_kube(home)
    home.mkdir(parents=True, exist_ok=True)
    binaries = kubebuild.build()
    pki = _ensure_pki(home / "pki")
    api_port = port if port is not None else free_port()
    server = _server_url(api_port)
    kubeconfig = home / "kubeconfig"
    _write_kubeconfig(kubeconfig, server, pki, ADMIN_USER, "admin")
    controller_kubeconfig = home / "kube-controller-manager.kubeconfig"
    _write_kubeconfig(
        controller_kubeconfig, server, pki, "system:kube-controller-manager", "controller-manager"
    )
    admin_tls = _client_tls(pki, "admin")
    try:
        etcd_url = _start_etcd(home, binaries["etcd"])
        _start_apiserver(home, binaries["kube-apiserver"], pki, etcd_url, api_port)
        _start_controller_manager(
            home, binaries["kube-controller-manager"], pki, controller_kubeconfig, server, admin_tls
        )
        version = str(_get_json(f"{server}/version", admin_tls)["gitVersion"])
    except BaseException:
        stop_kube(home)
        raise
    cluster = KubeCluster(server=server, kubeconfig=kubeconfig, version=version)
    _state_file(home).write_text(
        json.dumps({"server": server, "kubeconfig": str(kubeconfig), "version": version}, indent=2)
        + "\n"
    )
    return cluster


def stop_kube(home: Path) -> None:
    """Stop the controller manager, the API server and etcd started from home, in that order.

    Only the recorded PIDs are signalled; data and certificates stay for the next start.
    """
    home = home.resolve()
    for name in PROCESS_NAMES:
        _process(home, name).stop()
    _state_file(home).unlink(missing_ok=True)


def _server_url(port: int) -> str:
    return f"https://{HOST}:{port}"


def _start_etcd(home: Path, etcd: Path) -> str:
    client_url = f"http://{HOST}:{free_port()}"
    peer_url = f"http://{HOST}:{free_port()}"
    cmd = [
        str(etcd),
        "--name=lifeboat",
        f"--data-dir={home / 'etcd-data'}",
        f"--listen-client-urls={client_url}",
        f"--advertise-client-urls={client_url}",
        f"--listen-peer-urls={peer_url}",
        f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster=lifeboat={peer_url}",
        "--logger=zap",
        # A dev store: losing the last writes on a power cut is fine, slow disks are not. etcd
        # 3.4 accepts this flag though its --help does not list it.
        "--unsafe-no-fsync",
    ]
    _process(home, "etcd").start(
        cmd, healthy=lambda: http_ok(f"{client_url}/health"), timeout=START_TIMEOUT
    )
    return client_url


def _start_apiserver(home: Path, apiserver: Path, pki: _Pki, etcd_url: str, port: int) -> None:
    cmd = [
        str(apiserver),
        f"--bind-address={HOST}",
        f"--advertise-address={HOST}",
        "--insecure-port=0",
        f"--secure-port={port}",
        f"--tls-cert-file={pki.crt('apiserver')}",
        f"--tls-private-key-file={pki.key('apiserver')}",
        f"--client-ca-file={pki.crt('ca')}",
        f"--etcd-servers={etcd_url}",
        f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
        f"--service-account-key-file={pki.sa_pub}",
        f"--service-account-signing-key-file={pki.sa_key}",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        "--authorization-mode=Node,RBAC",
        # Endpoints may not hold loopback addresses, so keeping the `kubernetes` Service's
        # Endpoints at 127.0.0.1 fails and logs an error every 10 s.
        "--endpoint-reconciler-type=none",
    ]
    # /readyz is open to anonymous users (system:public-info-viewer), so no client cert needed.
    _process(home, "kube-apiserver").start(
        cmd,
        healthy=lambda: http_ok(f"{_server_url(port)}/readyz", insecure_tls=True),
        timeout=START_TIMEOUT,
    )


def _start_controller_manager(
    home: Path,
    controller_manager: Path,
    pki: _Pki,
    kubeconfig: Path,
    server: str,
    admin_tls: ssl.SSLContext,
) -> None:
    cmd = [
        str(controller_manager),
        f"--kubeconfig={kubeconfig}",
        "--leader-elect=false",
        # No serving endpoints: nothing scrapes it, and fixed ports would clash between runs.
        "--port=0",
        "--secure-port=0",
        f"--service-account-private-key-file={pki.sa_key}",
        f"--root-ca-file={pki.crt('ca')}",
        "--use-service-account-credentials=false",
        f"--cluster-signing-cert-file={pki.crt('ca')}",
        f"--cluster-signing-key-file={pki.key('ca')}",
        # No kubelet ever reports, so the node lifecycle controller would evict every pod bound
        # to a fake Node.
        "--controllers=*,-nodelifecycle",
    ]
    # The service account controller creating `default` proves the controllers run and reach
    # the API server with their credentials.
    default_sa = f"{server}/api/v1/namespaces/default/serviceaccounts/default"
    _process(home, "kube-controller-manager").start(
        cmd, healthy=_exists(default_sa, admin_tls), timeout=START_TIMEOUT
    )


def _exists(url: str, tls: ssl.SSLContext) -> Callable[[], bool]:
    def check() -> bool:
        try:
            _get_json(url, tls)
        except (urllib.error.URLError, OSError, ValueError):
            return False
        return True

    return check


def _get_json(url: str, tls: ssl.SSLContext) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=2, context=tls) as response:
        body: dict[str, object] = json.loads(response.read())
        return body


def _client_tls(pki: _Pki, name: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.crt("ca")))
    context.load_cert_chain(str(pki.crt(name)), str(pki.key(name)))
    return context


def _write_kubeconfig(path: Path, server: str, pki: _Pki, user: str, cert_name: str) -> None:
    def b64(file: Path) -> str:
        return base64.b64encode(file.read_bytes()).decode()

    # Embedded data rather than file paths, so the file still works when copied elsewhere.
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CLUSTER_NAME,
                "cluster": {"server": server, "certificate-authority-data": b64(pki.crt("ca"))},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": b64(pki.crt(cert_name)),
                    "client-key-data": b64(pki.key(cert_name)),
                },
            }
        ],
        "contexts": [{"name": CLUSTER_NAME, "context": {"cluster": CLUSTER_NAME, "user": user}}],
        "current-context": CLUSTER_NAME,
        "preferences": {},
    }
    _write_private(path, yaml.safe_dump(config, sort_keys=False).encode())


def _ensure_pki(root: Path) -> _Pki:
    """Create what is missing under root; keep what exists, so old kubeconfigs stay valid."""
    root.mkdir(parents=True, exist_ok=True)
    pki = _Pki(root)
    if not (pki.crt("ca").exists() and pki.key("ca").exists()):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lifeboat-dev-ca")])
        ca_cert = (
            certificate_builder(ca_name, ca_name, ca_key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(CA_KEY_USAGE, critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        _write_key(pki.key("ca"), ca_key)
        pki.crt("ca").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        # A new CA invalidates every certificate it did not sign.
        for name in ("apiserver", "admin", "controller-manager"):
            pki.crt(name).unlink(missing_ok=True)
    ca_key_loaded = serialization.load_pem_private_key(pki.key("ca").read_bytes(), password=None)
    assert isinstance(ca_key_loaded, ec.EllipticCurvePrivateKey)
    ca_cert_loaded = x509.load_pem_x509_certificate(pki.crt("ca").read_bytes())
    sans: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address(HOST)),
        x509.IPAddress(ipaddress.ip_address(KUBERNETES_SERVICE_IP)),
        x509.DNSName("localhost"),
        x509.DNSName("kubernetes"),
        x509.DNSName("kubernetes.default"),
        x509.DNSName("kubernetes.default.svc"),
    ]
    leaves: list[tuple[str, x509.Name, x509.ObjectIdentifier]] = [
        ("apiserver", certificate_name("kube-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH),
        ("admin", certificate_name(ADMIN_USER, "system:masters"), ExtendedKeyUsageOID.CLIENT_AUTH),
        # With --use-service-account-credentials=false every controller acts as this user, which
        # the default RBAC roles do not cover; the dev control plane trusts it fully.
        (
            "controller-manager",
            certificate_name("system:kube-controller-manager", "system:masters"),
            ExtendedKeyUsageOID.CLIENT_AUTH,
        ),
    ]
    for name, subject, usage in leaves:
        if pki.crt(name).exists() and pki.key(name).exists():
            continue
        key = ec.generate_private_key(ec.SECP256R1())
        builder = certificate_builder(
            subject, ca_cert_loaded.subject, key.public_key()
        ).add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if name == "apiserver":
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(ca_key_loaded, hashes.SHA256())
        _write_key(pki.key(name), key)
        pki.crt(name).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if not (pki.sa_key.exists() and pki.sa_pub.exists()):
        # Service account tokens are signed RS256, the algorithm every client verifies.
        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write_key(pki.sa_key, sa_key)
        pki.sa_pub.write_bytes(
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return pki


def certificate_name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


# What the dev stack's test CAs' certificates may do: sign certificates and revocation lists.
CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    key_cert_sign=True,
    crl_sign=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    encipher_only=False,
    decipher_only=False,
)


def certificate_builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    lifetime: datetime.timedelta = CERT_LIFETIME,
) -> x509.CertificateBuilder:
    """A certificate of the dev stack's test CAs, to be given extensions and signed."""
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        # Backdated a little so a clock that lags by seconds does not reject fresh certificates.
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + lifetime)
    )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    _write_private(path, pem)


def _write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read: it holds a private key."""
    path.unlink(missing_ok=True)
    path.touch(mode=0o600)
    path.write_bytes(data)
