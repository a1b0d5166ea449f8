"""Schema migrations, run programmatically (no alembic.ini).

:func:`migrate` upgrades to head and is idempotent. Two processes starting at once are safe: on
PostgreSQL the upgrade runs under a transaction-level advisory lock, on SQLite under an exclusive
file lock next to the database file. A database already migrated by a newer release (a revision
this code's migrations do not have) is refused with :class:`SchemaTooNew` before anything runs,
so an older engine or API replica never works on tables it does not know (a rolling upgrade's
old pods stop instead).
"""

from __future__ import annotations

import fcntl
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from vatti.store.connect import create_db_engine, normalise_url, writing
from vatti.store.errors import MigrationError, SchemaTooNew

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_PG_LOCK_KEY = 0x7661747469  # "vatti"


def alembic_config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@functools.cache
def known_revisions() -> frozenset[str]:
    """Every revision this code's migrations define."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return frozenset(script.revision for script in scripts.walk_revisions())


def refuse_newer(revision: str | None) -> None:
    """Raise :class:`SchemaTooNew` when ``revision`` (the database's) is not one of ours.

    >>> refuse_newer(None), refuse_newer(head_revision())
    (None, None)
    >>> refuse_newer("9999_from_the_future")
    Traceback (most recent call last):
    ...
    vatti.store.errors.SchemaTooNew: the job database's schema is at revision ...
    """
    if revision is not None and revision not in known_revisions():
        raise SchemaTooNew(revision, head_revision())


@contextmanager
def _sqlite_file_lock(database: str) -> Iterator[None]:
    lock_path = Path(database).with_name(Path(database).name + ".migrate.lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _sqlite_foreign_keys_off(conn: sa.Connection) -> Iterator[None]:
    """Foreign keys off while migrating SQLite: a batch migration copies a table and drops the
    old one, which the rows referring to it would refuse (SQLite honours the pragma only outside
    a transaction, so it is set on the driver's connection before alembic begins). The keys are
    checked once the migration committed."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    raw.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise MigrationError(f"the migration left rows without their parent: {broken[:5]}")
    finally:
        raw.execute("PRAGMA foreign_keys = ON")


def _run(database_url: str, revision: str, *, down: bool) -> None:
    url = normalise_url(database_url)
    engine = create_db_engine(database_url, poolclass=sa.NullPool)
    try:
        if url.get_backend_name() == "sqlite":
            assert url.database is not None  # create_db_engine refuses :memory:
            with (
                _sqlite_file_lock(url.database),
                engine.connect() as conn,
                _sqlite_foreign_keys_off(conn),
            ):
                _alembic(writing(conn), revision, down=down)
        else:
            with engine.connect() as conn:
                # Autobegins the transaction that alembic then uses; commit releases the lock.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
                _alembic(conn, revision, down=down)
    except sa.exc.SQLAlchemyError as exc:
        raise MigrationError(f"database migration failed: {exc}") from exc
    finally:
        engine.dispose()


def _alembic(conn: sa.Connection, revision: str, *, down: bool) -> None:
    refuse_newer(current_revision(conn))
    config = alembic_config(conn)
    if down:
        command.downgrade(config, revision)
    else:
        command.upgrade(config, revision)
    if conn.in_transaction():
        conn.commit()


def migrate(database_url: str, revision: str = "head") -> None:
    """Upgrade the database at ``database_url`` to ``revision`` (default: head)."""
    _run(database_url, revision, down=False)


def downgrade(database_url: str, revision: str = "base") -> None:
    """Downgrade (for tests and operators undoing a release)."""
    _run(database_url, revision, down=True)


def current_revision(conn: sa.Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def schema_revision(database_url: str) -> str | None:
    """The revision the database at ``database_url`` is at (None: not migrated yet)."""
    engine = create_db_engine(database_url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return current_revision(conn)
    except sa.exc.SQLAlchemyError as exc:
        raise MigrationError(f"could not read the database's schema revision: {exc}") from exc
    finally:
        engine.dispose()
