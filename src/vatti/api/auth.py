"""Bearer-token authentication with scopes (``submit``, ``read``, ``admin``; admin implies all).

Tokens are configured as SHA-256 hex digests (``VATTI_API_TOKENS``), or made with ``vatti token
create`` and kept in the database (digest only). A presented token is hashed and compared with
:func:`hmac.compare_digest` against every configured digest, then looked up by digest among the
stored ones (cached for seconds: :class:`StoredTokens`). Tokens are never logged, and no error
message repeats one.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from fastapi import Request

from vatti.api.config import ApiConfig
from vatti.api.errors import ApiError
from vatti.domain.times import utcnow
from vatti.errors import ConfigError
from vatti.store.tokens import TokenRecord
from vatti.tokens import hash_token

ADMIN = "admin"
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_MAX_TOKEN_LEN = 4096


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header; 401 if missing or malformed."""
    if not authorization:
        raise ApiError(401, "unauthorized", "a bearer token is required", headers=_CHALLENGE)
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token or len(token) > _MAX_TOKEN_LEN:
        raise ApiError(
            401,
            "unauthorized",
            "malformed Authorization header; use 'Bearer <token>'",
            headers=_CHALLENGE,
        )
    return token


def scopes_of(token: str, tokens: Mapping[str, frozenset[str]]) -> frozenset[str] | None:
    """The scopes of ``token``, or None when it is unknown (constant-time per digest)."""
    digest = hash_token(token).encode()
    found: frozenset[str] | None = None
    for known, scopes in tokens.items():
        if hmac.compare_digest(digest, known.strip().lower().encode()):
            found = scopes
    return found


def authorize(
    authorization: str | None,
    scope: str,
    config: ApiConfig,
    stored: Callable[[str], frozenset[str] | None] | None = None,
) -> None:
    """Raise 401/403 unless the header carries a known token with ``scope`` (or admin): one of
    the configured tokens, else (``stored``, by digest) one made with ``vatti token create``."""
    if config.auth_disabled:
        return
    token = bearer_token(authorization)
    scopes = scopes_of(token, config.tokens)
    if scopes is None and stored is not None:
        scopes = stored(hash_token(token))
    check_scope(scopes, scope)


def check_scope(scopes: frozenset[str] | None, scope: str) -> None:
    if scopes is None:
        raise ApiError(401, "unauthorized", "unknown bearer token", headers=_CHALLENGE)
    if scope not in scopes and ADMIN not in scopes:
        raise ApiError(403, "forbidden", f"the token lacks the {scope!r} scope")


class StoredTokens:
    """The tokens of the database, each remembered for ``ttl_s`` after it was read, so a request
    costs no query and a revocation holds within ``ttl_s`` on every replica, without restarts."""

    def __init__(
        self,
        find: Callable[[str], TokenRecord | None],
        *,
        ttl_s: float = 2.0,
        max_entries: int = 4096,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._find = find
        self._ttl_s = ttl_s
        self._max = max_entries
        self._clock = clock
        self._now = now
        self._seen: dict[str, tuple[float, TokenRecord | None]] = {}

    def cached(self, digest: str) -> tuple[bool, frozenset[str] | None]:
        """(known to the cache, the token's scopes if valid now)."""
        entry = self._seen.get(digest)
        if entry is None or self._clock() - entry[0] > self._ttl_s:
            return False, None
        return True, self._scopes(entry[1])

    def scopes(self, digest: str) -> frozenset[str] | None:
        """The scopes of a valid stored token (reads the database when not cached)."""
        hit, scopes = self.cached(digest)
        if hit:
            return scopes
        record = self._find(digest)
        if len(self._seen) >= self._max:  # unknown tokens guessed in bulk: start again
            self._seen.clear()
        self._seen[digest] = (self._clock(), record)
        return self._scopes(record)

    def _scopes(self, record: TokenRecord | None) -> frozenset[str] | None:
        return record.scopes if record is not None and record.valid_at(self._now()) else None


def require(scope: str) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency checking the request's token for ``scope``."""

    async def dependency(request: Request) -> None:
        state = request.app.state.vatti
        config: ApiConfig = state.config
        tokens: StoredTokens | None = state.tokens
        if config.auth_disabled:
            return
        token = bearer_token(request.headers.get("authorization"))
        scopes = scopes_of(token, config.tokens)
        if scopes is None and tokens is not None:
            digest = hash_token(token)
            hit, scopes = tokens.cached(digest)
            if not hit:  # a database read: off the event loop
                scopes = await asyncio.to_thread(tokens.scopes, digest)
        check_scope(scopes, scope)

    return dependency


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1).

    >>> [is_loopback(h) for h in ("127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost")]
    [True, True, True, True, True]
    >>> [is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "example.org", "")]
    [False, False, False, False, False]
    """
    name = host.strip().lower().removeprefix("[").removesuffix("]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_auth_mode(auth_disabled: bool, host: str) -> None:
    """Refuse to serve without authentication on anything but a loopback address."""
    if auth_disabled and not is_loopback(host):
        raise ConfigError(
            f"authentication can only be disabled when listening on a loopback address "
            f"(127.0.0.0/8, ::1, localhost), not {host!r}"
        )
