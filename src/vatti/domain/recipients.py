"""A crypt4gh public key a request gives: the job's results are encrypted for it (pure).

The key is what ``crypt4gh-keygen`` writes to its ``.pub`` file (``-----BEGIN CRYPT4GH PUBLIC
KEY-----``, the 32-byte X25519 key in base64, ``-----END ...``), or that base64 line alone. It
is not a secret; only the holder of the matching secret key reads the results.
"""

from __future__ import annotations

import base64
import binascii

BEGIN = "-----BEGIN CRYPT4GH PUBLIC KEY-----"
END = "-----END CRYPT4GH PUBLIC KEY-----"
KEY_BYTES = 32


def parse_public_key(text: str) -> bytes:
    """The 32 bytes of a crypt4gh public key; ValueError saying what is wrong.

    >>> key = base64.b64encode(bytes(range(32))).decode()
    >>> parse_public_key(f"{BEGIN}\\n{key}\\n{END}\\n") == parse_public_key(key) == bytes(range(32))
    True
    >>> parse_public_key("AAAA")
    Traceback (most recent call last):
    ...
    ValueError: a crypt4gh public key is 32 bytes, this one 3
    """
    body = text.strip()
    if body.startswith(BEGIN):
        if not body.endswith(END):
            raise ValueError(f"a crypt4gh public key in PEM form ends with {END}")
        body = body[len(BEGIN) : -len(END)]
    try:
        key = base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            "not a crypt4gh public key (the .pub file of crypt4gh-keygen, or its base64 line)"
        ) from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"a crypt4gh public key is {KEY_BYTES} bytes, this one {len(key)}")
    return key
