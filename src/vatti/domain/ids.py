"""Sortable unique ids in the UUIDv7 layout (RFC 9562): 48 bits of Unix milliseconds, then random.

Ids created in a later millisecond sort after earlier ones, as text and as UUIDs.
"""

from __future__ import annotations

import os
import re
import uuid
from datetime import UTC, datetime

#: The text form of every id :func:`new_id` makes (a lowercase UUID).
ID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def new_id(at: datetime | None = None) -> str:
    """A new id whose time part is ``at`` (default: now)."""
    when = at if at is not None else datetime.now(UTC)
    millis = int(when.timestamp() * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits, 74 used
    rand_a = rand >> 68 & 0xFFF
    rand_b = rand & ((1 << 62) - 1)
    value = millis << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return str(uuid.UUID(int=value))


def id_time_ms(job_id: str) -> int:
    """The Unix milliseconds encoded in an id made by :func:`new_id`."""
    return uuid.UUID(job_id).int >> 80
