"""Deliver the outbox: at least once, in order per job and destination, never dropped silently.

The store hands out only the oldest undelivered message of each (job, channel, destination)
stream, so message 2 of a job waits while message 1 keeps failing. A retryable failure is
scheduled again by the retry policy (exponential backoff); a permanent one (e.g. HTTP 410) is
recorded as dead, logged loudly, and the stream moves on. The service webhook's messages name
it by :data:`~vatti.engine.notifications.SERVICE_WEBHOOK`; its URL is read from the engine's
configuration at each delivery.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any, Literal

from vatti.domain.jobs import OutboxMessage
from vatti.domain.urls import redact_url
from vatti.engine.context import EngineContext
from vatti.engine.errors import ServiceWebhookUnset
from vatti.engine.logs import log_event
from vatti.engine.notifications import JOB_WEBHOOK, SERVICE_WEBHOOK, resolve_destination
from vatti.engine.ports import GiveUp
from vatti.errors import VattiError

MAX_ROUNDS = 100

Settled = Literal["delivered", "dead", "retry"]


def redacted(url: str) -> str:
    """Only the origin of a destination URL (its path or query may hold a token).

    >>> redacted("https://u:pw@hooks.example.org/t/abc?token=x"), redacted("service-webhook")
    ('https://hooks.example.org', 'service-webhook')
    """
    return url if url in (SERVICE_WEBHOOK, JOB_WEBHOOK) else redact_url(url, keep_path=False)


def is_retryable(exc: Exception) -> bool:
    """Whether a delivery error may succeed later: a vatti error says so (``transient``); an
    unforeseen one is tried again, since it may well be."""
    return exc.transient if isinstance(exc, VattiError) else True


def deliver_once(ctx: EngineContext) -> int:
    """Deliver due messages until none is due; returns how many were delivered."""
    if ctx.notifier is None:
        return 0
    delivered = 0
    for _ in range(MAX_ROUNDS):
        batch = ctx.store.claim_outbox(
            ctx.now(), ctx.config.outbox_batch, ctx.config.outbox_lease_s
        )
        if not batch:
            break
        results = [deliver_message(ctx, message) for message in batch]
        delivered += results.count("delivered")
        if "retry" in results and len(set(results)) == 1:
            break  # only deferred messages: their streams wait for their next attempt
    return delivered


def deliver_message(ctx: EngineContext, message: OutboxMessage) -> Settled:
    """Try one message; say whether it was delivered, dropped, or is to be retried."""
    assert ctx.notifier is not None
    fields: dict[str, Any] = {
        "msg_id": message.id,
        "event_id": message.event_id,
        "destination": redacted(message.destination),
        "attempt": message.attempts + 1,
    }
    try:
        url = resolve_destination(
            message.destination,
            ctx.config.webhook_url,
            lambda: ctx.store.get(message.job_id).webhook_url,
        )
        if url is None:
            raise ServiceWebhookUnset()
        ctx.notifier.deliver(replace(message, destination=url))
    except (VattiError, OSError) as exc:
        return settle_failure(
            ctx, message, f"{type(exc).__name__}: {exc}", is_retryable(exc), fields
        )
    except Exception as exc:  # unforeseen (a library's own error): keep the message, try later
        # only the type: such a message may quote the URL, whose path or query may hold a token
        error = f"{type(exc).__name__} (unexpected error while delivering)"
        return settle_failure(ctx, message, error, True, fields)
    ctx.store.mark_delivered(message.id, ctx.now())
    log_event(ctx.logger, "notify.delivered", job_id=message.job_id, **fields)
    return "delivered"


def settle_failure(
    ctx: EngineContext,
    message: OutboxMessage,
    error: str,
    retryable: bool,
    fields: dict[str, Any],
) -> Settled:
    """Schedule ``message`` again by the retry policy, or record it as dead; log either."""
    decision = ctx.retry.decide(message.attempts + 1) if ctx.retry is not None else GiveUp()
    if retryable and not isinstance(decision, GiveUp):
        at = ctx.now() + timedelta(seconds=decision.delay_s)
        ctx.store.mark_failed(message.id, error, at)
        log_event(
            ctx.logger,
            "notify.retry_scheduled",
            job_id=message.job_id,
            level=logging.WARNING,
            error=error,
            delay_s=round(decision.delay_s, 3),
            **fields,
        )
        return "retry"
    ctx.store.mark_dead(message.id, error, ctx.now())
    log_event(
        ctx.logger,
        "notify.dropped",
        job_id=message.job_id,
        level=logging.ERROR,
        error=error,
        permanent=not retryable,
        **fields,
    )
    return "dead"
