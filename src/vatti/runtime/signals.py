"""Turn SIGTERM/SIGINT into an exception, so ``finally`` blocks (scratch deletion) run."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from vatti.runtime.errors import Terminated

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def raise_on_stop_signals() -> Iterator[None]:
    """In the block, the first SIGTERM/SIGINT raises :class:`Terminated`; later ones are ignored.

    Ignoring the repeats lets the cleanup that the first one triggered finish within the
    executor's grace period. Only effective in the main thread (signals are delivered there).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = False

    def handler(signum: int, _frame: FrameType | None) -> None:
        nonlocal fired
        if fired:
            return
        fired = True
        raise Terminated(signum)

    previous: dict[int, Any] = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
