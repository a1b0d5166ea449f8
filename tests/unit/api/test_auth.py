from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from vatti.api.auth import (
    StoredTokens,
    authorize,
    bearer_token,
    check_auth_mode,
    configured_caller,
    hash_token,
)
from vatti.api.config import ApiConfig
from vatti.api.errors import ApiError
from vatti.domain.access import Caller
from vatti.domain.scopes import parse_scopes
from vatti.errors import ConfigError
from vatti.store.tokens import TokenRecord
from vatti.tokens import parse_token_entry

pytestmark = pytest.mark.unit

SECRET = "s3cret-token"
READER = parse_token_entry(f"lab-a@{hashlib.sha256(SECRET.encode()).hexdigest()}:read")
BOSS = parse_token_entry(f"{hashlib.sha256(b'boss').hexdigest().upper()}:admin")
CONFIG = ApiConfig(tokens={READER.digest: READER, BOSS.digest.upper(): BOSS})


def test_hash_is_sha256_hex() -> None:
    assert hash_token("abc") == hashlib.sha256(b"abc").hexdigest()


def test_configured_tokens_are_callers_of_their_tenant() -> None:
    reader = configured_caller(SECRET, CONFIG.tokens)
    assert reader is not None
    assert (reader.tenant, reader.scopes) == ("lab-a", parse_scopes("read"))
    assert reader.actor == f"token:cfg-{READER.digest[:12]}"  # the digest's start, not the token
    assert SECRET not in reader.actor
    boss = configured_caller("boss", CONFIG.tokens)  # digest case ignored
    assert boss is not None
    assert boss.admin
    assert boss.tenant == "default"
    assert configured_caller("other", CONFIG.tokens) is None


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer  ", "Basic abc", "Bearer a b"])
def test_malformed_headers_are_401(header: str | None) -> None:
    with pytest.raises(ApiError) as info:
        bearer_token(header)
    assert info.value.status == 401
    assert info.value.headers == {"WWW-Authenticate": "Bearer"}


def test_bearer_scheme_is_case_insensitive() -> None:
    assert bearer_token(f"bearer {SECRET}") == SECRET


def test_authorize_by_scope() -> None:
    assert authorize(f"Bearer {SECRET}", "read", CONFIG).tenant == "lab-a"
    assert authorize("Bearer boss", "submit", CONFIG).admin  # admin implies every scope
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
    caller = authorize(None, "admin", ApiConfig(tokens={}, auth_disabled=True))
    assert caller.admin
    assert caller.actor == "unauthenticated"


def test_a_narrowed_submit_token_passes_the_submit_check_of_a_route() -> None:
    narrowed = parse_token_entry(f"{hashlib.sha256(b'n').hexdigest()}:submit:command:hello")
    config = ApiConfig(tokens={narrowed.digest: narrowed})
    assert authorize("Bearer n", "submit", config).may_submit("command", "hello")
    with pytest.raises(ApiError) as info:
        authorize("Bearer n", "read", config)
    assert info.value.status == 403


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
        "scopes": parse_scopes("submit"),
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
    caller = Caller.token("t1", "portal", parse_scopes("submit"))
    assert tokens.caller("d1") == caller
    assert tokens.cached("d1") == (True, caller)
    assert tokens.caller("d1") == caller
    assert reads == ["d1"]
    records["d1"] = stored_token(revoked_at=datetime(2026, 1, 2, tzinfo=UTC))
    clock.t = 2.5
    assert tokens.cached("d1") == (False, None)
    assert tokens.caller("d1") is None
    assert tokens.caller("unknown") is None
    assert reads == ["d1", "d1", "unknown"]


def test_an_expired_stored_token_is_refused_even_from_the_cache() -> None:
    now = [datetime(2026, 1, 1, 11, tzinfo=UTC)]
    record = stored_token(expires_at=datetime(2026, 1, 1, 12, tzinfo=UTC))
    tokens = StoredTokens(lambda _d: record, ttl_s=3600, now=lambda: now[0])
    caller = tokens.caller("d")
    assert caller is not None
    assert caller.tenant == "portal"
    now[0] = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert tokens.cached("d") == (True, None)


def test_guessing_many_tokens_does_not_grow_the_cache_without_bound() -> None:
    tokens = StoredTokens(lambda _d: None, max_entries=10)
    for n in range(100):
        tokens.caller(f"guess-{n}")
    assert len(tokens._seen) <= 10


def test_a_presented_token_is_compared_in_constant_time_with_every_digest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import hmac

    from vatti.api import auth as auth_module

    compared: list[tuple[bytes, bytes]] = []
    constant_time = hmac.compare_digest

    def compare(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return constant_time(a, b)

    monkeypatch.setattr(auth_module.hmac, "compare_digest", compare)
    tokens = {
        entry.digest: entry
        for entry in (
            parse_token_entry(f"{hashlib.sha256(name).hexdigest()}:read")
            for name in (b"one", b"two", SECRET.encode(), b"four")
        )
    }
    assert configured_caller(SECRET, tokens) is not None
    # no early exit at the match, and never the token itself: its digest, against each digest
    assert len(compared) == len(tokens)
    assert {b for _, b in compared} == {d.encode() for d in tokens}
    assert all(a == hash_token(SECRET).encode() for a, _ in compared)
