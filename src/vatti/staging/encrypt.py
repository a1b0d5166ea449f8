"""Encrypting a stream as crypt4gh for recipients' public keys, segment by segment, with the GA4GH
``crypt4gh`` library (its header packets and ChaCha20-Poly1305 segments).

A fresh session key encrypts the data; the header carries it for each recipient, sealed with an
ephemeral sender key (as ``crypt4gh encrypt`` does without ``--sk``), so nothing but the
recipients' secret keys opens the result.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from vatti.staging.decrypt import SEGMENT_SIZE, Readable, quiet_library, read_full


def encrypt_stream(
    source: Readable, recipients: Sequence[bytes], edit_list: Sequence[int] | None = None
) -> Iterator[bytes]:
    """The crypt4gh file of ``source``'s bytes for ``recipients`` (32-byte public keys): the
    header, then one sealed segment per 64 KiB (with an edit list in the header, if given)."""
    from crypt4gh import header, sodium

    quiet_library()
    sender = os.urandom(32)
    keys = [(0, sender, bytes(public)) for public in recipients]
    session_key = os.urandom(32)
    packets = list(header.encrypt(header.make_packet_data_enc(0, session_key), keys))
    if edit_list is not None:
        packets += list(header.encrypt(header.make_packet_data_edit_list(list(edit_list)), keys))
    yield bytes(header.serialize(packets))
    plain = bytearray(SEGMENT_SIZE)
    view = memoryview(plain)
    cipher = bytearray(SEGMENT_SIZE + 28)
    while got := read_full(source, view):
        length = sodium.chacha20poly1305_encrypt(cipher, view[:got], session_key)
        yield bytes(cipher[:length])
        if got < SEGMENT_SIZE:
            return


def encrypt_file(source: Path, target: Path, recipients: Sequence[bytes]) -> None:
    """Write ``source`` encrypted for ``recipients`` to ``target`` (readable by its owner only)."""
    with source.open("rb") as plain, target.open("xb") as out:
        os.chmod(target, 0o600)
        for chunk in encrypt_stream(plain, recipients):
            out.write(chunk)
