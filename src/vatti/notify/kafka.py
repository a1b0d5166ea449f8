"""Deliver the outbox's topic messages (:mod:`vatti.notify.topic`) to Kafka, and route each
outbox message to its channel's notifier."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from vatti.domain.jobs import OutboxMessage
from vatti.intake.messages import encode
from vatti.notify.errors import DeliveryError
from vatti.notify.topic import topic_of


class BlockingSender(Protocol):
    def send_blocking(self, topic: str, value: bytes, *, key: str | None = None) -> None: ...


class Deliverer(Protocol):
    def deliver(self, message: OutboxMessage) -> None: ...


class KafkaStatusNotifier:
    """Send each message to its topic, keyed by its ``run_name`` (one job's messages stay in
    one partition, in order)."""

    def __init__(self, sender: BlockingSender) -> None:
        self._sender = sender

    def deliver(self, message: OutboxMessage) -> None:
        run_name = message.payload.get("run_name")
        self._sender.send_blocking(
            topic_of(message.destination),
            encode(message.payload),
            key=run_name if isinstance(run_name, str) else None,
        )


class ChannelNotifier:
    """The notifier of each outbox channel (``webhook``, ``kafka``)."""

    def __init__(self, by_channel: Mapping[str, Deliverer]) -> None:
        self._by_channel = dict(by_channel)

    def deliver(self, message: OutboxMessage) -> None:
        notifier = self._by_channel.get(message.channel)
        if notifier is None:  # e.g. Kafka unset since: the message waits, it is not dropped
            raise DeliveryError(
                f"no notifier for channel {message.channel!r} is configured", transient=True
            )
        notifier.deliver(message)
