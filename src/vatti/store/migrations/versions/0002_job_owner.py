"""Per-job ownership: which engine follows a job, and until when its lease holds.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

Frozen on purpose: plain SQLAlchemy types only, no imports from vatti.store.schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("owner", sa.String(128), nullable=True))
        batch.add_column(sa.Column("owner_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_jobs_owner_state", "jobs", ["owner", "state"])


def downgrade() -> None:
    op.drop_index("ix_jobs_owner_state", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("owner_expires_at")
        batch.drop_column("owner")
