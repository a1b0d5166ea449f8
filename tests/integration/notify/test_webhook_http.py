"""WebhookNotifier over real HTTP to a local receiver."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from vatti.domain.jobs import OutboxMessage
from vatti.notify.errors import DeliveryError
from vatti.notify.signature import verify_signature
from vatti.notify.webhook import WebhookNotifier

from .conftest import Received, Receiver

pytestmark = pytest.mark.integration

SECRET = "whsec-test"
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def message(url: str, **payload: Any) -> OutboxMessage:
    body = {"event": "Succeeded", "job_id": "j1", "event_id": "ev-9", "state": "succeeded"}
    return OutboxMessage(7, "j1", "ev-9", "webhook", url, {**body, **payload}, 0, T0, T0)


def test_receiver_gets_a_verifiable_signed_payload(receiver: Receiver) -> None:
    receiver.start()
    msg = message(receiver.url, trace_name=None, run_name="client-run-1")
    with WebhookNotifier(SECRET) as notifier:
        notifier.deliver(msg)

    (got,) = receiver.received
    assert got.path == "/hook"
    assert json.loads(got.body) == msg.payload
    assert got.headers["X-Vatti-Event-Id"] == "ev-9"
    assert got.headers["Content-Type"] == "application/json"
    assert verify_signature(SECRET, got.headers["X-Vatti-Signature"], got.body)
    assert not verify_signature("other", got.headers["X-Vatti-Signature"], got.body)


@pytest.mark.parametrize(("status", "retryable"), [(503, True), (429, True), (410, False)])
def test_error_answers_are_classified(receiver: Receiver, status: int, retryable: bool) -> None:
    receiver.answer = lambda _r: status
    receiver.start()
    with WebhookNotifier(SECRET) as notifier, pytest.raises(DeliveryError) as info:
        notifier.deliver(message(receiver.url))
    assert info.value.transient is retryable
    assert info.value.status == status


def test_endpoint_down_is_retryable(receiver: Receiver) -> None:
    with WebhookNotifier(SECRET) as notifier, pytest.raises(DeliveryError) as info:
        notifier.deliver(message(receiver.url))  # nothing listens on the port
    assert info.value.transient


def test_a_receiver_that_hangs_times_out_retryably(receiver: Receiver) -> None:
    release = threading.Event()

    def hang(_r: Received) -> int:
        release.wait(30)
        return 200

    receiver.answer = hang
    receiver.start()
    try:
        with (
            WebhookNotifier(SECRET, timeout_s=0.2) as notifier,
            pytest.raises(DeliveryError) as info,
        ):
            notifier.deliver(message(receiver.url))
    finally:
        release.set()
    assert info.value.transient
    assert "timed out" in str(info.value)


def test_undeliverable_host_name_is_a_permanent_failure() -> None:
    # the real client raises UnicodeError (IDNA: a label over 63 characters) before connecting
    with WebhookNotifier(SECRET) as notifier, pytest.raises(DeliveryError) as info:
        notifier.deliver(message(f"http://{'a' * 64}.invalid/hook"))
    assert not info.value.transient
    assert "invalid webhook URL" in str(info.value)
