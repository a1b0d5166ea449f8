"""Bearer-token authentication: who a request's token is (:class:`~vatti.domain.access.Caller`).

Tokens are configured as SHA-256 hex digests (``VATTI_API_TOKENS``), or made with ``vatti token
create`` and kept in the database (digest only). A presented token is hashed and compared with
:func:`hmac.compare_digest` against every configured digest, then looked up by digest among the
stored ones (cached for seconds: :class:`StoredTokens`). Tokens are never logged, and no error
message repeats one. Scopes follow the one grammar of :mod:`vatti.domain.scopes`; the job
service checks tenants and narrowed scopes, this module only the verb a route needs.
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
from vatti.domain.access import DEFAULT_TENANT, Caller
from vatti.domain.scopes import ADMIN, READ, SUBMIT, Scope, can_read, can_submit_any
from vatti.domain.times import utcnow
from vatti.errors import ConfigError
from vatti.store.tokens import TokenRecord
from vatti.tokens import ConfiguredToken, hash_token

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_MAX_TOKEN_LEN = 4096
#: the caller of an API served without authentication (loopback only): everything, one tenant
UNAUTHENTICATED = Caller(DEFAULT_TENANT, frozenset({Scope(ADMIN)}), "unauthenticated")

#: what each verb a route needs asks of a caller's scopes
_VERB_CHECKS: dict[str, Callable[[frozenset[Scope]], bool]] = {
    READ: can_read,
    SUBMIT: can_submit_any,
    ADMIN: lambda scopes: any(s.verb == ADMIN for s in scopes),
}


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


def configured_caller(token: str, tokens: Mapping[str, ConfiguredToken]) -> Caller | None:
    """The caller of a ``VATTI_API_TOKENS`` token, or None when it is unknown (constant-time
    per digest)."""
    digest = hash_token(token).encode()
    found: ConfiguredToken | None = None
    for known, entry in tokens.items():
        if hmac.compare_digest(digest, known.strip().lower().encode()):
            found = entry
    return found.caller() if found is not None else None


def authorize(
    authorization: str | None,
    verb: str,
    config: ApiConfig,
    stored: Callable[[str], Caller | None] | None = None,
) -> Caller:
    """The caller of the header's token, when it is known and has ``verb`` (or admin); 401/403
    otherwise. One of the configured tokens, else (``stored``, by digest) a stored one."""
    if config.auth_disabled:
        return UNAUTHENTICATED
    token = bearer_token(authorization)
    caller = configured_caller(token, config.tokens)
    if caller is None and stored is not None:
        caller = stored(hash_token(token))
    return check_verb(caller, verb)


def check_verb(caller: Caller | None, verb: str) -> Caller:
    if caller is None:
        raise ApiError(401, "unauthorized", "unknown bearer token", headers=_CHALLENGE)
    if not _VERB_CHECKS[verb](caller.scopes):
        raise ApiError(403, "forbidden", f"the token lacks the {verb!r} scope")
    return caller


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

    def cached(self, digest: str) -> tuple[bool, Caller | None]:
        """(known to the cache, the token's caller if valid now)."""
        entry = self._seen.get(digest)
        if entry is None or self._clock() - entry[0] > self._ttl_s:
            return False, None
        return True, self._caller(entry[1])

    def caller(self, digest: str) -> Caller | None:
        """The caller of a valid stored token (reads the database when not cached)."""
        hit, caller = self.cached(digest)
        if hit:
            return caller
        record = self._find(digest)
        if len(self._seen) >= self._max:  # unknown tokens guessed in bulk: start again
            self._seen.clear()
        self._seen[digest] = (self._clock(), record)
        return self._caller(record)

    def _caller(self, record: TokenRecord | None) -> Caller | None:
        if record is None or not record.valid_at(self._now()):
            return None
        return Caller.token(record.id, record.tenant, record.scopes)


def require(verb: str) -> Callable[[Request], Awaitable[Caller]]:
    """A FastAPI dependency: the request's caller, checked for ``verb``."""

    async def dependency(request: Request) -> Caller:
        state = request.app.state.vatti
        config: ApiConfig = state.config
        tokens: StoredTokens | None = state.tokens
        if config.auth_disabled:
            return UNAUTHENTICATED
        token = bearer_token(request.headers.get("authorization"))
        caller = configured_caller(token, config.tokens)
        if caller is None and tokens is not None:
            digest = hash_token(token)
            hit, caller = tokens.cached(digest)
            if not hit:  # a database read: off the event loop
                caller = await asyncio.to_thread(tokens.caller, digest)
        return check_verb(caller, verb)

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
