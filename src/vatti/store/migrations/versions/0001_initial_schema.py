"""Initial schema: jobs, job_events, outbox, dedup, leases.

Revision ID: 0001
Revises:
Create Date: 2025-11-25

Frozen on purpose: plain SQLAlchemy types only, no imports from vatti.store.schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _time(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("client_id", sa.String(128), nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("pipeline", sa.String(64), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        _time("queued_at"),
        _time("started_at"),
        _time("finished_at"),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("executor", sa.String(64), nullable=True),
        sa.Column("executor_handle", sa.Text(), nullable=True),
        sa.Column("failure_code", sa.String(64), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("failure_step", sa.String(128), nullable=True),
        sa.Column("failure_exit_code", sa.Integer(), nullable=True),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("callback_token_hash", sa.String(128), nullable=True),
        _time("results_expire_at"),
        _time("results_deleted_at"),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        sa.UniqueConstraint("client_id", name="uq_jobs_client_id"),
    )
    op.create_index("ix_jobs_created_at_id", "jobs", ["created_at", "id"])
    op.create_index("ix_jobs_state_created_at", "jobs", ["state", "created_at"])
    op.create_index("ix_jobs_pipeline_created_at", "jobs", ["pipeline", "created_at"])
    op.create_index("ix_jobs_results_expire_at", "jobs", ["results_expire_at"])

    op.create_table(
        "job_events",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        _time("at", nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_job_events"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="fk_job_events_job_id_jobs"),
        sa.UniqueConstraint("job_id", "seq", name="uq_job_events_job_id_seq"),
    )

    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("destination", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("created_at", nullable=False),
        _time("next_attempt_at", nullable=False),
        _time("lease_until"),
        _time("delivered_at"),
        _time("dead_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="fk_outbox_job_id_jobs"),
        sa.ForeignKeyConstraint(
            ["event_id"], ["job_events.id"], name="fk_outbox_event_id_job_events"
        ),
    )
    op.create_index(
        "ix_outbox_job_id_channel_destination_id",
        "outbox",
        ["job_id", "channel", "destination", "id"],
    )
    op.create_index("ix_outbox_next_attempt_at", "outbox", ["next_attempt_at"])

    op.create_table(
        "dedup",
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(36), nullable=False),
        _time("expires_at", nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name="pk_dedup"),
    )

    op.create_table(
        "leases",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        _time("expires_at", nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_table("dedup")
    op.drop_index("ix_outbox_next_attempt_at", table_name="outbox")
    op.drop_index("ix_outbox_job_id_channel_destination_id", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("job_events")
    for name in (
        "ix_jobs_results_expire_at",
        "ix_jobs_pipeline_created_at",
        "ix_jobs_state_created_at",
        "ix_jobs_created_at_id",
    ):
        op.drop_index(name, table_name="jobs")
    op.drop_table("jobs")
