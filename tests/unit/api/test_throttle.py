"""The per-token rate limit on submissions (a token bucket per token, on a test clock)."""

from __future__ import annotations

import pytest

from vatti.api.throttle import SubmitThrottle

pytestmark = pytest.mark.unit


class Clock:
    """A monotonic clock the test moves: ``clock.t``."""

    t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_burst_then_the_rate_and_the_wait_it_says() -> None:
    clock = Clock()
    limit = SubmitThrottle(rate_per_min=30, burst=3, clock=clock)  # one every 2 s
    assert [limit.take("a") for _ in range(3)] == [None, None, None]
    assert limit.take("a") == pytest.approx(2.0)
    clock.t += 1.5
    assert limit.take("a") == pytest.approx(0.5)  # refused calls do not cost anything
    clock.t += 0.5
    assert limit.take("a") is None
    assert limit.take("a") == pytest.approx(2.0)


def test_each_token_has_its_own_bucket() -> None:
    limit = SubmitThrottle(rate_per_min=1, burst=1, clock=Clock())
    assert limit.take("token:a") is None
    assert limit.take("token:a") is not None
    assert limit.take("token:b") is None


def test_an_idle_token_refills_only_up_to_the_burst() -> None:
    clock = Clock()
    limit = SubmitThrottle(rate_per_min=60, burst=2, clock=clock)
    clock.t += 3600
    assert [limit.take("a") is None for _ in range(3)] == [True, True, False]


def test_rate_zero_is_no_limit() -> None:
    limit = SubmitThrottle(rate_per_min=0, burst=1, clock=Clock())
    assert not limit.enabled
    assert all(limit.take("a") is None for _ in range(1000))


def test_many_tokens_do_not_grow_it_without_bound() -> None:
    clock = Clock()
    limit = SubmitThrottle(rate_per_min=60, burst=1, clock=clock, max_keys=100)
    for n in range(1000):
        limit.take(f"token:{n}")
        clock.t += 0.01
    assert len(limit._buckets) <= 100
    limit.take("token:fresh")
    assert limit.take("token:fresh") is not None  # a live bucket is not forgotten at once


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="burst"):
        SubmitThrottle(rate_per_min=1, burst=0)
