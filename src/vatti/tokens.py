"""Bearer tokens: how one is made and the hash under which a server is configured with it."""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a token is configured (``VATTI_API_TOKENS``).

    >>> hash_token("abc")
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
