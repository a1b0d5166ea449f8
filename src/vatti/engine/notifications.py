"""The notifications of a transition: one webhook message per destination (pure).

Destinations are the service-wide webhook URL and the job's own ``webhook_url`` (each once).
The payload carries hattivatti's message fields plus vatti's ``job_id``, ``state``, ``event_id``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vatti.domain.jobs import Job, JobEventRecord
from vatti.domain.states import hattivatti_event
from vatti.domain.times import as_utc
from vatti.store.base import Notification, NotifyBuilder

WEBHOOK_CHANNEL = "webhook"


def webhook_payload(job: Job, record: JobEventRecord) -> dict[str, Any]:
    failure = job.failure if job.terminal else None
    return {
        "run_name": job.client_id or job.id,
        "utc_time": as_utc(record.at).isoformat().replace("+00:00", "Z"),
        "event": hattivatti_event(record.to_state),
        "trace_name": failure.step if failure is not None else None,
        "trace_exit": failure.exit_code if failure is not None else None,
        "job_id": job.id,
        "state": record.to_state.value,
        "event_id": record.id,
    }


def destinations(global_url: str | None, job: Job) -> list[str]:
    """The webhook URLs for ``job``, without duplicates, the global one first.

    >>> from datetime import UTC, datetime
    >>> from vatti.domain.states import JobState
    >>> t = datetime(2025, 1, 1, tzinfo=UTC)
    >>> j = Job("j1", None, "fp", "command", {}, JobState.QUEUED, t, t, webhook_url="http://a/")
    >>> destinations("http://a/", j), destinations(None, j), destinations("http://g/", j)
    (['http://a/'], ['http://a/'], ['http://g/', 'http://a/'])
    """
    out: list[str] = []
    for url in (global_url, job.webhook_url):
        if url and url not in out:
            out.append(url)
    return out


def webhook_notifications(global_url: str | None) -> NotifyBuilder:
    """A :data:`~vatti.store.base.NotifyBuilder` for the store's transactions."""

    def build(job: Job, record: JobEventRecord) -> Sequence[Notification]:
        urls = destinations(global_url, job)
        if not urls:
            return []
        payload = webhook_payload(job, record)
        return [Notification(WEBHOOK_CHANNEL, url, payload) for url in urls]

    return build
