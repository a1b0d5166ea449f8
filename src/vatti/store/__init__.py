"""The job store: SQL tables, the :class:`~vatti.store.base.JobStore` interface, migrations.

Entry points: :func:`vatti.store.sql.open_store` and :func:`vatti.store.migrate.migrate`.
"""
