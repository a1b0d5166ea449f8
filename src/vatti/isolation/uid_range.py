"""The range of uids jobs may run under (``VATTI_JOB_UID_RANGE``): pure, no I/O."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

#: systemd's documented unused band (above every nspawn container range and useradd's
#: subordinate ids, far from regular and system users): 65536 uids.
DEFAULT_JOB_UID_RANGE = "2000000000-2000065535"
#: uid_t is unsigned 32-bit, (uid_t)-1 means "unchanged"; 2^31 and above trip up many tools
MAX_JOB_UID = 2**31 - 1
#: the lowest uid a job may get (below are the system's and its regular users')
MIN_JOB_UID = 65536
_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


@dataclass(frozen=True)
class UidRange:
    """An inclusive range of uids, from ``"FIRST-LAST"``.

    >>> r = UidRange.parse("200000-200009")
    >>> (r.first, r.last, len(r), 200005 in r, 65534 in r)
    (200000, 200009, 10, True, False)
    >>> UidRange.parse("5-1")
    Traceback (most recent call last):
    ...
    ValueError: expected FIRST-LAST with FIRST <= LAST, got '5-1'
    """

    first: int
    last: int

    @classmethod
    def parse(cls, text: str) -> UidRange:
        match = _RANGE.match(text)
        if match is None:
            raise ValueError(f"expected FIRST-LAST (two uids), got {text!r}")
        first, last = int(match[1]), int(match[2])
        if first > last:
            raise ValueError(f"expected FIRST-LAST with FIRST <= LAST, got {text!r}")
        if first < MIN_JOB_UID or last > MAX_JOB_UID:
            raise ValueError(
                f"job uids must lie in {MIN_JOB_UID}-{MAX_JOB_UID} (clear of the system's and "
                f"its users' ids), got {text!r}"
            )
        return cls(first, last)

    def __len__(self) -> int:
        return self.last - self.first + 1

    def __contains__(self, uid: object) -> bool:
        return isinstance(uid, int) and self.first <= uid <= self.last

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"

    def starting_at(self, key: str) -> Iterator[int]:
        """Every uid once, from one derived from ``key`` (jobs spread over the range, so a uid
        is seldom reused soon after its last job).

        >>> list(UidRange(10, 13).starting_at("x")) in ([10, 11, 12, 13], [11, 12, 13, 10],
        ...     [12, 13, 10, 11], [13, 10, 11, 12])
        True
        """
        start = zlib.crc32(key.encode()) % len(self)
        for i in range(len(self)):
            yield self.first + (start + i) % len(self)
