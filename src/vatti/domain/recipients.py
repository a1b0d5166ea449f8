"""A crypt4gh public key a request gives: the job's results are encrypted for it (pure).

The key is what ``crypt4gh-keygen`` writes to its ``.pub`` file (``-----BEGIN CRYPT4GH PUBLIC
KEY-----``, the 32-byte X25519 key in base64, ``-----END ...``), or that base64 line alone. It
is not a secret; only the holder of the matching secret key reads the results.
"""

from __future__ import annotations

import base64
import binascii
import re

BEGIN = "-----BEGIN CRYPT4GH PUBLIC KEY-----"
END = "-----END CRYPT4GH PUBLIC KEY-----"
KEY_BYTES = 32


#: the key's base64 line: 32 bytes are 43 characters and one ``=`` (the last character before
#: it carries 2 bits of the key and 4 zero bits)
_KEY_LINE = r"[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]="
#: what a request may give (documented in the OpenAPI document, and what :func:`parse_public_key`
#: accepts): the base64 line alone, or between the PEM lines
PATTERN = rf"^\s*(?:{BEGIN}\s+{_KEY_LINE}\s+{END}|{_KEY_LINE})\s*$"


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
    if re.fullmatch(PATTERN, text):
        body = text.strip().removeprefix(BEGIN).removesuffix(END)
        return base64.b64decode(body.strip(), validate=True)
    body = text.strip()
    if body.startswith(BEGIN) and not body.endswith(END):
        raise ValueError(f"a crypt4gh public key in PEM form ends with {END}")
    body = body.removeprefix(BEGIN).removesuffix(END)
    try:
        key = base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        key = None
    if key is not None and len(key) != KEY_BYTES:
        raise ValueError(f"a crypt4gh public key is {KEY_BYTES} bytes, this one {len(key)}")
    raise ValueError(
        "not a crypt4gh public key (the .pub file of crypt4gh-keygen, or its base64 line of 32 "
        "bytes)"
    )
