"""Database URLs and SQLAlchemy engines for SQLite and PostgreSQL.

SQLite gets WAL, a busy timeout and foreign keys on every connection; write transactions start
with ``BEGIN IMMEDIATE`` (ask with :func:`writing`) so concurrent writers queue on the busy
timeout instead of failing when a read lock cannot be upgraded. ``postgresql://`` URLs are
rewritten to the psycopg 3 driver.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from vatti.errors import ConfigError

SQLITE_BUSY_TIMEOUT_MS = 30_000
_WRITE_OPTION = "vatti_write"


def normalise_url(database_url: str) -> URL:
    """Parse ``database_url``; ``postgresql://`` / ``postgres://`` become ``postgresql+psycopg://``."""
    try:
        url = make_url(database_url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(f"invalid database URL: {exc}") from exc
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        raise ConfigError(
            f"unsupported database {url.drivername!r}: use sqlite:///PATH or postgresql://..."
        )
    return url


def sqlite_url(directory: Path, name: str = "vatti.db") -> str:
    """The URL of the default SQLite database under ``directory`` (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(directory / name).resolve()}"


def private_file(path: Path) -> None:
    """Create ``path`` readable and writable by this user only, or take group and others' bits
    off it (SQLite gives its WAL and shared-memory files the database file's mode)."""
    if not path.parent.is_dir():
        return  # SQLite says so, in its words
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, mode & 0o700)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own is deferred).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _on_sqlite_begin(conn: sa.Connection) -> None:
    write = conn.get_execution_options().get(_WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def create_db_engine(database_url: str, **kwargs: Any) -> sa.Engine:
    """An engine for ``database_url`` with vatti's per-backend connection settings.

    Statement parameters are never rendered in errors (``hide_parameters``): they hold job
    specs, whose values may be sensitive, and errors reach logs.
    """
    url = normalise_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            raise ConfigError("vatti needs a file SQLite database (sqlite:///PATH), not :memory:")
        private_file(Path(url.database))
        engine = sa.create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            hide_parameters=True,
            **kwargs,
        )
        sa.event.listen(engine, "connect", _on_sqlite_connect)
        sa.event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, hide_parameters=True, **kwargs)


def writing(conn: sa.Connection) -> sa.Connection:
    """Mark ``conn`` (before ``begin()``) as a write transaction."""
    return conn.execution_options(**{_WRITE_OPTION: True})
