"""A real webhook receiver: stdlib ``http.server`` on 127.0.0.1 in a background thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from vatti.testing.services import free_port


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Records each POST, answers ``answer(request)`` (an HTTP status), tells ``listeners``."""

    port: int
    answer: Callable[[Received], int] = lambda _r: 204
    received: list[Received] = field(default_factory=list)
    listeners: list[Callable[[Received], None]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                got = Received(self.path, dict(self.headers.items()), self.rfile.read(length))
                status = receiver.answer(got)
                if 200 <= status < 300:
                    with receiver._lock:
                        receiver.received.append(got)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                for listener in list(receiver.listeners):
                    listener(got)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def bodies(self) -> list[bytes]:
        with self._lock:
            return [r.body for r in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver on a free port, not started: tests start it when the endpoint is to be up."""
    rec = Receiver(free_port())
    try:
        yield rec
    finally:
        rec.stop()
