"""What every HTTP response carries: security headers and the request's id.

A request keeps the ``X-Request-Id`` its client sent when it is a short token of safe characters
(a proxy's or a backend's id, so one id follows a request across services); otherwise it gets a
new one. The id is answered in ``X-Request-Id``, put in error bodies (``error.request_id``) and
in every log line written while the request is handled (see :mod:`vatti.logging_setup`).

The security headers suit a JSON API: no MIME sniffing, no framing, no referrer, and a content
security policy that allows nothing (a JSON document loads nothing); over TLS, HSTS as well.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vatti.logging_setup import REQUEST_ID

REQUEST_ID_HEADER = "x-request-id"
#: a client's id is kept only when it is this safe (it reaches logs and bodies)
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
    ("cross-origin-resource-policy", "same-origin"),
)
HSTS = ("strict-transport-security", "max-age=31536000")


def request_id_from(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The client's ``X-Request-Id`` when it is safe to repeat, else a new id.

    >>> request_id_from([(b"x-request-id", b"abc-123")])
    'abc-123'
    >>> len(request_id_from([(b"x-request-id", b"no spaces, please")]))
    32
    """
    for name, value in headers:
        if name.lower() == REQUEST_ID_HEADER.encode():
            text = value.decode("latin-1")
            if _CLIENT_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


def response_headers(request_id: str, *, tls: bool) -> list[tuple[bytes, bytes]]:
    """The headers every response gets (as ASGI header pairs)."""
    pairs = [*SECURITY_HEADERS, *([HSTS] if tls else []), (REQUEST_ID_HEADER, request_id)]
    return [(k.encode(), v.encode()) for k, v in pairs]


class Hardening:
    """ASGI middleware: set the request id, add the headers a response does not set itself."""

    def __init__(self, app: ASGIApp, *, tls: bool = False) -> None:
        self.app = app
        self.tls = tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope.get("headers", ()))
        # not reset afterwards: an error answered outside this middleware (an unexpected
        # exception) is still logged and answered with the id; each request is its own task
        REQUEST_ID.set(request_id)
        extra = response_headers(request_id, tls=self.tls)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(pair for pair in extra if pair[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
