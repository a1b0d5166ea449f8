"""The status topic through the outbox: a broker that is down delays its messages (in order),
never drops them, and never holds up the webhooks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from vatti.domain.jobs import OutboxMessage
from vatti.engine.admission import admit_once
from vatti.engine.notifier import deliver_once
from vatti.engine.ports import Retry
from vatti.intake.kafka import KafkaUnavailable
from vatti.notify.kafka import ChannelNotifier, KafkaStatusNotifier
from vatti.notify.topic import both, status_events, topic_notifications

pytestmark = pytest.mark.unit


@dataclass
class Broker:
    down: bool = True
    sent: list[tuple[str, dict[str, Any], str | None]] = field(default_factory=list)

    def send_blocking(self, topic: str, value: bytes, *, key: str | None = None) -> None:
        if self.down:
            raise KafkaUnavailable("no broker answers")
        self.sent.append((topic, json.loads(value), key))


@dataclass
class Webhooks:
    delivered: list[OutboxMessage] = field(default_factory=list)

    def deliver(self, message: OutboxMessage) -> None:
        self.delivered.append(message)


class Steady:
    def decide(self, attempt: int) -> Retry:
        return Retry(5.0)


def test_a_broker_outage_delays_the_statuses_in_order(harness: Any) -> None:
    ctx = harness.ctx
    topic = topic_notifications("pipeline-status", "default", status_events(True))
    ctx.notify = both(ctx.notify, topic)
    broker, webhooks = Broker(), Webhooks()
    ctx.notifier = ChannelNotifier({"webhook": webhooks, "kafka": KafkaStatusNotifier(broker)})
    ctx.retry = Steady()

    job = harness.submit(client_id="INTP00000001")
    admit_once(ctx)
    deliver_once(ctx)

    def rows(channel: str) -> list[OutboxMessage]:
        return [m for m in ctx.store.outbox_for(job.id) if m.channel == channel]

    assert broker.sent == []
    assert all(m.delivered_at is not None for m in rows("webhook"))  # not held up by the topic
    waiting = rows("kafka")
    assert [m.payload["event"] for m in waiting] == ["Created", "Deployed"]
    assert all(m.delivered_at is None and m.dead_at is None for m in waiting)

    broker.down = False
    harness.clock.advance(10)
    deliver_once(ctx)
    assert broker.sent == [("pipeline-status", m.payload, "INTP00000001") for m in waiting]
    assert all(m.delivered_at is not None for m in rows("kafka"))
