"""Alembic environment for vatti: always runs on the connection handed in by vatti.store.migrate."""

from __future__ import annotations

from alembic import context

from vatti.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run vatti migrations through vatti.store.migrate, not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
