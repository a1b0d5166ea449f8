"""The configuration contract: every ``VATTI_*`` variable, grouped by the component that reads it.

Each process validates only the groups its component needs at start-up (:data:`COMPONENTS`) and
reports every problem on its own line, naming the variable. ``vatti config`` prints the contract
from these models, so the documentation cannot drift from the code. Secret values are
``SecretStr``: they are never printed, logged or echoed back in an error.

A job's runtime gets its settings from the engine that launches it through one serializer,
:func:`runtime_launch_settings`: the plain values as environment variables, the secret ones
apart (the executor hands them over on an inherited pipe; see :mod:`vatti.runtime.main`).

The groups read the environment themselves (plain pydantic models, a dozen lines below): the
settings library we used before cost a tenth of a second at every start of every process.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from vatti.errors import ConfigError
from vatti.executors.registry import DEFAULT_EXECUTOR, EXECUTORS
from vatti.isolation.uid_range import DEFAULT_JOB_UID_RANGE, UidRange

if TYPE_CHECKING:
    from vatti.tokens import ConfiguredToken

PREFIX = "VATTI_"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: object) -> object:
    """Seconds from ``90``, ``"90s"``, ``"15m"``, ``"2h"`` or ``"7d"``; other values unchanged.

    >>> parse_duration("15m"), parse_duration("7d"), parse_duration(2.5), parse_duration("1.5h")
    (900.0, 604800.0, 2.5, 5400.0)
    """
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError("expected a duration such as 30, 30s, 15m, 2h or 7d")
        return float(match.group(1)) * _UNITS[match.group(2)]
    return value


Seconds = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
OptionalSeconds = Annotated[Annotated[float, Field(gt=0)] | None, BeforeValidator(parse_duration)]


def env_name(field_name: str) -> str:
    """The environment variable of a settings field.

    >>> env_name("data_dir")
    'VATTI_DATA_DIR'
    """
    return PREFIX + field_name.upper()


class _Settings(BaseModel):
    """One group of settings, read from the ``VATTI_*`` environment (names in any case).

    ``Group.from_environment()`` reads ``os.environ``, and values given to it win over the
    environment's (the runtime's secrets from its launch pipe are given so); ``Group()`` is
    the group on its defaults, whatever the environment holds.
    """

    model_config = ConfigDict(extra="ignore", validate_default=True, frozen=True, defer_build=True)
    #: the component group's name in ``vatti config``
    group: ClassVar[str]
    #: fields a job's runtime must not receive even though its component reads the group
    not_for_jobs: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def from_environment(
        cls, values: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None
    ) -> Self:
        names = {env_name(name): name for name in cls.model_fields}
        source = os.environ if environ is None else environ
        found = {names[k.upper()]: v for k, v in source.items() if k.upper() in names}
        return cls(**{**found, **(values or {})})


class CommonSettings(_Settings):
    """Read by every process."""

    group: ClassVar[str] = "common"

    data_dir: Path = Field(
        Path("vatti-data"),
        description="Directory for the embedded database, run directories and local results.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level of the process."
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class StoreSettings(_Settings):
    """Where jobs and their results live (the API and the engine)."""

    group: ClassVar[str] = "store"
    #: a job reads and writes its areas in the object store, never the job database
    not_for_jobs: ClassVar[frozenset[str]] = frozenset({"database_url", "secret_key"})

    database_url: SecretStr | None = Field(
        None,
        description="SQLAlchemy URL of the job database (postgresql://...); default: SQLite "
        "(WAL) at DATA_DIR/vatti.db. Secret: it may hold a password.",
    )
    object_store_url: str | None = Field(
        None,
        description="Where jobs' work areas (spec, outcome, log) live, and their results unless "
        "RESULTS_STORE_URL is set: file:///abs/dir, s3://bucket/prefix or gs://bucket/prefix; "
        "default: file://DATA_DIR/objects.",
    )
    results_store_url: str | None = Field(
        None,
        description="Where jobs' results areas live, when apart from the work areas (another "
        "bucket or prefix, e.g. s3://project-results/vatti); default: OBJECT_STORE_URL.",
    )
    s3_endpoint: str | None = Field(
        None,
        description="S3 API endpoint for s3:// URLs (http(s)://host:port, e.g. a MinIO server); "
        "default: https://s3.REGION.amazonaws.com.",
    )
    s3_region: str = Field("us-east-1", min_length=1, description="S3 region (request signing).")
    s3_path_style: bool = Field(
        True,
        description="Address buckets by path (ENDPOINT/BUCKET/KEY, what MinIO and most "
        "S3-compatible servers need); false: virtual-hosted (BUCKET.ENDPOINT-HOST/KEY).",
    )
    s3_access_key_id: str | None = Field(
        None,
        description="S3 access key id. Credentials are only ever these settings (never the "
        "environment's AWS_* variables or a cloud metadata server); unset: anonymous requests.",
    )
    s3_secret_access_key: SecretStr | None = Field(
        None, description="S3 secret access key. Required when S3_ACCESS_KEY_ID is set."
    )
    s3_session_token: SecretStr | None = Field(
        None, description="S3 session token of temporary credentials (optional)."
    )
    gcs_service_account_key: SecretStr | None = Field(
        None,
        description="Google Cloud service account key (its JSON) for gs:// URLs; unset: "
        "anonymous requests (never a metadata server lookup).",
    )
    gcs_endpoint: str | None = Field(
        None,
        description="Google Cloud Storage endpoint for gs:// URLs; default: "
        "https://storage.googleapis.com.",
    )

    @field_validator("object_store_url", "results_store_url")
    @classmethod
    def _scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("file:///", "s3://", "gs://", "memory:")):
            raise ValueError("expected file:///ABSOLUTE/PATH, s3://BUCKET/PREFIX or gs://...")
        return value

    secret_key: SecretStr | None = Field(
        None,
        description="Service keys that seal what the database holds secret (a job's webhook "
        "URL), comma-separated, newest first; `vatti secrets key` makes one. Default: a key "
        "kept in DATA_DIR/secret.key. Secret. Required when DATABASE_URL is a PostgreSQL URL.",
    )

    @field_validator("secret_key")
    @classmethod
    def _keys_valid(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from vatti.secretbox import check_key

            keys = [k for k in value.get_secret_value().split(",") if k.strip()]
            if not keys:
                raise ValueError("give at least one key")
            for key in keys:
                check_key(key)
        return value

    def secret_keys(self) -> list[str] | None:
        """The configured service keys, newest first; None when none is configured."""
        if self.secret_key is None:
            return None
        return [k.strip() for k in self.secret_key.get_secret_value().split(",") if k.strip()]

    @field_validator("s3_endpoint", "gcs_endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^/?#@\s]+/?", value):
            raise ValueError("expected http(s)://HOST[:PORT], without a path or credentials")
        return value.rstrip("/") if value is not None else None

    def problems(self) -> list[str]:
        problems = []
        if (self.s3_access_key_id is None) != (self.s3_secret_access_key is None):
            problems.append(
                f"{PREFIX}S3_SECRET_ACCESS_KEY: required when {PREFIX}S3_ACCESS_KEY_ID is set, "
                "and only then"
            )
        url = self.database_url.get_secret_value() if self.database_url is not None else ""
        if url.startswith("postgresql") and self.secret_key is None:
            problems.append(
                f"{PREFIX}SECRET_KEY: required when {PREFIX}DATABASE_URL is a PostgreSQL URL "
                "(every process that shares the database needs the same key)"
            )
        return problems


class ApiSettings(_Settings):
    """The HTTP API (``vatti serve``)."""

    group: ClassVar[str] = "api"

    host: str = Field("127.0.0.1", description="Address the HTTP server listens on.")
    port: int = Field(8000, ge=0, le=65535, description="Port the HTTP server listens on.")
    auth: Literal["tokens", "none"] = Field(
        "tokens",
        description="tokens: bearer tokens from API_TOKENS; none: no authentication (development "
        "only; refused unless HOST is a loopback address).",
    )
    api_tokens: SecretStr | None = Field(
        None,
        description="Accepted bearer tokens as [TENANT@]SHA256HEX:scope,scope entries separated "
        "by ';' (scopes: submit, read, admin, or submit narrowed: submit:PIPELINE, "
        "submit:PIPELINE:COMMAND; tenant: default). Store hashes, never tokens: `vatti token` "
        "makes both. Besides these, the tokens made with `vatti token create` (kept in the "
        "database).",
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Request bodies larger than this are refused with 413."
    )
    submit_rate: float = Field(
        60.0,
        ge=0,
        description="Submissions each token may make per minute, on average (0: no limit); "
        "beyond it the API answers 429 with Retry-After. Counted per API process.",
    )
    submit_burst: int = Field(
        20,
        ge=1,
        description="Submissions a token may make at once, before SUBMIT_RATE paces it.",
    )
    dedup_window: Seconds = Field(
        600.0,
        description="Identical requests (no client_id) within this window return the existing "
        "job instead of starting another (seconds, or 15m, 2h...).",
    )

    cors_origins: str | None = Field(
        None,
        description="Browser origins allowed to call the API, comma-separated "
        "(https://portal.example.org); default: none, CORS is off.",
    )
    tls_cert_file: Path | None = Field(
        None, description="Serve HTTPS with this PEM certificate (chain); needs TLS_KEY_FILE."
    )
    tls_key_file: Path | None = Field(
        None, description="The PEM private key of TLS_CERT_FILE; needs TLS_CERT_FILE."
    )
    tls_key_password: SecretStr | None = Field(
        None, description="Password of an encrypted TLS_KEY_FILE. Secret."
    )
    # GA4GH WES service-info: who runs the service, and where a client learns to get a token
    wes_organization: str = Field(
        "vatti",
        min_length=1,
        max_length=200,
        description="The organization GA4GH WES service-info names as running this service.",
    )
    wes_organization_url: str | None = Field(
        None,
        pattern=r"^https?://\S+$",
        description="The organization's web site, in WES service-info (default: the service's "
        "own service-info URL).",
    )
    wes_auth_instructions_url: str | None = Field(
        None,
        pattern=r"^https?://\S+$",
        description="A page telling WES clients how to get a token, in WES service-info "
        "(default: the service's own short instructions, /ga4gh/wes/v1/auth-instructions).",
    )

    # -- /metrics
    metrics_access: Literal["token", "loopback"] = Field(
        "token",
        description="Who may scrape /metrics: token (a bearer token with the read or admin "
        "scope); loopback: also clients on a loopback address without a token (not behind a "
        "proxy on the same host).",
    )

    # the dashboard (/dashboard)
    dashboard_session_ttl: Seconds = Field(
        8 * 3600.0,
        description="How long a dashboard sign-in lasts (seconds, or 30m, 8h...); a token's "
        "session ends sooner when the token is revoked or expires.",
    )

    def cors_origin_list(self) -> tuple[str, ...]:
        if self.cors_origins is None:
            return ()
        return tuple(o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip())

    @property
    def tls(self) -> bool:
        return self.tls_cert_file is not None

    @field_validator("cors_origins")
    @classmethod
    def _origins_valid(cls, value: str | None) -> str | None:
        for origin in (value or "").split(","):
            origin = origin.strip().rstrip("/")
            if origin and not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", origin):
                raise ValueError(
                    f"{origin!r} is not an origin: give scheme://host[:port] entries, "
                    "comma-separated (no wildcard, no path)"
                )
        return value

    @field_validator("tls_cert_file", "tls_key_file")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        if value is not None and not (value.is_file() and os.access(value, os.R_OK)):
            raise ValueError(f"{str(value)!r} is not a readable file")
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> Self:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("TLS needs both VATTI_TLS_CERT_FILE and VATTI_TLS_KEY_FILE")
        return self

    def configured_tokens(self) -> dict[str, ConfiguredToken]:
        """The tokens of ``API_TOKENS``, by digest."""
        from vatti.tokens import parse_token_entry

        if self.api_tokens is None:
            return {}
        specs = [s for s in self.api_tokens.get_secret_value().split(";") if s.strip()]
        return {t.digest: t for t in map(parse_token_entry, specs)}

    @field_validator("api_tokens")
    @classmethod
    def _tokens_valid(cls, value: SecretStr | None) -> SecretStr | None:
        from vatti.tokens import parse_token_entry

        if value is not None:
            for spec in value.get_secret_value().split(";"):
                if spec.strip():
                    parse_token_entry(spec)
        return value


class EngineSettings(_Settings):
    """Admission, executors, timeouts, cleanup and notifications."""

    group: ClassVar[str] = "engine"

    max_concurrent_jobs: int = Field(
        2,
        ge=1,
        description="Jobs started and not ended at once, over every engine sharing the database "
        "and whichever executor runs them (local, Celery...); others queue.",
    )
    executor: str = Field(
        DEFAULT_EXECUTOR,
        description="Where jobs run: "
        + "; ".join(f"{name} ({entry.description})" for name, entry in EXECUTORS.items())
        + ".",
    )
    job_memory_mb: int | None = Field(
        None,
        ge=16,
        description="Memory limit of a job (MiB); a request may lower it, not raise it.",
    )
    job_wall_time: OptionalSeconds = Field(
        None,
        description=(
            "Wall-time limit of a running job (seconds, or 2h...); a request may lower it, "
            "not raise it."
        ),
    )
    queue_timeout: OptionalSeconds = Field(
        None, description="Fail jobs queued longer than this (default: wait forever)."
    )
    provision_timeout: Seconds = Field(
        300.0, description="Fail jobs that take longer than this to start."
    )
    results_ttl: Seconds = Field(
        7 * 86400.0, description="How long results of a succeeded job are kept (7d...)."
    )
    poll_interval: Seconds = Field(1.0, description="How often running jobs are polled.")
    reconcile_interval: Seconds = Field(
        60.0, description="How often orphaned work areas and expired results are swept."
    )
    terminate_grace: Seconds = Field(
        10.0, description="Time a cancelled job gets between SIGTERM and SIGKILL."
    )
    engine_lease_ttl: Seconds = Field(
        30.0,
        description="How long a job stays with an engine that stopped renewing its lease (each "
        "engine renews every third of this); then another engine takes the job over.",
    )
    webhook_url: str | None = Field(
        None, description="Webhook that receives every job's state changes (http(s)://...)."
    )
    webhook_secret: SecretStr | None = Field(
        None,
        description="Key of the HMAC-SHA256 signature in the X-Vatti-Signature header. "
        "Required when WEBHOOK_URL is set.",
    )

    @field_validator("executor")
    @classmethod
    def _known_executor(cls, value: str) -> str:
        if value not in EXECUTORS:
            raise ValueError(f"unknown executor: choose from {', '.join(EXECUTORS)}")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value

    def problems(self) -> list[str]:
        if self.webhook_url and self.webhook_secret is None:
            return [f"{PREFIX}WEBHOOK_SECRET: required when {PREFIX}WEBHOOK_URL is set"]
        return []


class RuntimeSettings(_Settings):
    """The job runtime (``vatti job-run``), in the executor's job process."""

    group: ClassVar[str] = "runtime"

    scratch_dir: Path | None = Field(
        None,
        description="Local directory for jobs' private scratch areas (deleted when each job "
        "ends); default: DATA_DIR/scratch.",
    )
    input_root: Path | None = Field(
        None,
        description="Local input files of requests must lie under this directory; unset: local "
        "paths are refused (only the object store and the catalog are read).",
    )
    pgs_catalog_dir: Path | None = Field(
        None,
        description="Cache of PGS Catalog scoring files; default: DATA_DIR/pgs-catalog.",
    )
    pgs_catalog_url: str = Field(
        "https://www.pgscatalog.org/rest/",
        description="PGS Catalog REST API used to download scoring files missing from the cache.",
    )
    pgs_offline: bool = Field(
        False, description="Never download from the PGS Catalog; use the cache only."
    )
    job_uid_range: str = Field(
        DEFAULT_JOB_UID_RANGE,
        description="When the service runs as root, each job's commands run under a uid of "
        "their own from this range FIRST-LAST (gid = uid), leased per running job on this "
        "machine; uids with a user, group or /etc/subuid entry are skipped. Not root: jobs run "
        "as the service's user.",
    )

    @field_validator("job_uid_range")
    @classmethod
    def _uid_range(cls, value: str) -> str:
        return str(UidRange.parse(value))

    def job_uids(self) -> UidRange:
        """The validated ``job_uid_range``."""
        return UidRange.parse(self.job_uid_range)


