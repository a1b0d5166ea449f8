"""Live pages: a signal that something may have changed, and the server-sent events built on it.

The signal is set by the wake-ups of the job service (a job submitted or cancelled here; on
PostgreSQL, while this process's engine listens, the ``NOTIFY`` of other processes) and by this
process's engine when a job changes; a live page also looks again every ``live_poll_s`` when no
wake-up came, so a change made where no wake-up reaches (another process on SQLite, an
API-only replica) shows within that time.
"""

from __future__ import annotations

import asyncio
import threading


class ChangeSignal:
    """Wakes every waiting live page (``notify`` may be called from any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def notify(self, *_topics: object) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    async def wait(self, timeout_s: float) -> bool:
        """Wait for the next notification, at most ``timeout_s``; True when one came."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.add(entry)
        try:
            await asyncio.wait_for(entry[1].wait(), timeout_s)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.discard(entry)
