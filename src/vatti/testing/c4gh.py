"""crypt4gh material for tests: key pairs, encrypted files, locked private keys (the library's)."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass

SEGMENT = 65536


@dataclass(frozen=True)
class KeyPair:
    secret: bytes
    public: bytes

    def locked(self, passphrase: str) -> str:
        """The secret key in crypt4gh's passphrase-protected PEM format (``crypt4gh-keygen``)."""
        from crypt4gh.keys import c4gh

        body = c4gh.encode_private_key(self.secret, passphrase.encode(), b"vatti-test")
        encoded = base64.b64encode(body).decode()
        return (
            f"-----BEGIN CRYPT4GH PRIVATE KEY-----\n{encoded}\n-----END CRYPT4GH PRIVATE KEY-----\n"
        )


def new_keypair() -> KeyPair:
    from crypt4gh import sodium

    secret = os.urandom(32)
    return KeyPair(secret, bytes(sodium.derive_pk(secret)))


def encrypt(
    data: bytes, recipients: Sequence[bytes], edit_list: Sequence[int] | None = None
) -> bytes:
    """``data`` as a crypt4gh file for the recipients' public keys (with an edit list, if given)."""
    from vatti.staging.encrypt import encrypt_stream

    return b"".join(encrypt_stream(io.BytesIO(data), recipients, edit_list))
