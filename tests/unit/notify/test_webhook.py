"""The webhook notifier against an in-process transport (httpx.MockTransport): no sockets."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from vatti.domain.jobs import OutboxMessage
from vatti.errors import VattiError
from vatti.notify.errors import DeliveryError
from vatti.notify.signature import verify_signature
from vatti.notify.webhook import WebhookNotifier, origin

pytestmark = pytest.mark.unit

SECRET = "hook-secret-123"
URL = "https://alice:pa55w0rd@hooks.example.org/t/hook-path?token=qs-token"
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def message(destination: str = URL, **payload: Any) -> OutboxMessage:
    body = {"event": "Succeeded", "job_id": "j1", "event_id": "ev-1", "state": "succeeded"}
    return OutboxMessage(1, "j1", "ev-1", "webhook", destination, {**body, **payload}, 0, T0, T0)


def notifier(handler: Any, secret: str | None = SECRET) -> WebhookNotifier:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return WebhookNotifier(secret, client=client, clock=lambda: 1_700_000_000.0)


def test_posts_signed_json_with_event_id_and_user_agent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    notifier(handler).deliver(message())

    (request,) = seen
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-vatti-event-id"] == "ev-1"
    assert request.headers["user-agent"].startswith("vatti/")
    body = request.content
    assert json.loads(body) == message().payload
    header = request.headers["x-vatti-signature"]
    assert verify_signature(SECRET, header, body, now=1_700_000_000)


def test_no_signature_header_without_a_secret() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    notifier(handler, secret=None).deliver(message())
    assert "x-vatti-signature" not in seen[0].headers


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_transient_answers_are_retryable(status: int) -> None:
    with pytest.raises(DeliveryError) as info:
        notifier(lambda _r: httpx.Response(status)).deliver(message())
    assert info.value.transient
    assert info.value.status == status


@pytest.mark.parametrize("status", [301, 400, 401, 403, 404, 410, 422])
def test_client_errors_are_permanent(status: int) -> None:
    with pytest.raises(DeliveryError) as info:
        notifier(lambda _r: httpx.Response(status)).deliver(message())
    assert not info.value.transient
    assert isinstance(info.value, VattiError)


@pytest.mark.parametrize(
    "exc",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("eof")],
)
def test_transport_failures_are_retryable(exc: Exception) -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(DeliveryError) as info:
        notifier(handler).deliver(message())
    assert info.value.transient


def test_invalid_destination_is_permanent() -> None:
    with pytest.raises(DeliveryError) as info:
        notifier(lambda _r: httpx.Response(200)).deliver(message("ftp://x.example/"))
    assert not info.value.transient


@pytest.mark.parametrize("status", [404, 503])
def test_errors_name_the_origin_only(status: int) -> None:
    with pytest.raises(DeliveryError) as info:
        notifier(lambda _r: httpx.Response(status)).deliver(message())
    text = str(info.value) + repr(info.value)
    assert "hooks.example.org" in text
    for secret in (SECRET, "alice", "pa55w0rd", "qs-token", "hook-path"):
        assert secret not in text


def test_transport_error_hides_url_and_cause() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}")

    with pytest.raises(DeliveryError) as info:
        notifier(handler).deliver(message())
    assert "pa55w0rd" not in str(info.value)
    assert "qs-token" not in str(info.value)
    assert info.value.__cause__ is None


def test_repr_does_not_show_the_secret() -> None:
    assert SECRET not in repr(notifier(lambda _r: httpx.Response(200)))


def test_origin_of_urls() -> None:
    assert origin("http://127.0.0.1:9/x") == "http://127.0.0.1:9"
    assert origin("https://h.example/") == "https://h.example"
