"""The Kafka parts of a service, from its settings: the intake, the topic's outbox rows, and
the notifier of the ``kafka`` channel (:func:`kafka_wiring`; None when Kafka is not set)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vatti.intake.consumer import IntakeConfig, KafkaIntake
from vatti.intake.kafka import KafkaLink, KafkaOptions
from vatti.notify.kafka import ChannelNotifier, Deliverer, KafkaStatusNotifier
from vatti.notify.topic import KAFKA_CHANNEL, status_events, topic_notifications
from vatti.store.base import NotifyBuilder

if TYPE_CHECKING:
    from vatti.config import KafkaSettings
    from vatti.service.jobs import JobService


@dataclass(frozen=True)
class KafkaWiring:
    link: KafkaLink
    config: IntakeConfig
    notify: NotifyBuilder

    def notifier(self, webhook_channel: str, webhook: Deliverer) -> ChannelNotifier:
        """Webhooks to ``webhook``, topic messages to Kafka."""
        return ChannelNotifier(
            {webhook_channel: webhook, KAFKA_CHANNEL: KafkaStatusNotifier(self.link)}
        )

    def intake(self, jobs: JobService, logger: logging.Logger) -> KafkaIntake:
        return KafkaIntake(self.link, jobs, self.config, logger)


def kafka_wiring(settings: KafkaSettings | None) -> KafkaWiring | None:
    if settings is None or not settings.kafka_bootstrap_servers:
        return None
    config = IntakeConfig(
        consumer_topic=settings.kafka_consumer_topic,
        producer_topic=settings.kafka_producer_topic,
        dead_letter_topic=settings.kafka_dead_letter_topic,
        group_id=settings.kafka_group_id,
        tenant=settings.kafka_tenant,
    )
    events = status_events(settings.kafka_send_created)
    return KafkaWiring(
        link=KafkaLink(KafkaOptions.from_settings(settings)),
        config=config,
        notify=topic_notifications(config.producer_topic, config.tenant, events),
    )
