from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from vatti.store.base import decode_cursor, encode_cursor
from vatti.store.errors import InvalidCursor

pytestmark = pytest.mark.unit


def test_round_trip_is_opaque_and_exact() -> None:
    at = datetime(2025, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    cursor = encode_cursor(at, "0196a2b3-0000-7000-8000-000000000001")
    assert "2025" not in cursor
    assert "=" not in cursor
    assert decode_cursor(cursor) == (at, "0196a2b3-0000-7000-8000-000000000001")


def test_other_offsets_survive() -> None:
    at = datetime(2025, 5, 6, 9, tzinfo=timezone(timedelta(hours=2)))
    assert decode_cursor(encode_cursor(at, "x"))[0] == at


@pytest.mark.parametrize(
    "bad",
    ["", "!!!", "bm90IGpzb24", "WzEsMl0", "WyIyMDI1LTAxLTAxVDAwOjAwOjAwIiwieCJd"],
)
def test_garbage_is_refused(bad: str) -> None:
    # the last two are [1,2] and a naive timestamp
    with pytest.raises(InvalidCursor):
        decode_cursor(bad)
