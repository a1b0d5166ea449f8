"""In-process wake-ups: each topic wakes the loops that do its work, in every subscribed engine."""

from __future__ import annotations

import pytest

from vatti.engine.wakeups import TOPICS, InProcessWakeups, UnknownTopic, channel

pytestmark = pytest.mark.unit


def test_each_topic_wakes_its_loops_in_every_subscriber() -> None:
    wakeups = InProcessWakeups()
    first: list[tuple[str, ...]] = []
    second: list[tuple[str, ...]] = []
    wakeups.subscribe(lambda *loops: first.append(loops))
    wakeups.subscribe(lambda *loops: second.append(loops))
    for topic in ("admission", "cancel", "outbox"):
        wakeups.notify(topic)
    assert first == second == [("admission",), ("cancel",), ("notifier",)]


def test_an_unknown_topic_is_a_programming_error() -> None:
    wakeups = InProcessWakeups()
    with pytest.raises(UnknownTopic):
        wakeups.notify("admision")
    with pytest.raises(UnknownTopic):
        channel("other")


def test_every_topic_has_a_channel_of_its_own() -> None:
    assert len({channel(t) for t in TOPICS}) == len(TOPICS) == 3
