from __future__ import annotations

import json

import pytest
from starlette.types import Message, Receive, Scope, Send

from vatti.api.limits import BodySizeLimit

pytestmark = pytest.mark.unit


class Echo:
    """An ASGI app answering with the size of the body it read."""

    def __init__(self) -> None:
        self.called = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.called = True
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(body)).encode()})


async def call(
    app: BodySizeLimit, chunks: list[bytes], content_length: int | None = None
) -> tuple[int, bytes, list[bytes]]:
    """Run one request; returns status, body, and the chunks left unread."""
    pending: list[Message] = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    headers = [] if content_length is None else [(b"content-length", str(content_length).encode())]
    scope: Scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    sent: list[Message] = []

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = int(sent[0]["status"])
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return status, body, [p["body"] for p in pending]


async def test_small_bodies_pass_whole() -> None:
    echo = Echo()
    status, body, _ = await call(BodySizeLimit(echo, 10), [b"abc", b"defg"])
    assert (status, body) == (200, b"7")


async def test_body_at_the_limit_passes() -> None:
    status, body, _ = await call(BodySizeLimit(Echo(), 10), [b"x" * 10], content_length=10)
    assert (status, body) == (200, b"10")


async def test_declared_length_over_the_limit_is_refused_unread() -> None:
    echo = Echo()
    app = BodySizeLimit(echo, 10, drain_bytes=10)
    status, body, unread = await call(app, [b"x" * 11], content_length=11)
    assert status == 413
    assert json.loads(body)["error"]["code"] == "payload_too_large"
    assert unread == [b"x" * 11]
    assert not echo.called


async def test_streamed_body_over_the_limit_is_refused() -> None:
    echo = Echo()
    status, body, _ = await call(BodySizeLimit(echo, 10), [b"x" * 6, b"x" * 6, b"x"])
    assert status == 413
    assert json.loads(body)["error"]["code"] == "payload_too_large"
    assert not echo.called


async def test_refused_body_is_drained_within_budget() -> None:
    app = BodySizeLimit(Echo(), 10, drain_bytes=20)
    _, _, unread = await call(app, [b"x" * 8, b"x" * 8, b"x" * 8, b"x" * 8, b"x" * 8])
    # 16 bytes read, then chunks dropped until 20 in all were consumed: the last two stay unread
    assert unread == [b"x" * 8, b"x" * 8]
