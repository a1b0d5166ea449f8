from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from vatti.api.auth import (
    StoredTokens,
    authorize,
    bearer_token,
    check_auth_mode,
    hash_token,
    scopes_of,
)
from vatti.api.config import ApiConfig
from vatti.api.errors import ApiError
from vatti.errors import ConfigError
from vatti.store.tokens import TokenRecord

pytestmark = pytest.mark.unit

SECRET = "s3cret-token"
CONFIG = ApiConfig(
    tokens={
        hashlib.sha256(SECRET.encode()).hexdigest(): frozenset({"read"}),
        hashlib.sha256(b"boss").hexdigest().upper(): frozenset({"admin"}),
    }
)


def test_hash_is_sha256_hex() -> None:
    assert hash_token("abc") == hashlib.sha256(b"abc").hexdigest()


def test_scopes_of_known_and_unknown_tokens() -> None:
    assert scopes_of(SECRET, CONFIG.tokens) == frozenset({"read"})
    assert scopes_of("boss", CONFIG.tokens) == frozenset({"admin"})  # digest case ignored
    assert scopes_of("other", CONFIG.tokens) is None


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer  ", "Basic abc", "Bearer a b"])
def test_malformed_headers_are_401(header: str | None) -> None:
    with pytest.raises(ApiError) as info:
        bearer_token(header)
    assert info.value.status == 401
    assert info.value.headers == {"WWW-Authenticate": "Bearer"}


def test_bearer_scheme_is_case_insensitive() -> None:
    assert bearer_token(f"bearer {SECRET}") == SECRET


def test_authorize_by_scope() -> None:
    authorize(f"Bearer {SECRET}", "read", CONFIG)
    authorize("Bearer boss", "submit", CONFIG)  # admin implies every scope
    with pytest.raises(ApiError) as forbidden:
        authorize(f"Bearer {SECRET}", "submit", CONFIG)
    assert forbidden.value.status == 403
    with pytest.raises(ApiError) as unknown:
        authorize("Bearer nope", "read", CONFIG)
    assert unknown.value.status == 401


def test_errors_never_repeat_the_token() -> None:
    for header in (f"Bearer {SECRET}x", f"Token {SECRET}"):
        with pytest.raises(ApiError) as info:
            authorize(header, "read", CONFIG)
        assert SECRET not in info.value.message


def test_auth_disabled_lets_everything_through() -> None:
    authorize(None, "admin", ApiConfig(tokens={}, auth_disabled=True))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"])
def test_auth_may_be_disabled_on_loopback(host: str) -> None:
    check_auth_mode(True, host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.4", "example.org", "localhost.evil"])
def test_auth_may_not_be_disabled_elsewhere(host: str) -> None:
    with pytest.raises(ConfigError):
        check_auth_mode(True, host)
    check_auth_mode(False, host)


def stored_token(**kw: object) -> TokenRecord:
    fields: dict[str, object] = {
        "id": "t1",
        "tenant": "portal",
        "scopes": frozenset({"submit"}),
        "description": "d",
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    fields.update(kw)
    return TokenRecord(**fields)  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_stored_tokens_are_read_once_per_ttl_and_revocation_holds_after_it() -> None:
    reads: list[str] = []
    records = {"d1": stored_token()}

    def find(digest: str) -> TokenRecord | None:
        reads.append(digest)
        return records.get(digest)

    clock = Clock()
    tokens = StoredTokens(find, ttl_s=2.0, clock=clock)
    assert tokens.cached("d1") == (False, None)
    assert tokens.scopes("d1") == {"submit"}
    assert tokens.cached("d1") == (True, frozenset({"submit"}))
    assert tokens.scopes("d1") == {"submit"}
    assert reads == ["d1"]
    records["d1"] = stored_token(revoked_at=datetime(2026, 1, 2, tzinfo=UTC))
    clock.t = 2.5
    assert tokens.cached("d1") == (False, None)
    assert tokens.scopes("d1") is None
    assert tokens.scopes("unknown") is None
    assert reads == ["d1", "d1", "unknown"]


def test_an_expired_stored_token_is_refused_even_from_the_cache() -> None:
    now = [datetime(2026, 1, 1, 11, tzinfo=UTC)]
    record = stored_token(expires_at=datetime(2026, 1, 1, 12, tzinfo=UTC))
    tokens = StoredTokens(lambda _d: record, ttl_s=3600, now=lambda: now[0])
    assert tokens.scopes("d") == {"submit"}
    now[0] = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert tokens.cached("d") == (True, None)


def test_guessing_many_tokens_does_not_grow_the_cache_without_bound() -> None:
    tokens = StoredTokens(lambda _d: None, max_entries=10)
    for n in range(100):
        tokens.scopes(f"guess-{n}")
    assert len(tokens._seen) <= 10
