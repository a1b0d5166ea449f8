"""Tenants on jobs and actors on event rows.

Every job belongs to a tenant (the backend whose token submitted it): jobs stored before get
the default tenant, the one of ``VATTI_API_TOKENS`` tokens and of the operator's ``vatti run``.
A client id is unique per tenant (two backends may use the same one). Every event row names its
actor; rows stored before say ``unrecorded``. A token's scopes may be narrowed
(``submit:command:hello``), so they are text.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

Frozen on purpose: plain SQLAlchemy types only, no imports from vatti.store.schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

DEFAULT_TENANT = "default"
UNRECORDED = "unrecorded"


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(
            sa.Column("tenant", sa.String(64), nullable=False, server_default=DEFAULT_TENANT)
        )
        batch.drop_constraint("uq_jobs_client_id", type_="unique")
        batch.create_unique_constraint("uq_jobs_tenant_client_id", ["tenant", "client_id"])
    with op.batch_alter_table("jobs") as batch:  # the backfill is done: new rows name theirs
        batch.alter_column("tenant", server_default=None, existing_type=sa.String(64))
    op.create_index("ix_jobs_tenant_created_at_id", "jobs", ["tenant", "created_at", "id"])
    with op.batch_alter_table("job_events") as batch:
        batch.add_column(sa.Column("actor", sa.String(200), nullable=True))
    op.execute(sa.text("UPDATE job_events SET actor = :actor").bindparams(actor=UNRECORDED))
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("scopes", type_=sa.Text(), existing_type=sa.String(128))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("scopes", type_=sa.String(128), existing_type=sa.Text())
    with op.batch_alter_table("job_events") as batch:
        batch.drop_column("actor")
    op.drop_index("ix_jobs_tenant_created_at_id", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint("uq_jobs_tenant_client_id", type_="unique")
        batch.create_unique_constraint("uq_jobs_client_id", ["client_id"])
        batch.drop_column("tenant")
