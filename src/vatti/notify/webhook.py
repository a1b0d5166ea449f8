"""Deliver outbox messages as signed JSON webhooks (HTTP POST).

2xx is delivered. 408, 425, 429, 5xx, connection errors and timeouts are retryable; any other
answer (3xx, 4xx such as 400, 404, 410) is permanent. Error messages name the endpoint by its
origin only (scheme, host, port): never its credentials, path or query, nor the secret.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from vatti.domain.jobs import OutboxMessage
from vatti.domain.urls import redact_url
from vatti.notify.errors import DeliveryError
from vatti.notify.signature import SIGNATURE_HEADER, sign, signature_header, verify_signature

__all__ = ["DeliveryError", "WebhookNotifier", "origin", "sign", "verify_signature"]

EVENT_ID_HEADER = "X-Vatti-Event-Id"
RETRYABLE_STATUS = frozenset({408, 425, 429})


def user_agent() -> str:
    try:
        return f"vatti/{version('vatti')}"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "vatti/0"


def encode_payload(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON with sorted keys.

    >>> encode_payload({"b": 1, "a": "x"})
    b'{"a":"x","b":1}'
    """
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, without credentials, path or query.

    >>> origin("https://user:pw@hooks.example.org:8443/t/abc?token=x")
    'https://hooks.example.org:8443'
    >>> origin("not a url")
    '<invalid url>'
    """
    return redact_url(url, keep_path=False)


def is_retryable_status(status: int) -> bool:
    """Whether an HTTP answer may change by trying later.

    >>> [is_retryable_status(s) for s in (408, 425, 429, 500, 503, 400, 404, 410, 301)]
    [True, True, True, True, True, False, False, False, False]
    """
    return status in RETRYABLE_STATUS or 500 <= status <= 599


class WebhookNotifier:
    """POST each message's payload to its destination, signed when a secret is set."""

    def __init__(
        self,
        secret: str | None,
        client: httpx.Client | None = None,
        timeout_s: float = 10.0,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret or None
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=timeout_s, follow_redirects=False)
        self._timeout_s = timeout_s
        self._clock = clock
        self._user_agent = user_agent()

    def __repr__(self) -> str:
        return f"WebhookNotifier(signed={self._secret is not None})"

    def headers(self, payload: dict[str, Any], body: bytes) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self._user_agent,
            EVENT_ID_HEADER: str(payload.get("event_id", "")),
        }
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = signature_header(self._secret, int(self._clock()), body)
        return headers

    def deliver(self, message: OutboxMessage) -> None:
        """Deliver ``message`` or raise :class:`DeliveryError` (``transient`` set)."""
        where = origin(message.destination)
        if urlsplit(message.destination).scheme.lower() not in ("http", "https"):
            raise DeliveryError(f"webhook URL for {where} is not http(s)", transient=False)
        body = encode_payload(message.payload)
        try:
            response = self._client.post(
                message.destination,
                content=body,
                headers=self.headers(message.payload, body),
                timeout=self._timeout_s,
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError):
            # ValueError: e.g. the IDNA encoding of a host with a label over 63 characters
            raise DeliveryError(f"invalid webhook URL for {where}", transient=False) from None
        except httpx.TimeoutException as exc:
            raise DeliveryError(
                f"webhook {where} timed out ({type(exc).__name__})", transient=True
            ) from None
        except httpx.TransportError as exc:
            raise DeliveryError(
                f"webhook {where} unreachable ({type(exc).__name__})", transient=True
            ) from None
        status = response.status_code
        if 200 <= status <= 299:
            return
        raise DeliveryError(
            f"webhook {where} answered HTTP {status}",
            transient=is_retryable_status(status),
            status=status,
        )

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> WebhookNotifier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
