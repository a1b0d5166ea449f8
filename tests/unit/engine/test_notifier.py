from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import pytest

from vatti.domain.jobs import OutboxMessage
from vatti.engine.admission import admit_once
from vatti.engine.notifications import JOB_WEBHOOK, SERVICE_WEBHOOK
from vatti.engine.notifier import deliver_once
from vatti.engine.ports import GiveUp, Retry
from vatti.errors import VattiError

pytestmark = pytest.mark.unit


class Undeliverable(VattiError):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.transient = retryable


@dataclass
class Receiver:
    """Records deliveries; refuses messages whose payload state is in ``refuse``."""

    delivered: list[OutboxMessage] = field(default_factory=list)
    refuse: dict[str, bool] = field(default_factory=dict)  # state -> retryable

    def deliver(self, message: OutboxMessage) -> None:
        state = message.payload["state"]
        if state in self.refuse:
            raise Undeliverable(f"receiver refused {state}", retryable=self.refuse[state])
        self.delivered.append(message)


@dataclass
class Doubling:
    base_s: float = 2.0
    give_up_after: int | None = None

    def decide(self, attempt: int) -> Retry | GiveUp:
        if self.give_up_after is not None and attempt >= self.give_up_after:
            return GiveUp()
        return Retry(self.base_s * 2 ** (attempt - 1))


def setup(h: Any, receiver: Receiver, policy: Doubling) -> None:
    h.ctx.notifier = receiver
    h.ctx.retry = policy


def test_delivers_every_message_in_order(harness: Any) -> None:
    receiver = Receiver()
    setup(harness, receiver, Doubling())
    job = harness.submit()
    admit_once(harness.ctx)
    assert deliver_once(harness.ctx) == 4
    assert [m.payload["state"] for m in receiver.delivered] == [
        "requested",
        "queued",
        "provisioning",
        "running",
    ]
    assert all(m.delivered_at is not None for m in harness.store.outbox_for(job.id))
    assert deliver_once(harness.ctx) == 0  # nothing twice


def test_a_failing_message_blocks_later_ones_of_its_job_with_backoff(harness: Any) -> None:
    receiver = Receiver(refuse={"queued": True})
    setup(harness, receiver, Doubling(base_s=2.0))
    job = harness.submit()
    other = harness.submit()
    assert deliver_once(harness.ctx) == 2  # "requested" of each job; "queued" refused
    assert [m.payload["state"] for m in receiver.delivered] == ["requested", "requested"]

    first_try = harness.clock()
    (queued,) = [m for m in harness.store.outbox_for(job.id) if m.payload["state"] == "queued"]
    assert queued.attempts == 1
    assert queued.next_attempt_at == first_try + timedelta(seconds=2)
    assert queued.last_error is not None

    # not due yet: nothing is tried, so nothing of this job overtakes "queued"
    harness.clock.advance(1)
    assert deliver_once(harness.ctx) == 0
    harness.clock.advance(1)
    assert deliver_once(harness.ctx) == 0  # due, fails again: next in 4 s
    (queued,) = [m for m in harness.store.outbox_for(job.id) if m.payload["state"] == "queued"]
    assert queued.attempts == 2
    assert queued.next_attempt_at == harness.clock() + timedelta(seconds=4)

    receiver.refuse.clear()
    harness.clock.advance(4)
    assert deliver_once(harness.ctx) == 2
    for j in (job, other):
        states = [m.payload["state"] for m in receiver.delivered if m.job_id == j.id]
        assert states == ["requested", "queued"]


def test_permanent_failure_is_recorded_and_the_stream_moves_on(harness: Any) -> None:
    receiver = Receiver(refuse={"requested": False})
    setup(harness, receiver, Doubling())
    job = harness.submit()
    assert deliver_once(harness.ctx) == 1
    first, second = harness.store.outbox_for(job.id)[:2]
    assert first.dead_at is not None
    assert first.delivered_at is None
    assert second.delivered_at is not None
    assert [m.payload["state"] for m in receiver.delivered] == ["queued"]


def test_policy_giving_up_marks_dead(harness: Any) -> None:
    receiver = Receiver(refuse={"requested": True})
    setup(harness, receiver, Doubling(give_up_after=2))
    job = harness.submit()
    deliver_once(harness.ctx)
    harness.clock.advance(60)
    deliver_once(harness.ctx)
    first = harness.store.outbox_for(job.id)[0]
    assert (first.attempts, first.dead_at is not None) == (2, True)


def test_service_webhook_is_resolved_from_the_configuration_at_delivery(harness: Any) -> None:
    receiver = Receiver()
    setup(harness, receiver, Doubling())
    job = harness.submit(webhook_url="http://client.example/hook")
    stored = {m.destination for m in harness.store.outbox_for(job.id)}
    # neither URL is copied into the outbox: the job's stays in its (sealed) row
    assert stored == {SERVICE_WEBHOOK, JOB_WEBHOOK}

    assert deliver_once(harness.ctx) == 4
    sent = {(m.destination, m.payload["state"]) for m in receiver.delivered}
    assert sent == {
        (url, state)
        for url in ("http://global.example/hook", "http://client.example/hook")
        for state in ("requested", "queued")
    }


def test_job_url_equal_to_the_service_url_is_notified_once(harness: Any) -> None:
    receiver = Receiver()
    setup(harness, receiver, Doubling())
    harness.submit(webhook_url="http://global.example/hook")
    assert deliver_once(harness.ctx) == 2
    assert {m.destination for m in receiver.delivered} == {"http://global.example/hook"}


def test_service_webhook_messages_die_loudly_once_the_url_is_unset(
    harness: Any, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = Receiver()
    setup(harness, receiver, Doubling())
    job = harness.submit()
    harness.ctx.config = replace(harness.ctx.config, webhook_url=None)

    assert deliver_once(harness.ctx) == 0
    assert receiver.delivered == []
    messages = harness.store.outbox_for(job.id)
    assert all(m.dead_at is not None for m in messages)
    assert all("VATTI_WEBHOOK_URL" in (m.last_error or "") for m in messages)
    assert "notify.dropped" in caplog.text


def test_an_unforeseen_error_keeps_the_message_and_the_loop(harness: Any) -> None:
    class Broken:
        def deliver(self, message: OutboxMessage) -> None:
            raise RuntimeError(f"boom at {message.destination}")

    setup(harness, Receiver(), Doubling())
    harness.ctx.notifier = Broken()
    job = harness.submit(webhook_url="http://client.example/hook?token=qs-secret")

    assert deliver_once(harness.ctx) == 0  # no exception escapes: the engine keeps running
    messages = harness.store.outbox_for(job.id)
    assert all(m.dead_at is None and m.attempts == 1 for m in messages if m.attempts)
    errors = [m.last_error or "" for m in messages if m.attempts]
    assert errors
    assert all("RuntimeError" in e and "qs-secret" not in e for e in errors)

    receiver = Receiver()
    harness.ctx.notifier = receiver
    harness.clock.advance(60)
    deliver_once(harness.ctx)
    assert {m.payload["state"] for m in receiver.delivered} >= {"requested"}
