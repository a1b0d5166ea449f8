"""Time helpers: vatti records only timezone-aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is refused (its zone is unknown).

    >>> from datetime import timedelta, timezone
    >>> as_utc(datetime(2025, 1, 1, 14, tzinfo=timezone(timedelta(hours=2)))).isoformat()
    '2025-01-01T12:00:00+00:00'
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: vatti records aware UTC times only")
    return value.astimezone(UTC)
