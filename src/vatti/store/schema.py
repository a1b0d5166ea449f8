"""The tables of the job store (SQLAlchemy Core). Alembic migrations must match this metadata.

Times are stored as UTC (``timestamptz`` on PostgreSQL, ISO text on SQLite) and read back as
aware datetimes; JSON is stored as text. Secrets are never stored: only token hashes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from vatti.domain.times import as_utc


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """An aware datetime in, an aware UTC datetime out, on every backend."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JSONText(sa.types.TypeDecorator[Any]):
    """A JSON value stored as text (sorted keys, compact)."""

    impl = sa.Text()
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("client_id", sa.String(128), nullable=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("pipeline", sa.String(64), nullable=False),
    sa.Column("spec", JSONText(), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("event_seq", sa.Integer(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("queued_at", UTCDateTime(), nullable=True),
    sa.Column("started_at", UTCDateTime(), nullable=True),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("executor", sa.String(64), nullable=True),
    sa.Column("executor_handle", sa.Text(), nullable=True),
    sa.Column("failure_code", sa.String(64), nullable=True),
    sa.Column("failure_message", sa.Text(), nullable=True),
    sa.Column("failure_step", sa.String(128), nullable=True),
    sa.Column("failure_exit_code", sa.Integer(), nullable=True),
    sa.Column("webhook_url", sa.Text(), nullable=True),
    sa.Column("results_expire_at", UTCDateTime(), nullable=True),
    sa.Column("results_deleted_at", UTCDateTime(), nullable=True),
    # the engine replica that follows the job, and until when its lease holds (renewed by its
    # heartbeat; another replica takes the job over once it expired)
    sa.Column("owner", sa.String(128), nullable=True),
    sa.Column("owner_expires_at", UTCDateTime(), nullable=True),
    # the backend the job belongs to; a client id is unique per tenant
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.UniqueConstraint("tenant", "client_id"),
    sa.Index(None, "tenant", "created_at", "id"),
    sa.Index(None, "created_at", "id"),
    sa.Index(None, "state", "created_at"),
    sa.Index(None, "pipeline", "created_at"),
    sa.Index(None, "results_expire_at"),
    sa.Index(None, "owner", "state"),
    sa.Index(None, "finished_at"),  # /metrics: the jobs that ended in a window
)

job_events = sa.Table(
    "job_events",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("job_id", sa.String(36), sa.ForeignKey("jobs.id"), nullable=False),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("from_state", sa.String(16), nullable=True),
    sa.Column("to_state", sa.String(16), nullable=False),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("detail", JSONText(), nullable=False),
    # who caused it: token:<id>, kafka, oidc:<subject>, operator:<user>, engine
    sa.Column("actor", sa.String(200), nullable=True),
    sa.UniqueConstraint("job_id", "seq"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(36), sa.ForeignKey("jobs.id"), nullable=False),
    sa.Column("event_id", sa.String(36), sa.ForeignKey("job_events.id"), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("destination", sa.Text(), nullable=False),
    sa.Column("payload", JSONText(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("lease_until", UTCDateTime(), nullable=True),
    sa.Column("delivered_at", UTCDateTime(), nullable=True),
    sa.Column("dead_at", UTCDateTime(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Index(None, "job_id", "channel", "destination", "id"),
    sa.Index(None, "next_attempt_at"),
    sa.Index(None, "delivered_at"),  # /metrics: the deliveries of a window
)

#: bearer tokens an operator made with ``vatti token create``: only their SHA-256 digests
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("scopes", sa.Text(), nullable=False),
    sa.Column("description", sa.Text(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=True),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
)

dedup = sa.Table(
    "dedup",
    metadata,
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("job_id", sa.String(36), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("holder", sa.String(128), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)
