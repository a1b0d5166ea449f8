from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from vatti.domain.ids import id_time_ms, new_id

pytestmark = pytest.mark.unit


def test_layout_is_uuid7() -> None:
    value = uuid.UUID(new_id())
    assert value.version == 7
    assert value.variant == uuid.RFC_4122


def test_time_part_and_ordering() -> None:
    t0 = datetime(2025, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
    assert id_time_ms(new_id(t0)) == int(t0.timestamp()) * 1000 + 678
    ids = [new_id(t0 + timedelta(milliseconds=i)) for i in range(50)]
    assert sorted(ids) == ids


def test_unique() -> None:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    assert len({new_id(t0) for _ in range(10_000)}) == 10_000
