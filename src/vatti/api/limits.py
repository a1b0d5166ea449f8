"""Limits on request bodies: JSON only where JSON is read (415), and a size limit (413).

:func:`require_json` is a dependency of the operations that read a JSON body: any other
``Content-Type``, or none, is refused with 415 before the body is parsed.

:class:`BodySizeLimit` is an ASGI middleware refusing request bodies over a size limit with 413,
before any parsing.

A declared ``Content-Length`` over the limit is refused without handing the body to the
application. Otherwise the body is read (up to the limit) before the application sees it, so a
chunked body that grows past the limit is refused too, and the application only ever gets a body
within the limit.

Before answering 413 the rest of the body is read and discarded, up to ``drain_bytes``: closing a
connection with unread data makes the kernel reset it, and the client would see a broken
connection instead of the 413. Bodies larger than that are cut off.
"""

from __future__ import annotations

import json

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vatti.api.errors import ApiError, envelope

JSON_MEDIA_TYPE = "application/json"


def is_json(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` header says JSON (parameters such as charset aside).

    >>> is_json("application/json"), is_json("Application/JSON; charset=utf-8")
    (True, True)
    >>> is_json(None), is_json("text/plain"), is_json("application/jsonx")
    (False, False, False)
    """
    return (content_type or "").partition(";")[0].strip().lower() == JSON_MEDIA_TYPE


async def require_json(request: Request) -> None:
    """Refuse a body that is not declared ``application/json`` with 415."""
    content_type = request.headers.get("content-type")
    if not is_json(content_type):
        got = f"got {content_type!r}" if content_type else "no Content-Type was given"
        raise ApiError(
            415,
            "unsupported_media_type",
            f"the request body must be JSON, sent as Content-Type: {JSON_MEDIA_TYPE} ({got})",
        )


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_body_bytes: int, drain_bytes: int | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.drain_bytes = 4 * max_body_bytes if drain_bytes is None else drain_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            if declared <= self.drain_bytes:
                await _drain(receive, self.drain_bytes)
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message], receive), send)
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body_bytes:
                if message.get("more_body", False):
                    await _drain(receive, self.drain_bytes - size)
                await self._refuse(send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([whole], receive), send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            envelope(
                "payload_too_large",
                f"the request body exceeds the limit of {self.max_body_bytes} bytes",
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def _drain(receive: Receive, budget: int) -> None:
    """Read and drop the rest of a request body, at most ``budget`` bytes."""
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        budget -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that first returns ``messages``, then defers to the real one."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
