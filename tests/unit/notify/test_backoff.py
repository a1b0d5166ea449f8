from __future__ import annotations

import random

import pytest

from vatti.engine.ports import GiveUp, Retry
from vatti.notify.backoff import ExponentialBackoff

pytestmark = pytest.mark.unit


def delays(policy: ExponentialBackoff, attempts: range) -> list[float]:
    out = []
    for n in attempts:
        decision = policy.decide(n)
        assert isinstance(decision, Retry)
        out.append(decision.delay_s)
    return out


def test_delay_doubles_up_to_the_cap() -> None:
    policy = ExponentialBackoff(base_s=0.5, factor=3.0, max_s=10.0, jitter=0.0)
    assert delays(policy, range(1, 6)) == [0.5, 1.5, 4.5, 10.0, 10.0]


def test_never_gives_up_by_default_even_after_a_very_long_outage() -> None:
    policy = ExponentialBackoff(jitter=0.0)
    for attempt in (1, 10, 1_000, 10**9):
        decision = policy.decide(attempt)
        assert isinstance(decision, Retry)
        assert 0 < decision.delay_s <= policy.max_s


def test_gives_up_after_max_attempts() -> None:
    policy = ExponentialBackoff(max_attempts=3, jitter=0.0)
    assert isinstance(policy.decide(2), Retry)
    assert isinstance(policy.decide(3), GiveUp)


def test_jitter_stays_within_its_band_and_under_the_cap() -> None:
    policy = ExponentialBackoff(base_s=4.0, max_s=8.0, jitter=0.25, rng=random.Random(7))
    spread = [d for _ in range(200) for d in delays(policy, range(1, 2))]
    assert all(3.0 <= d <= 5.0 for d in spread)
    assert len(set(spread)) > 1  # jittered, so retries of many streams do not align
    capped = [d for _ in range(200) for d in delays(policy, range(5, 6))]
    assert all(6.0 <= d <= 8.0 for d in capped)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_s": 0.0},
        {"base_s": 5.0, "max_s": 1.0},
        {"factor": 0.5},
        {"jitter": 1.0},
        {"max_attempts": 0},
    ],
)
def test_rejects_nonsense_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ExponentialBackoff(**kwargs)  # type: ignore[arg-type]
