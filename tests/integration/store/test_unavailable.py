"""A database that cannot be reached is a transient store error, without the statement's data."""

from __future__ import annotations

import socket

import pytest

from vatti.api.errors import translate
from vatti.store.errors import StoreUnavailable
from vatti.store.sql import open_store

pytestmark = pytest.mark.integration


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_unreachable_postgres_is_unavailable_and_transient() -> None:
    store = open_store(f"postgresql://postgres@127.0.0.1:{closed_port()}/vatti")
    with pytest.raises(StoreUnavailable) as info:
        store.get("01a23361-d4e5-7667-a0c5-e61372d70527")
    assert info.value.transient
    answer = translate(info.value)
    assert (answer.status, answer.headers["Retry-After"]) == (503, "1")


def test_a_locked_sqlite_database_is_unavailable(
    sqlite_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from vatti.store import connect

    monkeypatch.setattr(connect, "SQLITE_BUSY_TIMEOUT_MS", 50)
    path = sqlite_database_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing for longer than the timeout
    try:
        store = open_store(sqlite_database_url)
        with pytest.raises(StoreUnavailable, match="locked") as info:
            store.release_lease("admission", "someone")  # a write: it needs the lock
        assert "someone" not in str(info.value)  # statement parameters are never shown
    finally:
        holder.execute("ROLLBACK")
        holder.close()
