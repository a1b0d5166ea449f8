"""Indexes on when a job ended and when a notification was delivered.

``/metrics`` reads the jobs that ended (``jobs.finished_at``) and the notifications delivered
(``outbox.delivered_at``) in a window of time at every scrape; without these indexes each scrape
scanned both tables.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

Frozen on purpose: plain SQLAlchemy types only, no imports from vatti.store.schema.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_finished_at", "jobs", ["finished_at"])
    op.create_index("ix_outbox_delivered_at", "outbox", ["delivered_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_delivered_at", table_name="outbox")
    op.drop_index("ix_jobs_finished_at", table_name="jobs")
