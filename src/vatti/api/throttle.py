"""Per-token rate limit on submissions: a token bucket for each token (pure, clock injected).

Each token may submit ``burst`` jobs at once, then ``rate_per_min`` a minute on average; beyond
that the API answers 429 with ``Retry-After`` (whole seconds until the next submission is
allowed). Buckets live in the API process: with several replicas, each paces a token on its own.

>>> t = [0.0]
>>> limit = SubmitThrottle(rate_per_min=60, burst=2, clock=lambda: t[0])
>>> limit.take("token:a"), limit.take("token:a"), limit.take("token:a")
(None, None, 1.0)
>>> limit.take("token:b")  # every token has its own bucket
>>> t[0] = 1.0
>>> limit.take("token:a")
"""

from __future__ import annotations

import time
from collections.abc import Callable


class SubmitThrottle:
    def __init__(
        self,
        *,
        rate_per_min: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        if rate_per_min < 0 or burst < 1:
            raise ValueError("the rate must be 0 or more and the burst at least 1")
        self._rate_s = rate_per_min / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._max_keys = max_keys
        #: key -> (tokens left, when counted)
        self._buckets: dict[str, tuple[float, float]] = {}

    @property
    def enabled(self) -> bool:
        return self._rate_s > 0

    def take(self, key: str) -> float | None:
        """Count one submission of ``key``: None when allowed, else the seconds to wait."""
        if not self.enabled:
            return None
        now = self._clock()
        left, then = self._buckets.get(key, (self._burst, now))
        left = min(self._burst, left + (now - then) * self._rate_s)
        if left < 1.0:
            self._buckets[key] = (left, now)
            return (1.0 - left) / self._rate_s
        if key not in self._buckets and len(self._buckets) >= self._max_keys:
            self._forget_full(now)
        self._buckets[key] = (left - 1.0, now)
        return None

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that refilled (they hold nothing a fresh one would not)."""
        full = [
            k
            for k, (left, then) in self._buckets.items()
            if left + (now - then) * self._rate_s >= self._burst
        ]
        for key in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[key]