class CommandSettings(_Settings):
    """What the ``command`` pipeline runs: the API checks requests against it, each job's
    runtime builds its argv from it."""

    group: ClassVar[str] = "commands"

    commands_file: Path | None = Field(
        None,
        description="TOML file declaring the commands the command pipeline runs (name, argv "
        "template, typed parameters, inputs, outputs, limits); default: the shipped noop and "
        "hello (vatti/pipelines/commands.toml). Read at start-up: a bad file is refused.",
    )
    allow_raw_argv: bool = Field(
        False,
        description="Accept a raw argv in command requests (params.argv): any submitter then "
        "runs any program as the job's user. Off: only declared commands run.",
    )

    @field_validator("commands_file")
    @classmethod
    def _declares(cls, value: Path | None) -> Path | None:
        if value is not None:
            from vatti.pipelines.command_file import read_commands

            try:
                read_commands(value)
            except ConfigError as exc:
                raise ValueError(exc.message) from None
        return value


_QUEUE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_BROKER_SCHEMES = ("redis://", "rediss://", "amqp://", "amqps://", "pyamqp://")
_STATE_SCHEMES = ("redis://", "rediss://")


def parse_queue_map(text: str) -> dict[str, str]:
    """``"pgs=vatti-pgs, command=vatti-small"`` → ``{"pgs": "vatti-pgs", ...}``.

    >>> parse_queue_map("pgs=vatti-pgs, command=small"), parse_queue_map("")
    ({'pgs': 'vatti-pgs', 'command': 'small'}, {})
    """
    mapping: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        pipeline, sep, queue = (s.strip() for s in item.partition("="))
        if not sep or not _QUEUE_NAME.match(pipeline) or not _QUEUE_NAME.match(queue):
            raise ValueError(
                "expected PIPELINE=QUEUE entries separated by ',' (letters, digits, .-_)"
            )
        mapping[pipeline] = queue
    return mapping


