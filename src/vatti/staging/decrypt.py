"""Decrypting a crypt4gh stream in one pass, segment by segment, with the GA4GH ``crypt4gh`` lib.

The library parses and opens the header and decrypts each 64 KiB segment; the loop over the
segments is ours, because of two pitfalls of ``crypt4gh.lib.decrypt``: an ``offset`` of 64 KiB or
more is applied twice (once as skipped segments, then again inside the first segment), and its
readers assume that one ``readinto`` fills a whole segment, which a network stream does not do.
Here a segment is read in full (:func:`read_full`, over any reader), an edit list and an
``offset``/``span`` window become ranges of the plain text (:func:`plain_ranges`, pure), and
segments outside them are read past without being decrypted.

The library's own loggers print session and secret keys at DEBUG: :func:`quiet_library` turns
them off before a key is used.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from vatti.staging.errors import CorruptCrypt4gh, WrongKey

SEGMENT_SIZE = 65536
#: nonce (12) + MAC (16)
CIPHER_DIFF = 28
CIPHER_SEGMENT_SIZE = SEGMENT_SIZE + CIPHER_DIFF

Range = tuple[int, int | None]
Readable = io.BufferedIOBase | io.RawIOBase


def quiet_library() -> None:
    """Silence the ``crypt4gh`` loggers (their DEBUG lines print keys)."""
    logging.getLogger("crypt4gh").setLevel(logging.CRITICAL + 1)


def read_full(source: Readable, buffer: memoryview) -> int:
    """Fill ``buffer`` from ``source`` (several reads if need be); fewer bytes only at its end."""
    filled = 0
    while filled < len(buffer):
        got = source.readinto(buffer[filled:])
        if not got:
            break
        filled += got
    return filled


@dataclass(frozen=True)
class Header:
    session_keys: tuple[bytes, ...]
    edit_list: tuple[int, ...] | None


def buffered(source: Readable) -> io.BufferedIOBase:
    """``source`` itself when it buffers (a file, BytesIO), else a buffered reader over it."""
    if isinstance(source, io.BufferedIOBase):
        return source
    return io.BufferedReader(source, buffer_size=1 << 20)


def read_header(source: io.BufferedIOBase, secret_keys: Sequence[bytes]) -> Header:
    """Parse and open the header at the start of ``source``; ``source`` is left after it.

    ``source`` must return full reads but at its end (see :func:`buffered`)."""
    from crypt4gh import header

    quiet_library()
    try:
        packets = list(header.parse(source))
    except ValueError as exc:
        raise CorruptCrypt4gh(f"not a readable crypt4gh header ({exc})") from None
    keys = [(0, key, None) for key in secret_keys]
    opened, _ = header.decrypt(packets, keys)
    if not opened:
        raise WrongKey("no header packet opens with the secret key")
    try:
        data_packets, edit_packet = header.partition_packets(opened)
        session_keys = tuple(bytes(header.parse_enc_packet(p)) for p in data_packets)
        edits = header.parse_edit_list_packet(edit_packet) if edit_packet else None
    except ValueError as exc:
        raise CorruptCrypt4gh(f"invalid crypt4gh header ({exc})") from None
    if not session_keys:
        raise CorruptCrypt4gh("the crypt4gh header holds no data encryption key")
    return Header(session_keys, tuple(edits) if edits is not None else None)


def edit_ranges(edit_list: Sequence[int] | None) -> list[Range]:
    """The plain-text ranges an edit list keeps (lengths to skip, keep, skip, ...).

    An odd number of lengths ends with a skip: the rest of the file is kept.

    >>> edit_ranges(None)
    [(0, None)]
    >>> edit_ranges([10, 5]), edit_ranges([10, 5, 100])
    ([(10, 15)], [(10, 15), (115, None)])
    >>> edit_ranges([0, 5, 3, 2])
    [(0, 5), (8, 10)]
    """
    if edit_list is None:
        return [(0, None)]
    ranges: list[Range] = []
    position = 0
    for index, length in enumerate(edit_list):
        if index % 2 == 1:
            ranges.append((position, position + length))
        position += length
    if len(edit_list) % 2 == 1:
        ranges.append((position, None))
    return ranges


def plain_ranges(
    edit_list: Sequence[int] | None, offset: int = 0, span: int | None = None
) -> list[Range]:
    """The plain-text ranges to output: the edit list's, then ``span`` bytes from ``offset``
    of what it keeps (``span`` None: to the end).

    >>> plain_ranges(None, 70000, 10)
    [(70000, 70010)]
    >>> plain_ranges([10, 5, 100], 3, 5)
    [(13, 15), (115, 118)]
    >>> plain_ranges([10, 5], 7)
    []
    """
    if offset < 0 or (span is not None and span < 0):
        raise ValueError("offset and span must not be negative")
    out: list[Range] = []
    skip, left = offset, span
    for start, end in edit_ranges(edit_list):
        length = None if end is None else end - start
        if length is not None and skip >= length:
            skip -= length
            continue
        start += skip
        skip = 0
        if left is None:
            out.append((start, end))
            continue
        stop = start + left if end is None else min(end, start + left)
        if stop > start:
            out.append((start, stop))
        left -= stop - start
        if left == 0:
            break
    return out


def _decrypt_segment(out: bytearray, cipher: memoryview, session_keys: Sequence[bytes]) -> int:
    from crypt4gh import sodium

    for key in session_keys:
        try:
            return int(sodium.chacha20poly1305_decrypt(out, cipher, key))
        except ValueError:
            continue
    raise CorruptCrypt4gh("a segment fails authentication: the file is corrupted or truncated")


def decrypt_stream(
    source: Readable,
    secret_keys: Sequence[bytes],
    *,
    offset: int = 0,
    span: int | None = None,
) -> Iterator[memoryview]:
    """The plain text of the crypt4gh stream ``source``, in chunks of at most 64 KiB.

    ``offset`` and ``span`` select plain-text bytes (after the file's edit list). Each chunk
    is valid until the next is asked for. Raises :class:`WrongKey` or
    :class:`CorruptCrypt4gh` (a segment that fails authentication: corrupted, or truncated
    inside a segment; a file cut exactly at a segment boundary is not detectable from the
    format, only from its declared size).
    """
    reader = buffered(source)
    head = read_header(reader, secret_keys)
    wanted = plain_ranges(head.edit_list, offset, span)
    cipher = bytearray(CIPHER_SEGMENT_SIZE)
    cipher_view = memoryview(cipher)
    plain = bytearray(SEGMENT_SIZE)
    plain_view = memoryview(plain)
    first = 0  # index in ``wanted`` of the first range not yet output in full
    segment_start = 0
    while first < len(wanted):
        got = read_full(reader, cipher_view)
        if got == 0:
            return
        if got <= CIPHER_DIFF:
            raise CorruptCrypt4gh("the file ends inside a segment: it is truncated")
        segment_end = segment_start + got - CIPHER_DIFF
        pieces = []
        for start, end in wanted[first:]:
            if start >= segment_end:
                break
            lo, hi = (
                max(start, segment_start),
                segment_end if end is None else min(end, segment_end),
            )
            if hi > lo:
                pieces.append((lo - segment_start, hi - segment_start))
        if pieces:
            length = _decrypt_segment(plain, cipher_view[:got], head.session_keys)
            for lo, hi in pieces:
                yield plain_view[lo : min(hi, length)]
        while first < len(wanted) and (end := wanted[first][1]) is not None and end <= segment_end:
            first += 1
        segment_start = segment_end
        if got < CIPHER_SEGMENT_SIZE:
            return
