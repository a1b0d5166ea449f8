"""Tokens kept in the database: made, found by digest, listed and revoked (SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from vatti.domain.scopes import format_scopes, parse_scopes
from vatti.store.connect import create_db_engine
from vatti.store.schema import api_tokens
from vatti.store.tokens import SqlTokenStore, UnknownToken
from vatti.tokens import hash_token

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def tokens(request: pytest.FixtureRequest) -> Iterator[SqlTokenStore]:
    engine = create_db_engine(request.getfixturevalue(f"{request.param}_database_url"))
    try:
        yield SqlTokenStore(engine)
    finally:
        engine.dispose()


def test_a_made_token_is_found_by_its_digest_and_only_the_digest_is_kept(
    tokens: SqlTokenStore,
) -> None:
    record, token = tokens.create(
        tenant="pgs-portal", scopes=["submit", "read"], description="portal backend", now=T0
    )
    found = tokens.find(hash_token(token))
    assert found == record
    assert found is not None
    assert format_scopes(found.scopes) == "read,submit"
    assert found.valid_at(T0 + timedelta(days=3650))
    with tokens.engine.connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(sa.select(api_tokens)) for v in row)
    assert token not in stored
    assert hash_token(token) in stored
    assert tokens.find(hash_token("not-a-token")) is None


def test_expiry_and_revocation(tokens: SqlTokenStore) -> None:
    short, _ = tokens.create(
        tenant="t", scopes=["read"], description="d", now=T0, expires_at=T0 + timedelta(hours=1)
    )
    assert short.valid_at(T0 + timedelta(minutes=59))
    assert not short.valid_at(T0 + timedelta(hours=1))
    later = T0 + timedelta(seconds=1)
    kept, _ = tokens.create(tenant="t", scopes=["admin"], description="ops", now=later)
    revoked = tokens.revoke(kept.id, T0 + timedelta(minutes=5))
    assert revoked.revoked_at == T0 + timedelta(minutes=5)
    assert not revoked.valid_at(T0 + timedelta(minutes=6))
    assert tokens.revoke(kept.id, T0 + timedelta(days=1)).revoked_at == revoked.revoked_at
    assert [t.id for t in tokens.list()] == [short.id, kept.id]
    with pytest.raises(UnknownToken):
        tokens.revoke("no-such-id", T0)


def test_narrowed_scopes_are_kept_whole(tokens: SqlTokenStore) -> None:
    long = [f"submit:command:{'c' * 60}{n}" for n in range(5)]  # more than the old 128 chars
    record, token = tokens.create(tenant="t", scopes=long, description="d", now=T0)
    found = tokens.find(hash_token(token))
    assert found is not None
    assert found.scopes == record.scopes == parse_scopes(long)


@pytest.mark.parametrize("tenant", ["", "a b", "x" * 65, "../etc"])
def test_bad_tenant_names_are_refused(tokens: SqlTokenStore, tenant: str) -> None:
    with pytest.raises(ValueError, match="invalid tenant"):
        tokens.create(tenant=tenant, scopes=["read"], description="d", now=T0)
    assert tokens.list() == []


@pytest.mark.parametrize(
    "scopes", [["root"], [], [" "], ["read:pgs"], ["submit:Bad Name"], ["submit:a:b:c"]]
)
def test_unknown_or_no_scopes_are_refused(tokens: SqlTokenStore, scopes: list[str]) -> None:
    with pytest.raises(ValueError, match="scope"):
        tokens.create(tenant="t", scopes=scopes, description="d", now=T0)
    assert tokens.list() == []
