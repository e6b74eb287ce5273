"""Settings from the environment (`LIFEBOAT_` prefix), with a development default for each.

Outside development the default secrets are refused: a production deployment that forgot to
set its encryption key must not start encrypting kubeconfigs with a key everyone knows.
"""

from __future__ import annotations

import enum

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lifeboat import __version__
from lifeboat.secrets import SecretBox

DEV_SECRET_KEY = "lifeboat-dev-secret-key-do-not-use-in-production"


class Environment(enum.StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Mode(enum.StrEnum):
    """Deployment mode: classic (cloud accounts, VMs) or federated (cluster discovery)."""

    CLASSIC = "classic"
    FEDERATED = "federated"


class MoverRunner(enum.StrEnum):
    """Where the data mover runs: in the worker's process, or as a Job in the protected cluster."""

    # Reads the volume's hostPath directory: only the dev stack's volumes have one.
    LOCAL = "local"
    JOB = "job"


class LogFormat(enum.StrEnum):
    """How the api and the worker write their logs (lifeboat/logs.py)."""

    TEXT = "text"
    JSON = "json"


class Settings(BaseSettings):
    """Everything a Lifeboat process needs to know about where it runs."""

    model_config = SettingsConfigDict(env_prefix="LIFEBOAT_", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    mode: Mode = Mode.CLASSIC

    # Catalog: `sqlite:///path` or `postgresql://user@host:port/db`.
    database_url: str = "sqlite:///lifeboat.db"
    # Encrypts secrets at rest (kubeconfigs, cloud keys, location keys).
    secret_key: str = DEV_SECRET_KEY
    # During a rotation of the secret key: the keys it replaces, still read (a JSON list).
    previous_secret_keys: list[str] = Field(default_factory=list)

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_api_key: str | None = None
    temporal_tls: bool = False
    task_queue: str = "lifeboat"
    temporal_ui_url: str | None = None
    # The built web console (`console/dist`) the api serves at `/`; empty: the repository's.
    console_dir: str = ""
    # Where users open the console (`https://lifeboat.example.com`): notifications link the
    # backup or restore there; empty: they carry no link.
    console_url: str = ""

    # OIDC: the issuer's discovery document is at <issuer>/.well-known/openid-configuration.
    oidc_issuer: str = "http://127.0.0.1:5556"
    oidc_audience: str = "lifeboat"
    # The web console's own client (public: authorization code with PKCE, no secret), whose
    # tokens must carry `oidc_audience`; empty when the console signs in with that client.
    oidc_console_client_id: str = ""
    oidc_algorithms: list[str] = Field(default_factory=lambda: ["RS256", "RS384", "RS512"])
    # Dotted claim paths: Keycloak puts roles in `realm_access.roles`, Okta uses `groups`.
    oidc_claim_user_id: str = "sub"
    oidc_claim_username: str = "preferred_username"
    oidc_claim_email: str = "email"
    oidc_claim_groups: str = "groups"
    oidc_claim_roles: str = "realm_access.roles"
    oidc_jwks_cache_seconds: int = 300
    # Tokens issued (`iat`) longer ago than this are refused, whatever their expiry says: a
    # stolen long-lived token stops working, and the caller signs in again.
    oidc_max_token_age_seconds: int = Field(default=24 * 3600, ge=60)
    # A token naming an unknown key refetches the JWKS (rotation), at most this often, so
    # forged key ids cannot flood the provider.
    oidc_jwks_refetch_cooldown_seconds: float = 5.0
    # Provider groups or roles that carry a Lifeboat role, e.g. {"backup-admins":
    # "lifeboat.super-admin"}; more mappings are role bindings made through the API.
    role_mapping: dict[str, str] = Field(default_factory=dict)

    # Noticing users removed at the provider (shown as `Unknown (<user id>)`): its SCIM 2.0
    # base URL, read with a client-credentials token of this client every
    # `directory_sync_interval_seconds`; `directory_subject_attribute` is the SCIM attribute
    # equal to the user id claim (`userName` for Canaille, `id` for Keycloak and Entra ID).
    directory_scim_url: str | None = None
    directory_client_id: str = ""
    directory_client_secret: str = ""
    directory_subject_attribute: str = "userName"
    directory_sync_interval_seconds: int = Field(default=3600, ge=30)
    # Users not seen in a token for this many days are shown as unknown too, for providers
    # without SCIM (0: never). Signing in again shows them by name at once.
    user_unseen_days: int = Field(default=0, ge=0, le=36500)

    # Licenses: public keys trusted besides the vendor's (raw Ed25519, base64url, comma
    # separated), and how often the worker checks the license against the clusters' nodes
    # (suspending backup schedules while it stops backups, resuming them after).
    license_public_keys: str = ""
    # The vendor's license server, for licenses by subscription ('' where there is none: an
    # air-gapped installation imports a license file answering its activation request).
    license_server_url: str = ""
    license_check_interval_seconds: int = Field(default=300, ge=10)

    # The object store the platform reports on in its service status (None: not reported).
    s3_endpoint: str | None = None
    # Where the worker calls the AWS APIs (listing EKS clusters); empty means AWS itself. The
    # tests point it at a local AWS API server. EKS tokens always name AWS STS: the cluster,
    # not Lifeboat, calls that.
    aws_endpoint_url: str = ""

    # The data mover: `job`, a Kubernetes Job per volume in the claim's namespace, running
    # `python -m activities.mover` in `mover_image` (an image with Lifeboat installed and
    # `python` on its PATH); or `local`, in the worker, on hostPath volumes (the dev stack's
    # choice: its settings set it).
    mover_runner: MoverRunner = MoverRunner.JOB
    mover_image: str = f"lifeboat:{__version__}"
    # A mover Job still running after this long is stopped and its volume reported Failed;
    # below the activity's own 12 h limit, so the Job's end is what gets reported.
    mover_job_timeout_seconds: int = Field(default=11 * 3600, ge=60)
    # What the mover Job's pod requests from its node.
    mover_cpu_request: str = "250m"
    mover_memory_request: str = "256Mi"
    # How often a moving volume's progress reaches Temporal, where the API reads it (a backup's
    # live `progress`): the worker's heartbeat throttle (else 0.8 x an activity's heartbeat
    # timeout) and how often the in-worker mover reports.
    progress_interval_seconds: float = Field(default=2.0, gt=0, le=60)

    # Activities one worker runs at once (Temporal's activity slots), and as many threads for
    # their blocking work (Kubernetes and S3 calls, the in-worker mover): a running activity
    # never waits for a thread. Each volume moved in the worker (LIFEBOAT_MOVER_RUNNER=local)
    # adds its own 6 upload threads and up to 96 MiB of data in flight.
    worker_activity_slots: int = Field(default=100, ge=1, le=1000)

    # The worker's /metrics (Lifeboat's series and the Temporal SDK's); 0: not served. The
    # manifests serve it on 0.0.0.0:9464; the dev stack on a free loopback port.
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)
    worker_metrics_host: str = "127.0.0.1"

    log_format: LogFormat = LogFormat.TEXT

    cluster_sync_interval_seconds: int = Field(default=300, ge=30)
    # Bounds what a user may send: kubeconfigs beyond this are refused with 413.
    max_request_bytes: int = 1024 * 1024

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.environment is not Environment.DEVELOPMENT and self.secret_key == DEV_SECRET_KEY:
            raise ValueError(
                "LIFEBOAT_SECRET_KEY is the development default; set a random secret "
                "(for example `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
            )
        if len(self.secret_key) < 16:
            raise ValueError("LIFEBOAT_SECRET_KEY must be at least 16 characters long")
        if self.secret_key in self.previous_secret_keys:
            raise ValueError(
                "LIFEBOAT_PREVIOUS_SECRET_KEYS holds LIFEBOAT_SECRET_KEY itself: list only the "
                "keys the new one replaces"
            )
        return self

    def secret_box(self) -> SecretBox:
        """The encryption of secrets at rest, reading what previous keys encrypted too."""
        return SecretBox(self.secret_key, self.previous_secret_keys)
