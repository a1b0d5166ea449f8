"""Exponential backoff with jitter, as a retry decision (pure but for the random source)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from vatti.engine.ports import GiveUp, Retry


@dataclass(frozen=True)
class ExponentialBackoff:
    """Wait ``base_s * factor**(attempt-1)`` (at most ``max_s``), +/- ``jitter`` of it.

    ``attempt`` is the number of the attempt that just failed (1 for the first). With
    ``max_attempts=None`` (the default) it never gives up: a message waits for its endpoint
    however long it is down.

    >>> b = ExponentialBackoff(base_s=1.0, factor=2.0, max_s=10.0, jitter=0.0)
    >>> [b.decide(n).delay_s for n in (1, 2, 3, 4, 5, 1000)]  # type: ignore[union-attr]
    [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    >>> ExponentialBackoff(max_attempts=2, jitter=0.0).decide(2)
    GiveUp(reason='gave up after 2 attempts')
    """

    base_s: float = 1.0
    factor: float = 2.0
    max_s: float = 300.0
    max_attempts: int | None = None
    jitter: float = 0.1
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.base_s <= 0 or self.max_s < self.base_s:
            raise ValueError("backoff needs 0 < base_s <= max_s")
        if self.factor < 1:
            raise ValueError("backoff factor must be >= 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("backoff jitter must be in [0, 1)")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1 (or None: never give up)")

    def delay(self, attempt: int) -> float:
        """The delay after failed attempt ``attempt``, before jitter."""
        steps = max(attempt - 1, 0)
        if self.factor > 1:
            # beyond this many steps the delay is capped anyway; avoids float overflow
            steps = min(steps, math.ceil(math.log(self.max_s / self.base_s, self.factor)) + 1)
        return min(self.max_s, self.base_s * self.factor**steps)

    def decide(self, attempt: int) -> Retry | GiveUp:
        if self.max_attempts is not None and attempt >= self.max_attempts:
            return GiveUp(f"gave up after {attempt} attempts")
        delay = self.delay(attempt)
        if self.jitter:
            delay *= self.rng.uniform(1 - self.jitter, 1 + self.jitter)
        return Retry(min(delay, self.max_s))
