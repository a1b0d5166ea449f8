"""The notifications of a transition: one webhook message per destination (pure).

Destinations are the service-wide webhook and the job's own ``webhook_url`` (each once). The
service-wide one is written to the outbox as :data:`SERVICE_WEBHOOK`, a name resolved to
``VATTI_WEBHOOK_URL`` when the message is delivered, so the configured URL (whose path or query
may hold a token) never reaches the database. The payload carries hattivatti's message fields
plus vatti's ``job_id``, ``state``, ``event_id`` and ``warnings``: what a job that succeeded
did not do (the outcome's warnings, e.g. the scores of a ``pgs`` job dropped below
``min_overlap``), empty for every other event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from vatti.domain.jobs import Job, JobEventRecord
from vatti.domain.states import hattivatti_event
from vatti.domain.times import as_utc
from vatti.store.base import Notification, NotifyBuilder

WEBHOOK_CHANNEL = "webhook"
#: The outbox destination that stands for the service-wide webhook URL (not a URL itself).
SERVICE_WEBHOOK = "service-webhook"
#: The destination that stands for the job's own ``webhook_url``: the URL itself stays in the
#: job's row, sealed (it may carry a token), never in the outbox
JOB_WEBHOOK = "job-webhook"


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
        "warnings": list(record.detail.get("warnings") or []),
    }


def destinations(global_url: str | None, job: Job) -> list[str]:
    """The outbox destinations for ``job``: the service webhook first, then the job's URL.

    A job URL equal to the service-wide one is not notified twice.

    >>> from datetime import UTC, datetime
    >>> from vatti.domain.states import JobState
    >>> t = datetime(2025, 1, 1, tzinfo=UTC)
    >>> j = Job("j1", None, "fp", "command", {}, JobState.QUEUED, t, t, webhook_url="http://a/")
    >>> destinations("http://a/", j), destinations(None, j), destinations("http://g/", j)
    (['service-webhook'], ['job-webhook'], ['service-webhook', 'job-webhook'])
    """
    out: list[str] = [SERVICE_WEBHOOK] if global_url else []
    if job.webhook_url and job.webhook_url != global_url:
        out.append(JOB_WEBHOOK)
    return out


def resolve_destination(
    destination: str, global_url: str | None, job_url: Callable[[], str | None]
) -> str | None:
    """The URL to deliver to: the configured one for :data:`SERVICE_WEBHOOK`, the job's (read
    when needed) for :data:`JOB_WEBHOOK`; a URL itself (an outbox row written before the job's
    URL was sealed) is that URL. None when the URL is gone.

    >>> resolve_destination("service-webhook", "http://g/", lambda: "http://a/")
    'http://g/'
    >>> resolve_destination("job-webhook", None, lambda: "http://a/")
    'http://a/'
    >>> resolve_destination("http://old/", None, lambda: None)
    'http://old/'
    """
    if destination == SERVICE_WEBHOOK:
        return global_url
    if destination == JOB_WEBHOOK:
        return job_url()
    return destination


def webhook_notifications(global_url: str | None) -> NotifyBuilder:
    """A :data:`~vatti.store.base.NotifyBuilder` for the store's transactions."""

    def build(job: Job, record: JobEventRecord) -> Sequence[Notification]:
        urls = destinations(global_url, job)
        if not urls:
            return []
        payload = webhook_payload(job, record)
        return [Notification(WEBHOOK_CHANNEL, url, payload) for url in urls]

    return build
