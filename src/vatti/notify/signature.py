"""Webhook signatures: ``X-Vatti-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``.

The HMAC key is the shared secret; the signed message is ``f"{t}."`` followed by the exact body
bytes. Receivers check the HMAC and that ``t`` is recent (replay window).
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Vatti-Signature"
SCHEME = "v1"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}."`` + ``body`` under ``secret``.

    >>> sign("s", 1, b"{}") == sign("s", 1, b"{}") != sign("s", 2, b"{}")
    True
    """
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The value of the signature header for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},{SCHEME}={sign(secret, timestamp, body)}"


def parse_header(header: str) -> tuple[int, list[str]] | None:
    """The timestamp and the ``v1`` signatures of a header; None when malformed.

    >>> parse_header("t=12,v1=ab,v1=cd")
    (12, ['ab', 'cd'])
    >>> parse_header("v1=ab") is None, parse_header("t=x,v1=ab") is None
    (True, True)
    """
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            return None
        if name == "t":
            if not value.isdigit():
                return None
            timestamp = int(value)
        elif name == SCHEME:
            signatures.append(value)
    if timestamp is None or not signatures:
        return None
    return timestamp, signatures


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance_s: float = 300,
    now: float | None = None,
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance_s`` of ``now``.

    >>> h = signature_header("s3cret", 1000, b'{"a":1}')
    >>> verify_signature("s3cret", h, b'{"a":1}', now=1010)
    True
    >>> verify_signature("s3cret", h, b'{"a":2}', now=1010)
    False
    >>> verify_signature("x", h, b'{"a":1}', now=1010)
    False
    >>> verify_signature("s3cret", h, b'{"a":1}', now=2000)
    False
    """
    parsed = parse_header(header)
    if parsed is None:
        return False
    timestamp, signatures = parsed
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)
