"""Bearer-token authentication with scopes (``submit``, ``read``, ``admin``; admin implies all).

Tokens are configured as SHA-256 hex digests; a presented token is hashed and compared with
:func:`hmac.compare_digest` against every configured digest. Tokens are never logged, and no
error message repeats one.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Mapping

from fastapi import Request

from vatti.api.config import ApiConfig
from vatti.api.errors import ApiError
from vatti.errors import ConfigError
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


def authorize(authorization: str | None, scope: str, config: ApiConfig) -> None:
    """Raise 401/403 unless the header carries a known token with ``scope`` (or admin)."""
    if config.auth_disabled:
        return
    scopes = scopes_of(bearer_token(authorization), config.tokens)
    if scopes is None:
        raise ApiError(401, "unauthorized", "unknown bearer token", headers=_CHALLENGE)
    if scope not in scopes and ADMIN not in scopes:
        raise ApiError(403, "forbidden", f"the token lacks the {scope!r} scope")


def require(scope: str) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency checking the request's token for ``scope``."""

    async def dependency(request: Request) -> None:
        config: ApiConfig = request.app.state.vatti.config
        authorize(request.headers.get("authorization"), scope, config)

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
