"""The status messages of the Kafka topic: hattivatti's ``pipeline-status`` (pure).

A topic is one more outbox destination (channel :data:`KAFKA_CHANNEL`, destination
``kafka://TOPIC``): its rows are written in the transaction of the state change, as the
webhooks' are, and delivered in order per job. The topic gets the jobs of the Kafka intake's
tenant, and only hattivatti's events: ``Deployed``, ``Succeeded`` and ``Failed`` (``Created``
too when asked), each once per change (``provisioning`` is no second ``Created``, and
``cancelling`` no second ``Deployed``). Its message is hattivatti's: ``run_name`` (the INTP
id), ``utc_time``, ``event``, and on ``Failed`` the failing step's ``trace_name`` and
``trace_exit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vatti.domain.jobs import Job, JobEventRecord
from vatti.domain.states import hattivatti_event
from vatti.engine.notifications import webhook_payload
from vatti.store.base import Notification, NotifyBuilder

KAFKA_CHANNEL = "kafka"
#: how an outbox row names a topic
TOPIC_SCHEME = "kafka://"
#: hattivatti's set (it stopped sending Created)
DEFAULT_EVENTS = frozenset({"Deployed", "Succeeded", "Failed"})


def topic_destination(topic: str) -> str:
    """The outbox destination of ``topic``.

    >>> topic_destination("pipeline-status")
    'kafka://pipeline-status'
    """
    return TOPIC_SCHEME + topic


def topic_of(destination: str) -> str:
    """The topic an outbox destination names.

    >>> topic_of("kafka://pipeline-status")
    'pipeline-status'
    """
    if not destination.startswith(TOPIC_SCHEME):
        raise ValueError(f"not a topic destination: {destination!r}")
    return destination.removeprefix(TOPIC_SCHEME)


def status_events(send_created: bool) -> frozenset[str]:
    """The hattivatti events the topic gets.

    >>> sorted(status_events(True))
    ['Created', 'Deployed', 'Failed', 'Succeeded']
    """
    return DEFAULT_EVENTS | {"Created"} if send_created else DEFAULT_EVENTS


def status_message(job: Job, record: JobEventRecord) -> dict[str, Any]:
    """hattivatti's status message of ``record`` (``trace_*`` on ``Failed`` only)."""
    full = webhook_payload(job, record)
    message = {key: full[key] for key in ("run_name", "utc_time", "event")}
    if message["event"] == "Failed":
        message["trace_name"] = full["trace_name"]
        message["trace_exit"] = full["trace_exit"]
    return message


def announces(record: JobEventRecord, events: frozenset[str]) -> str | None:
    """The hattivatti event ``record`` announces on the topic, or None."""
    event = hattivatti_event(record.to_state)
    if event not in events:
        return None
    if record.from_state is not None and hattivatti_event(record.from_state) == event:
        return None
    return event


def topic_notifications(topic: str, tenant: str, events: frozenset[str]) -> NotifyBuilder:
    """A :data:`~vatti.store.base.NotifyBuilder` of the status topic for ``tenant``'s jobs."""
    destination = topic_destination(topic)

    def build(job: Job, record: JobEventRecord) -> Sequence[Notification]:
        if job.tenant != tenant or announces(record, events) is None:
            return []
        return [Notification(KAFKA_CHANNEL, destination, status_message(job, record))]

    return build


def both(first: NotifyBuilder, second: NotifyBuilder) -> NotifyBuilder:
    """The notifications of ``first`` then ``second``."""

    def build(job: Job, record: JobEventRecord) -> Sequence[Notification]:
        return [*first(job, record), *second(job, record)]

    return build