class CelerySettings(_Settings):
    """The Celery executor (in the engine) and its workers (``vatti worker``)."""

    group: ClassVar[str] = "celery"

    celery_broker_url: SecretStr | None = Field(
        None,
        description="Broker between the engine and the workers: redis://[:PASSWORD@]HOST:6379/DB "
        "or amqp://USER:PASSWORD@HOST:5672/VHOST. Secret: it may hold a password. Required when "
        "the Celery executor or worker runs.",
    )
    celery_state_url: SecretStr | None = Field(
        None,
        description="Redis where workers claim each job attempt (so it runs at most once), "
        "report its status and stream its log (redis://...); default: the broker URL when it is "
        "a redis:// URL. Required when the broker is not Redis.",
    )
    celery_secrets_key: SecretStr | None = Field(
        None,
        description="Keys sealing a job's secret settings in its task message, comma-separated, "
        "newest first (the engine seals with the first, workers open with any); `vatti secrets "
        "key` makes one. Required when the Celery executor or worker runs.",
    )
    celery_default_queue: str = Field(
        "vatti", description="Queue of the jobs of every pipeline not in CELERY_QUEUES."
    )
    celery_queues: str = Field(
        "",
        description="Queue per pipeline, as PIPELINE=QUEUE entries separated by ',' (e.g. "
        "pgs=vatti-pgs): the engine sends each job to its pipeline's queue; a worker consumes "
        "every queue named here and the default one unless given --queues.",
    )
    celery_events: bool = Field(
        False,
        description="Workers and the engine send task events (for Flower; or vatti worker -E).",
    )
    celery_visibility_timeout: Seconds = Field(
        3600.0,
        description="Redis broker: a task a worker took and did not acknowledge (the worker was "
        "lost) is delivered again after this; the claim discards a second run.",
    )
    celery_record_ttl: Seconds = Field(
        7 * 86400.0,
        description="How long claims, status records and logs stay in the state store after "
        "their last change (a delivery later than this could run a job again).",
    )

    @field_validator("celery_broker_url")
    @classmethod
    def _broker_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(_BROKER_SCHEMES):
            raise ValueError("expected a redis://, rediss://, amqp:// or amqps:// URL")
        return value

    @field_validator("celery_state_url")
    @classmethod
    def _state_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(_STATE_SCHEMES):
            raise ValueError("expected a redis:// or rediss:// URL")
        return value

    @field_validator("celery_secrets_key")
    @classmethod
    def _keys_valid(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from vatti.secretbox import check_key

            keys = [k for k in value.get_secret_value().split(",") if k.strip()]
            if not keys:
                raise ValueError("expected one key or more, comma-separated")
            for key in keys:
                check_key(key)
        return value

    def secrets_keys(self) -> list[str]:
        """The keys sealing task secrets, newest first (none when unset)."""
        value = self.celery_secrets_key
        if value is None:
            return []
        return [k.strip() for k in value.get_secret_value().split(",") if k.strip()]

    @field_validator("celery_default_queue")
    @classmethod
    def _queue_name(cls, value: str) -> str:
        if not _QUEUE_NAME.match(value):
            raise ValueError("expected a queue name (letters, digits, '.', '-', '_')")
        return value

    @field_validator("celery_queues")
    @classmethod
    def _queue_map(cls, value: str) -> str:
        parse_queue_map(value)
        return value

    def queue_map(self) -> dict[str, str]:
        return parse_queue_map(self.celery_queues)

    def all_queues(self) -> list[str]:
        """The default queue and every pipeline's, each once."""
        return list(dict.fromkeys([self.celery_default_queue, *self.queue_map().values()]))

    def state_url(self) -> str | None:
        """Where the claims and status records live: the state URL, else a Redis broker."""
        if self.celery_state_url is not None:
            return self.celery_state_url.get_secret_value()
        broker = self.celery_broker_url
        if broker is not None and broker.get_secret_value().startswith(_STATE_SCHEMES):
            return broker.get_secret_value()
        return None

    def problems(self) -> list[str]:
        """What a running Celery executor or worker misses."""
        missing = []
        if self.celery_broker_url is None:
            missing.append(
                f"{PREFIX}CELERY_BROKER_URL: required by the Celery executor and workers"
            )
        elif self.state_url() is None:
            missing.append(
                f"{PREFIX}CELERY_STATE_URL: required when {PREFIX}CELERY_BROKER_URL is not Redis"
            )
        if self.celery_secrets_key is None:
            missing.append(
                f"{PREFIX}CELERY_SECRETS_KEY: required by the Celery executor and workers"
            )
        return missing


class CeleryWorkerSettings(_Settings):
    """What only a Celery worker (``vatti worker``) reads: how many jobs it runs, and how."""

    group: ClassVar[str] = "celery-worker"

    celery_concurrency: int = Field(
        1,
        ge=1,
        description="Jobs one worker runs at once (its pool processes; vatti worker -c). The "
        "jobs the engine hands over beyond the workers' slots wait in their queue on the broker; "
        "MAX_CONCURRENT_JOBS caps how many the engines hand over in all.",
    )
    celery_pool: Literal["prefork", "solo"] = Field(
        "prefork",
        description="The worker's pool: prefork (CELERY_CONCURRENCY processes) or solo (one "
        "job at a time in the worker's own process); either runs each job in a child process "
        "that exits with it.",
    )


_SLURM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class SlurmSettings(_Settings):
    """The SLURM executor, in the engine (``VATTI_EXECUTOR=slurm``)."""

    group: ClassVar[str] = "slurm"

    slurm_max_jobs: int | None = Field(
        None,
        ge=1,
        description="Jobs vatti keeps in SLURM at once (queued there or running); the others "
        "wait in vatti's queue. Default: MAX_CONCURRENT_JOBS alone.",
    )
    slurm_partition: str | None = Field(
        None,
        description="Partition jobs are submitted to (sbatch --partition); default: the "
        "cluster's default partition.",
    )
    slurm_account: str | None = Field(
        None, description="Account jobs are charged to (sbatch --account); default: the user's."
    )
    slurm_cpus_per_job: int = Field(
        1, ge=1, description="CPUs each job asks for (sbatch --cpus-per-task)."
    )
    slurm_spool_dir: Path | None = Field(
        None,
        description="Directory on a filesystem the engine and every SLURM node share: each job's "
        "batch script, request, log and exit record, and the key sealing its secrets "
        "(secret.key, made on first use); default: DATA_DIR/slurm.",
    )
    slurm_python: str | None = Field(
        None,
        description="Python with vatti installed, at the same path on every node (what the "
        "batch script runs); default: the engine's own interpreter.",
    )

    @field_validator("slurm_partition", "slurm_account")
    @classmethod
    def _slurm_name(cls, value: str | None) -> str | None:
        if value is not None and not _SLURM_NAME.match(value):
            raise ValueError("expected a SLURM name (letters, digits, '.', '-', '_')")
        return value

    def problems(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """What a running SLURM executor misses."""
        import shutil

        source = os.environ if environ is None else environ
        missing = []
        if not source.get("SLURM_CONF"):
            missing.append(
                "SLURM_CONF: required by the SLURM executor (the path of slurm.conf; without it "
                "every SLURM command looks for the controller in DNS)"
            )
        for command in ("sbatch", "squeue", "scontrol", "scancel", "sacct"):
            if shutil.which(command, path=source.get("PATH")) is None:
                missing.append(f"{command}: required by the SLURM executor, not on PATH")
        return missing


class KafkaSettings(_Settings):
    """The Kafka intake of hattivatti's job messages and its status topic, in the engine."""

    group: ClassVar[str] = "kafka"

    kafka_bootstrap_servers: str | None = Field(
        None,
        description="Kafka brokers (host:port, comma-separated): when set, the engine reads "
        "hattivatti's job messages from CONSUMER_TOPIC and sends their statuses to "
        "PRODUCER_TOPIC; unset: no Kafka.",
    )
    kafka_consumer_topic: str = Field(
        "pipeline-launch", min_length=1, description="Topic of hattivatti's job messages."
    )
    kafka_producer_topic: str = Field(
        "pipeline-status",
        min_length=1,
        description="Topic the status messages (run_name, utc_time, event) of the Kafka "
        "tenant's jobs go to.",
    )
    kafka_dead_letter_topic: str = Field(
        "pipeline-launch-dead-letter",
        min_length=1,
        description="Topic a message that cannot be parsed or validated is copied to, with the "
        "reason in its vatti-error headers.",
    )
    kafka_group_id: str = Field(
        "vatti", min_length=1, description="Consumer group of the engines reading the topic."
    )
    kafka_tenant: str = Field(
        "default",
        description="Tenant the Kafka intake submits for; that tenant's jobs get status "
        "messages on PRODUCER_TOPIC.",
    )
    kafka_send_created: bool = Field(
        False,
        description="Also send Created (a job was queued); hattivatti stopped sending it, so "
        "the default set is Deployed, Succeeded and Failed.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How the client talks to the brokers."
    )
    kafka_ssl_cafile: Path | None = Field(
        None, description="CA bundle (PEM) the brokers' certificates are checked against."
    )
    kafka_ssl_certfile: Path | None = Field(
        None, description="Client certificate (PEM) for mutual TLS."
    )
    kafka_ssl_keyfile: Path | None = Field(None, description="Key (PEM) of SSL_CERTFILE.")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism (with a SASL_* security protocol)."
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(
        None, description="SASL password. Required when KAFKA_SASL_USERNAME is set."
    )

    @field_validator("kafka_tenant")
    @classmethod
    def _tenant(cls, value: str) -> str:
        from vatti.domain.access import check_tenant

        return check_tenant(value)

    def problems(self) -> list[str]:
        problems = []
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if sasl and (self.kafka_sasl_username is None or self.kafka_sasl_password is None):
            problems.append(
                f"{PREFIX}KAFKA_SASL_USERNAME: required (with {PREFIX}KAFKA_SASL_PASSWORD) when "
                f"{PREFIX}KAFKA_SECURITY_PROTOCOL is {self.kafka_security_protocol}"
            )
        if (self.kafka_sasl_username is None) != (self.kafka_sasl_password is None):
            problems.append(
                f"{PREFIX}KAFKA_SASL_PASSWORD: required when {PREFIX}KAFKA_SASL_USERNAME is set, "
                "and only then"
            )
        return problems


# -- the Kubernetes executor (VATTI_K8S_*) ------------------------------------------------------

_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_K8S_LABEL = re.compile(r"^([a-z0-9.-]{1,253}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_K8S_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def parse_node_selector(text: str | None) -> dict[str, str]:
    """``key=value,key=value`` as a node selector.

    >>> parse_node_selector("disktype=ssd, kubernetes.io/arch=amd64")
    {'disktype': 'ssd', 'kubernetes.io/arch': 'amd64'}
    """
    selector: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not _K8S_LABEL.match(key) or not _K8S_VALUE.match(value):
            raise ValueError(f"expected key=value label pairs, got {item.strip()!r}")
        selector[key] = value
    return selector


def parse_tolerations(text: str | None) -> list[dict[str, Any]]:
    """A JSON list of tolerations, as a pod spec has them.

    >>> parse_tolerations('[{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]')
    [{'key': 'gpu', 'operator': 'Exists', 'effect': 'NoSchedule'}]
    """
    if not text or not text.strip():
        return []
    allowed = {"key", "operator", "value", "effect", "tolerationSeconds"}
    try:
        items = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"expected a JSON list of tolerations: {exc}") from None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError("expected a JSON list of toleration objects")
    for item in items:
        unknown = sorted(set(item) - allowed)
        if unknown:
            raise ValueError(f"unknown toleration fields {unknown}: use {sorted(allowed)}")
        if item.get("operator", "Equal") not in ("Equal", "Exists"):
            raise ValueError("a toleration's operator is Equal or Exists")
        if item.get("effect", "NoSchedule") not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise ValueError("a toleration's effect is NoSchedule, PreferNoSchedule or NoExecute")
    return items


def parse_names(text: str | None) -> list[str]:
    """Comma-separated object names (``imagePullSecrets``).

    >>> parse_names("regcred, mirror")
    ['regcred', 'mirror']
    """
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    bad = [n for n in names if not _K8S_NAME.match(n)]
    if bad:
        raise ValueError(f"not Kubernetes object names: {bad}")
    return names


class KubernetesSettings(_Settings):
    """The Kubernetes executor, in the engine (``VATTI_EXECUTOR=kubernetes``)."""

    group: ClassVar[str] = "kubernetes"

    k8s_namespace: str = Field(
        "default", description="Namespace of the jobs' Jobs, pods and Secrets."
    )
    k8s_image: str | None = Field(
        None,
        description="Container image of the job pods (vatti installed; its Python runs the job "
        "runtime). Required when EXECUTOR is kubernetes.",
    )
    k8s_python: str = Field(
        "python", description="The image's Python that runs the job runtime (the pod's command)."
    )
    k8s_service_account: str | None = Field(
        None,
        description="Service account of the job pods (its token is not mounted); default: the "
        "namespace's default.",
    )
    k8s_node_selector: str | None = Field(
        None, description="Node selector of the job pods: key=value,key=value."
    )
    k8s_tolerations: str | None = Field(
        None,
        description='Tolerations of the job pods, a JSON list (e.g. [{"key": "batch", '
        '"operator": "Exists", "effect": "NoSchedule"}]).',
    )
    k8s_image_pull_secrets: str | None = Field(
        None, description="Names of the Secrets the image is pulled with (comma-separated)."
    )
    k8s_kubeconfig: Path | None = Field(
        None,
        description="Kubeconfig file the engine talks to the cluster with; default: the "
        "in-cluster service account (the engine runs in a pod).",
    )
    k8s_context: str | None = Field(
        None, description="Context of KUBECONFIG to use; default: its current context."
    )
    k8s_ttl_after_finished: int = Field(
        86400,
        ge=0,
        description="ttlSecondsAfterFinished of each Job (s): the cluster deletes a finished Job "
        "this long after it ended, if vatti did not already (it deletes it at clean-up).",
    )
    k8s_cpus_per_job: float = Field(
        1.0, gt=0, description="CPUs each job's pod requests and is limited to."
    )
    k8s_max_jobs: int | None = Field(
        None,
        ge=1,
        description="Jobs vatti keeps in the cluster at once; the others wait in vatti's queue. "
        "Default: MAX_CONCURRENT_JOBS alone.",
    )

    @field_validator("k8s_namespace", "k8s_service_account")
    @classmethod
    def _k8s_name(cls, value: str | None) -> str | None:
        if value is not None and not _K8S_NAME.match(value):
            raise ValueError("expected a Kubernetes name (lower-case letters, digits, '-')")
        return value

    @field_validator("k8s_node_selector")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        parse_node_selector(value)
        return value

    @field_validator("k8s_tolerations")
    @classmethod
    def _tolerations(cls, value: str | None) -> str | None:
        parse_tolerations(value)
        return value

    @field_validator("k8s_image_pull_secrets")
    @classmethod
    def _pull_secrets(cls, value: str | None) -> str | None:
        parse_names(value)
        return value

    def problems(self) -> list[str]:
        """What a running Kubernetes executor misses."""
        if not self.k8s_image:
            return [f"{PREFIX}K8S_IMAGE: required when {PREFIX}EXECUTOR is kubernetes"]
        return []


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``).

    >>> [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "10.0.0.1")]
    [True, True, True, False]
    """
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SourceSettings(_Settings):
    """Where a job's inputs come from beside local paths: the transfer collection (HTTPS, OAuth2
    client credentials) and the crypt4gh secret keys (a key file or the key handler)."""

    group: ClassVar[str] = "sources"

    transfer_base_url: str | None = Field(
        None,
        description="Base URL of the transfer collection (hattivatti's Globus guest collection, "
        "https://...): inputs' collection paths (dir_path_on_guest_collection/filename) resolve "
        "against it, and https:// inputs must lie under it.",
    )
    transfer_token_url: str | None = Field(
        None,
        description="OAuth2 token endpoint: the runtime gets the collection's bearer token from "
        "it by client credentials (none: the collection is read without a token).",
    )
    transfer_client_id: str | None = Field(
        None, description="OAuth2 client id. Required when TRANSFER_TOKEN_URL is set."
    )
    transfer_client_secret: SecretStr | None = Field(
        None, description="OAuth2 client secret. Required when TRANSFER_TOKEN_URL is set."
    )
    transfer_scope: str | None = Field(
        None, description="OAuth2 scope(s) asked for the token, separated by spaces."
    )
    transfer_retries: int = Field(
        5,
        ge=1,
        le=100,
        description="Attempts at each request to the collection, the token endpoint and the key "
        "handler before the job fails (transient errors: connection, time-outs, 429, 5xx).",
    )
    transfer_retry_delay: Seconds = Field(
        1.0, description="Delay before the second attempt; it doubles up to 30 s."
    )
    transfer_timeout: Seconds = Field(
        60.0, description="Time-out of one connection or read from those services."
    )
    key_handler_url: str | None = Field(
        None,
        description="Key handler (https://...): GET URL/key/SECRET_ID/version/VERSION answers "
        '{"privateKey": ...}, the crypt4gh secret key of a job\'s encrypted inputs, wrapped.',
    )
    key_handler_user: str | None = Field(
        None,
        description="HTTP Basic user of the key handler. Required when KEY_HANDLER_URL is set.",
    )
    key_handler_password: SecretStr | None = Field(
        None,
        description="HTTP Basic password of the key handler. Required when KEY_HANDLER_URL is set.",
    )
    key_handler_key_password: SecretStr | None = Field(
        None,
        description="Password that unwraps the private keys the key handler returns (crypt4gh's "
        "passphrase-protected key format). Required when KEY_HANDLER_URL is set.",
    )
    c4gh_secret_key: Path | None = Field(
        None,
        description="A crypt4gh secret key file, used for encrypted inputs when no key handler "
        "is set.",
    )
    c4gh_passphrase: SecretStr | None = Field(
        None, description="Passphrase of C4GH_SECRET_KEY (when the key file is locked)."
    )
    allow_http_loopback: bool = Field(
        False,
        description="Accept http:// for the collection, token endpoint and key handler when the "
        "host is a loopback address (local stand-ins, tests); otherwise https:// only.",
    )

    @field_validator("transfer_base_url", "transfer_token_url", "key_handler_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("expected an https:// URL")
        return value

    def problems(self) -> list[str]:
        out = []
        for name in ("transfer_base_url", "transfer_token_url", "key_handler_url"):
            value = getattr(self, name)
            if value is None or value.startswith("https://"):
                continue
            if not (self.allow_http_loopback and is_loopback(urlsplit(value).hostname)):
                out.append(
                    f"{env_name(name)}: must be https:// (http:// only for a loopback host, "
                    f"with {PREFIX}ALLOW_HTTP_LOOPBACK=1)"
                )
        required = {
            "transfer_token_url": ("transfer_client_id", "transfer_client_secret"),
            "key_handler_url": (
                "key_handler_user",
                "key_handler_password",
                "key_handler_key_password",
            ),
        }
        for when, names in required.items():
            if getattr(self, when) is not None:
                out.extend(
                    f"{env_name(n)}: required when {env_name(when)} is set"
                    for n in names
                    if getattr(self, n) is None
                )
        return out


class OidcSettings(_Settings):
    """Dashboard sign-in with OpenID Connect (authorization code + PKCE), and how a user's
    claims give vatti scopes and a tenant. Unset OIDC_ISSUER: the sign-in is off."""

    group: ClassVar[str] = "oidc"

    oidc_issuer: str | None = Field(
        None,
        description="The OpenID provider's issuer URL (https://; http:// only for a loopback "
        "host), e.g. https://keycloak.example.org/realms/lab; its "
        ".well-known/openid-configuration is read at the first sign-in.",
    )
    oidc_client_id: str | None = Field(
        None,
        description="vatti's client id at the provider. Required when OIDC_ISSUER is set.",
    )
    oidc_client_secret: SecretStr | None = Field(
        None,
        description="vatti's client secret (a confidential client; sent as HTTP Basic); unset: "
        "a public client (PKCE alone). Secret.",
    )
    oidc_redirect_url: str | None = Field(
        None,
        description="The callback URL registered at the provider: "
        "https://VATTI-HOST/dashboard/oidc/callback. Required when OIDC_ISSUER is set.",
    )
    oidc_scopes: str = Field(
        "openid profile email",
        description="The OAuth scopes requested, space-separated (openid among them; add "
        "groups for Dex).",
    )
    oidc_scopes_claim: str = Field(
        "groups",
        description="The ID token claim whose values give vatti scopes (groups, roles; a dotted "
        "path reaches a nested one: realm_access.roles).",
    )
    oidc_scope_map: str | None = Field(
        None,
        description="Which values of SCOPES_CLAIM give which vatti scopes: VALUE=SCOPE[,SCOPE] "
        "entries separated by ';' (vatti-admins=admin;lab-a=read,submit:pgs); a user with no "
        "mapped value is refused. Required when OIDC_ISSUER is set.",
    )
    oidc_tenant_claim: str | None = Field(
        None,
        description="The claim that names a user's tenant (dotted paths as SCOPES_CLAIM); "
        "unset, or absent from a user's token: OIDC_DEFAULT_TENANT.",
    )
    oidc_default_tenant: str = Field(
        "default", description="The tenant of users whose token has no TENANT_CLAIM."
    )

    @field_validator("oidc_issuer", "oidc_redirect_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(parts.hostname)):
            raise ValueError("expected an https:// URL (http:// only for a loopback host)")
        if parts.query or parts.fragment:
            raise ValueError("expected a URL without query or fragment")
        return value

    @field_validator("oidc_scopes")
    @classmethod
    def _openid(cls, value: str) -> str:
        if "openid" not in value.split():
            raise ValueError("the requested scopes must include openid")
        return value

    @field_validator("oidc_scope_map")
    @classmethod
    def _map_valid(cls, value: str | None) -> str | None:
        if value is not None:
            from vatti.domain.claims import parse_scope_map

            parse_scope_map(value)
        return value

    @field_validator("oidc_default_tenant")
    @classmethod
    def _tenant_valid(cls, value: str) -> str:
        from vatti.domain.access import check_tenant

        return check_tenant(value)

    def problems(self) -> list[str]:
        if self.oidc_issuer is None:
            return []
        required = ("oidc_client_id", "oidc_redirect_url", "oidc_scope_map")
        return [
            f"{env_name(n)}: required when {env_name('oidc_issuer')} is set"
            for n in required
            if getattr(self, n) is None
        ]


@dataclass(frozen=True)
class Component:
    name: str
    purpose: str
    groups: tuple[type[_Settings], ...]


COMPONENTS: dict[str, Component] = {
    c.name: c
    for c in (
        Component(
            "api",
            "the HTTP API process (vatti serve runs api and engine together; "
            "vatti serve --no-engine the API alone)",
            (CommonSettings, StoreSettings, ApiSettings, CommandSettings, OidcSettings),
        ),
        Component(
            "engine",
            "the control loops (vatti engine): admission, executors, timeouts, cleanup, "
            "notifications and the Kafka intake (it passes the runtime settings to each job it "
            "launches)",
            (
                CommonSettings,
                StoreSettings,
                EngineSettings,
                CelerySettings,
                SlurmSettings,
                KubernetesSettings,
                RuntimeSettings,
                SourceSettings,
                CommandSettings,
                KafkaSettings,
            ),
        ),
        Component(
            "runtime",
            "one job's process (vatti job-run), started by an executor",
            (CommonSettings, StoreSettings, RuntimeSettings, SourceSettings, CommandSettings),
        ),
        Component(
            "admin",
            "the operator's commands on the job database (vatti token create|list|revoke, "
            "vatti secrets reseal)",
            (CommonSettings, StoreSettings),
        ),
        Component(
            "cli",
            "vatti run on embedded defaults (engine and runtime in one process tree)",
            (
                CommonSettings,
                StoreSettings,
                EngineSettings,
                CelerySettings,
                SlurmSettings,
                KubernetesSettings,
                RuntimeSettings,
                SourceSettings,
                CommandSettings,
            ),
        ),
        Component(
            "worker",
            "a Celery worker (vatti worker): runs each job the Celery executor sends in a child "
            "process that exits with it (the job's runtime settings come with its task)",
            (CommonSettings, CelerySettings, CeleryWorkerSettings),
        ),
    )
}


@dataclass(frozen=True)
class Variable:
    name: str
    group: str
    default: str
    required: str  # "yes", "no" or the condition ("when VATTI_...")
    secret: bool
    description: str


def variables(group: type[_Settings]) -> list[Variable]:
    out = []
    for name, info in group.model_fields.items():
        secret = "SecretStr" in str(info.annotation)
        default = "" if info.default is None else str(info.default)
        description = info.description or ""
        condition = re.search(r"Required (when [^.]*)\.", description)
        required = "yes" if info.is_required() else (condition.group(1) if condition else "no")
        out.append(
            Variable(
                env_name(name),
                group.group,
                default,
                required,
                secret,
                description,
            )
        )
    return out


def _problem_lines(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        field = str(error["loc"][0]) if error["loc"] else "?"
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{env_name(field)}: {message}")
    return lines


def _partial(group: type[_Settings], exc: ValidationError) -> _Settings | None:
    """``group`` with its invalid fields at their defaults (for the checks across fields)."""
    fields = group.model_fields
    failed = {str(e["loc"][0]) for e in exc.errors(include_url=False) if e["loc"]}
    if any(name not in fields or fields[name].is_required() for name in failed):
        return None
    try:
        return group.from_environment(
            {name: fields[name].get_default(call_default_factory=True) for name in failed}
        )
    except ValidationError:
        return None


def _cross_problems(checked: dict[type[_Settings], _Settings]) -> list[str]:
    problems: list[str] = []
    store = checked.get(StoreSettings)
    if isinstance(store, StoreSettings):
        problems.extend(store.problems())
    engine = checked.get(EngineSettings)
    if isinstance(engine, EngineSettings):
        problems.extend(engine.problems())
    celery = checked.get(CelerySettings)
    if isinstance(celery, CelerySettings) and (
        EngineSettings not in checked
        or (isinstance(engine, EngineSettings) and engine.executor == "celery")
    ):
        problems.extend(celery.problems())
    kubernetes = checked.get(KubernetesSettings)
    if isinstance(kubernetes, KubernetesSettings) and (
        isinstance(engine, EngineSettings) and engine.executor == "kubernetes"
    ):
        problems.extend(kubernetes.problems())
    slurm = checked.get(SlurmSettings)
    if isinstance(slurm, SlurmSettings) and (
        isinstance(engine, EngineSettings) and engine.executor == "slurm"
    ):
        problems.extend(slurm.problems())
    sources = checked.get(SourceSettings)
    if isinstance(sources, SourceSettings):
        problems.extend(sources.problems())
    kafka = checked.get(KafkaSettings)
    if isinstance(kafka, KafkaSettings):
        problems.extend(kafka.problems())
    oidc = checked.get(OidcSettings)
    if isinstance(oidc, OidcSettings):
        problems.extend(oidc.problems())
    return problems


def load(
    groups: Sequence[type[_Settings]], overlay: Mapping[str, str] | None = None
) -> dict[type[_Settings], _Settings]:
    """Validate ``groups`` from the environment; raise ConfigError listing every problem.

    ``overlay`` (``VATTI_*`` names to values, e.g. the runtime's secrets) wins over the
    environment; a name no group of ``groups`` has is a problem too. The checks across fields
    run also on groups with invalid fields (those at their defaults), so one run reports every
    problem.
    """
    given = {name.upper(): value for name, value in (overlay or {}).items()}
    known = {env_name(name) for group in groups for name in group.model_fields}
    loaded: dict[type[_Settings], _Settings] = {}
    partial: dict[type[_Settings], _Settings] = {}
    problems = [f"{name}: not a setting of this component" for name in sorted(set(given) - known)]
    for group in groups:
        values = {n: given[env_name(n)] for n in group.model_fields if env_name(n) in given}
        try:
            settings = group.from_environment(values)
        except ValidationError as exc:
            problems.extend(_problem_lines(exc))
            rest = _partial(group, exc)
            if rest is not None:
                partial[group] = rest
            continue
        loaded[group] = settings
    reported = {line.partition(":")[0] for line in problems}
    for line in _cross_problems({**loaded, **partial}):
        if line.partition(":")[0] not in reported:
            problems.append(line)
    if problems:
        raise ConfigError("invalid configuration:\n" + "\n".join(problems))
    return loaded


@dataclass(frozen=True)
class Settings:
    """The validated settings of one component (groups it does not need stay None)."""

    common: CommonSettings
    store: StoreSettings
    api: ApiSettings | None = None
    engine: EngineSettings | None = None
    runtime: RuntimeSettings | None = None
    celery: CelerySettings | None = None
    celery_worker: CeleryWorkerSettings | None = None
    slurm: SlurmSettings | None = None
    kubernetes: KubernetesSettings | None = None
    sources: SourceSettings | None = None
    commands: CommandSettings | None = None
    kafka: KafkaSettings | None = None
    oidc: OidcSettings | None = None

    @classmethod
    def for_component(cls, name: str, overlay: Mapping[str, str] | None = None) -> Settings:
        return cls.for_components(name, overlay=overlay)

    @classmethod
    def for_components(cls, *names: str, overlay: Mapping[str, str] | None = None) -> Settings:
        """Validate the groups the named components need (each group once); see :func:`load`."""
        groups: list[type[_Settings]] = []
        for name in names:
            if name not in COMPONENTS:
                known = ", ".join(COMPONENTS)
                raise ConfigError(f"unknown component {name!r}: choose from {known}")
            groups.extend(g for g in COMPONENTS[name].groups if g not in groups)
        loaded = load(groups, overlay)

        def get(kind: type[_Settings]) -> Any:
            return loaded.get(kind)

        return cls(
            common=get(CommonSettings),
            store=get(StoreSettings),
            api=get(ApiSettings),
            engine=get(EngineSettings),
            runtime=get(RuntimeSettings),
            celery=get(CelerySettings),
            celery_worker=get(CeleryWorkerSettings),
            slurm=get(SlurmSettings),
            kubernetes=get(KubernetesSettings),
            sources=get(SourceSettings),
            commands=get(CommandSettings),
            kafka=get(KafkaSettings),
            oidc=get(OidcSettings),
        )

    @property
    def data_dir(self) -> Path:
        return self.common.data_dir.resolve()

    def database_url(self) -> str | None:
        url = self.store.database_url
        return None if url is None else url.get_secret_value()

    def object_store_url(self) -> str:
        return self.store.object_store_url or (self.data_dir / "objects").as_uri()

    def results_store_url(self) -> str:
        return self.store.results_store_url or self.object_store_url()

    def scratch_dir(self) -> Path:
        configured = self.runtime.scratch_dir if self.runtime is not None else None
        return (configured or self.data_dir / "scratch").resolve()

    def pgs_catalog_dir(self) -> Path:
        configured = self.runtime.pgs_catalog_dir if self.runtime is not None else None
        return (configured or self.data_dir / "pgs-catalog").resolve()


@dataclass(frozen=True)
class RuntimeLaunch:
    """What a job's runtime is given at launch: ``VATTI_*`` variables, and the secret ones apart.

    ``secrets`` never go into a job's environment or command line: the executor hands them over
    on an inherited pipe (``VATTI_SECRETS_FD``).
    """

    env: dict[str, str]
    secrets: dict[str, str] = field(default_factory=dict, repr=False)


def env_value(value: object) -> str:
    """How a setting's value is written as an environment variable (read back by the model).

    >>> env_value(True), env_value(Path("/data")), env_value(2.5)
    ('1', '/data', '2.5')
    """
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def runtime_launch_settings(settings: Settings, *, input_root: Path | None) -> RuntimeLaunch:
    """The settings of the ``runtime`` component a job's process needs, resolved here.

    Paths are absolute and derived defaults computed (object store, scratch, catalog cache), so
    the job reads the values this process uses wherever it starts. ``input_root`` (``vatti run``
    passes the current directory) wins over ``VATTI_INPUT_ROOT``. ``SecretStr`` values go to
    ``secrets``; fields a job must not have (the database URL) go nowhere.
    """
    runtime = settings.runtime
    if runtime is None:
        raise ConfigError("the runtime settings were not loaded (load the engine component)")
    root = input_root or runtime.input_root
    groups: list[_Settings] = [
        settings.common.model_copy(update={"data_dir": settings.data_dir}),
        settings.store.model_copy(
            update={
                "object_store_url": settings.object_store_url(),
                "results_store_url": settings.results_store_url(),
            }
        ),
        runtime.model_copy(
            update={
                "scratch_dir": settings.scratch_dir(),
                "pgs_catalog_dir": settings.pgs_catalog_dir(),
                "input_root": root.resolve() if root is not None else None,
            }
        ),
    ]
    if settings.sources is not None:
        key_file = settings.sources.c4gh_secret_key
        groups.append(
            settings.sources.model_copy(
                update={"c4gh_secret_key": key_file.resolve() if key_file is not None else None}
            )
        )
    if settings.commands is not None:
        commands_file = settings.commands.commands_file
        groups.append(
            settings.commands.model_copy(
                update={"commands_file": commands_file.resolve() if commands_file else None}
            )
        )
    env: dict[str, str] = {}
    secrets: dict[str, str] = {}
    for group in groups:
        for name in type(group).model_fields:
            value = getattr(group, name)
            if value is None or name in group.not_for_jobs:
                continue
            if isinstance(value, SecretStr):
                secrets[env_name(name)] = value.get_secret_value()
            else:
                env[env_name(name)] = env_value(value)
    return RuntimeLaunch(env, secrets)
