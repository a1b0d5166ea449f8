"""crypt4gh material for tests: key pairs, encrypted files, locked private keys (the library's)."""

from __future__ import annotations

import base64
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
    from crypt4gh import header, sodium

    sender = new_keypair()
    keys = [(0, sender.secret, public) for public in recipients]
    session_key = os.urandom(32)
    packets = list(header.encrypt(header.make_packet_data_enc(0, session_key), keys))
    if edit_list is not None:
        packets += list(header.encrypt(header.make_packet_data_edit_list(list(edit_list)), keys))
    out = bytearray(header.serialize(packets))
    cipher = bytearray(SEGMENT + 28)
    for start in range(0, len(data), SEGMENT):
        length = sodium.chacha20poly1305_encrypt(cipher, data[start : start + SEGMENT], session_key)
        out += cipher[:length]
    return bytes(out)
