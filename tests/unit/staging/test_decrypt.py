"""The decrypting stream: one pass over any reader, exact plain-text windows, clear failures."""

from __future__ import annotations

import io
import logging
import random

import pytest

from vatti.staging.decrypt import SEGMENT_SIZE, decrypt_stream, plain_ranges
from vatti.staging.errors import CorruptCrypt4gh, WrongKey
from vatti.testing.c4gh import KeyPair, encrypt, new_keypair

pytestmark = pytest.mark.unit

DATA = random.Random(7).randbytes(3 * SEGMENT_SIZE + 1234)


@pytest.fixture(scope="module")
def key() -> KeyPair:
    return new_keypair()


@pytest.fixture(scope="module")
def sealed(key: KeyPair) -> bytes:
    return encrypt(DATA, [key.public])


class Trickle(io.RawIOBase):
    """A network-like reader: each read returns a few bytes only."""

    def __init__(self, data: bytes, seed: int = 1) -> None:
        self._data = memoryview(data)
        self._rng = random.Random(seed)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), len(self._data), self._rng.randint(1, 5000))
        buffer[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


def plain(source: io.RawIOBase | io.BufferedIOBase, key: KeyPair, **window: int) -> bytes:
    return b"".join(bytes(chunk) for chunk in decrypt_stream(source, [key.secret], **window))


@pytest.mark.parametrize(
    "size", [0, 1, SEGMENT_SIZE - 1, SEGMENT_SIZE, SEGMENT_SIZE + 1, 2 * SEGMENT_SIZE]
)
def test_round_trip_at_segment_boundaries(key: KeyPair, size: int) -> None:
    assert plain(io.BytesIO(encrypt(DATA[:size], [key.public])), key) == DATA[:size]


def test_a_stream_of_short_reads_decrypts_the_same(key: KeyPair, sealed: bytes) -> None:
    assert plain(Trickle(sealed), key) == DATA


@pytest.mark.parametrize(
    "offset", [0, 1, SEGMENT_SIZE - 1, SEGMENT_SIZE, SEGMENT_SIZE + 1, 2 * SEGMENT_SIZE + 3]
)
@pytest.mark.parametrize("span", [None, 1, SEGMENT_SIZE, 100_000])
def test_an_offset_and_span_select_exactly_those_bytes(
    key: KeyPair, sealed: bytes, offset: int, span: int | None
) -> None:
    """crypt4gh.lib.decrypt applies an offset of 64 KiB or more twice; this does not."""
    end = None if span is None else offset + span
    assert (
        plain(Trickle(sealed), key, offset=offset, **({"span": span} if span else {}))
        == (DATA[offset:end])
    )


def test_an_edit_list_then_a_window_of_what_it_keeps(key: KeyPair) -> None:
    edits = [10, SEGMENT_SIZE, 70_000]  # skip 10, keep 64 KiB, skip 70,000, keep the rest
    kept = DATA[10 : 10 + SEGMENT_SIZE] + DATA[10 + SEGMENT_SIZE + 70_000 :]
    sealed = encrypt(DATA, [key.public], edit_list=edits)
    assert plain(io.BytesIO(sealed), key) == kept
    assert (
        plain(Trickle(sealed), key, offset=SEGMENT_SIZE - 5, span=20)
        == kept[SEGMENT_SIZE - 5 : SEGMENT_SIZE + 15]
    )


def test_window_arithmetic() -> None:
    assert plain_ranges([10, 5, 100], 0, 7) == [(10, 15), (115, 117)]
    assert plain_ranges(None, SEGMENT_SIZE) == [(SEGMENT_SIZE, None)]
    with pytest.raises(ValueError, match="negative"):
        plain_ranges(None, -1)


def test_a_file_for_another_key_is_refused(sealed: bytes) -> None:
    with pytest.raises(WrongKey):
        plain(io.BytesIO(sealed), new_keypair())


@pytest.mark.parametrize(
    ("damage", "what"),
    [
        (lambda b: b"not a crypt4gh file at all" + b[26:], "header"),
        (lambda b: b[:20], "header"),
        (lambda b: b[: len(b) - 100], "truncated"),
        (lambda b: b[:-1250], "truncated"),  # leaves fewer than 28 bytes of the last segment
        (lambda b: b[:500] + bytes([b[500] ^ 1]) + b[501:], "authentication"),
    ],
)
def test_corrupted_or_truncated_files_fail(key: KeyPair, sealed: bytes, damage, what: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CorruptCrypt4gh, match=what):
        plain(io.BytesIO(damage(sealed)), key)


def test_the_library_logs_no_key_even_at_debug(
    key: KeyPair, sealed: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        plain(io.BytesIO(sealed), key)
        with pytest.raises(WrongKey):
            plain(io.BytesIO(sealed), new_keypair())
    logged = caplog.text.lower()
    assert key.secret.hex() not in logged
    assert not [r for r in caplog.records if r.name.startswith("crypt4gh")]
