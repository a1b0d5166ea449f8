"""Drop ``jobs.callback_token_hash``: nothing ever wrote it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

Frozen on purpose: plain SQLAlchemy types only, no imports from vatti.store.schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("callback_token_hash")


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("callback_token_hash", sa.String(128), nullable=True))
