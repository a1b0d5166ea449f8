"""HTTP(S) requests of the job runtime: retries with backoff, redirects kept on one origin.

The collection, its token endpoint and the key handler are reached with one httpx client each
(:func:`new_client`), never following redirects on their own: :func:`send` follows a redirect
only to the same origin (scheme, host, port), so a bearer token or Basic credentials never
travel to another host. Transient failures (connection errors, time-outs, 408, 429, 5xx) are
retried as :class:`~vatti.notify.backoff.ExponentialBackoff` decides; giving up raises
:class:`GaveUp` with the last reason, which names no credential (httpx's messages carry no
headers). ``http://`` is accepted only where the settings allow it (a loopback host).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from vatti.domain.urls import redact_url
from vatti.engine.ports import GiveUp
from vatti.staging.retries import RetryPolicy

T = TypeVar("T")
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAX_REDIRECTS = 5


class Transient(Exception):
    """A failure worth another attempt (raised inside :func:`retrying`'s operation)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class GaveUp(Exception):
    """The attempts ran out; ``reason`` says what failed last."""

    def __init__(self, reason: str, attempts: int) -> None:
        super().__init__(f"{reason} (after {attempts} attempts)")
        self.reason = reason
        self.attempts = attempts


class RedirectRefused(Exception):
    """A redirect to another origin (or too many redirects)."""


def new_client(policy: RetryPolicy) -> httpx.Client:
    """A client that follows no redirect itself and reads no proxy or netrc from the
    environment (explicit endpoints only)."""
    timeout = httpx.Timeout(policy.timeout_s, connect=min(policy.timeout_s, 15.0))
    return httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port (the default port made explicit).

    >>> origin("https://Data.example/a") == origin("https://data.example:443/b")
    True
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def describe(exc: httpx.HTTPError) -> str:
    """An httpx failure in one line, without the URL's query or credentials."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def retrying(
    operation: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``operation()``, attempted again after :class:`Transient` and httpx transport errors."""
    backoff = policy.backoff()
    attempt = 0
    while True:
        attempt += 1
        try:
            return operation()
        except Transient as exc:
            reason = exc.reason
        except httpx.TransportError as exc:
            reason = describe(exc)
        decision = backoff.decide(attempt)
        if isinstance(decision, GiveUp):
            raise GaveUp(reason, attempt)
        sleep(decision.delay_s)


def send(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    auth: httpx.BasicAuth | None = None,
    data: Mapping[str, str] | None = None,
    stream: bool = False,
) -> httpx.Response:
    """One request, following redirects only within ``url``'s origin.

    Raises :class:`Transient` for a transient status (the response closed), and
    :class:`RedirectRefused`. With ``stream`` the caller closes the response.
    """
    for _ in range(MAX_REDIRECTS + 1):
        request = client.build_request(method, url, headers=headers, data=data)
        response = client.send(request, auth=auth, stream=stream)
        if response.status_code in TRANSIENT_STATUS:
            response.close()
            raise Transient(f"HTTP {response.status_code} from {redact_url(url, keep_path=False)}")
        location = response.headers.get("location")
        if not (response.is_redirect and location):
            return response
        response.close()
        target = urljoin(url, location)
        if origin(target) != origin(url):
            raise RedirectRefused(
                f"{redact_url(url, keep_path=False)} redirected to another host, "
                f"{redact_url(target, keep_path=False)}"
            )
        url = target
    raise RedirectRefused(f"more than {MAX_REDIRECTS} redirects from {redact_url(url)}")
