"""Run the control loops as asyncio tasks; a loop that crashes stops them all, loudly.

Each loop is a ``step`` coroutine run, then a sleep of ``interval_s`` that a nudge cuts short
(a job was submitted or cancelled). :meth:`Supervisor.run` returns when :meth:`Supervisor.stop`
is called and raises :class:`LoopCrashed` (after logging the traceback) when a step raises,
except for a *transient* error (``exc.transient``, e.g. the database is locked or unreachable):
that is logged and the step is tried again after a growing delay, so the service outlives a
database restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from vatti.engine.errors import LoopCrashed
from vatti.engine.logs import engine_logger, log_event


@dataclass(frozen=True)
class Loop:
    name: str
    step: Callable[[], Awaitable[object]]
    interval_s: float
    wakes_on_nudge: bool = True


class Wakeup:
    """Wakes sleeping loops early. :meth:`nudge` is safe from any thread, before or after start."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[tuple[str, asyncio.Event]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def register(self, name: str = "") -> asyncio.Event:
        """A new event for the calling loop (call from inside the running event loop)."""
        event = asyncio.Event()
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._events.append((name, event))
        return event

    def _set(self, names: frozenset[str]) -> None:
        with self._lock:
            events = [e for name, e in self._events if not names or name in names]
        for event in events:
            event.set()

    def nudge(self, *names: str) -> None:
        """Wake the loops called ``names`` (every loop when none is named)."""
        wanted = frozenset(names)
        with self._lock:
            loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._set(wanted)
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._set, wanted)


#: The longest wait between the steps of a loop that keeps meeting a transient error.
MAX_TRANSIENT_DELAY_S = 30.0


def transient_delay(interval_s: float, in_a_row: int) -> float:
    """Wait before the next step after ``in_a_row`` transient failures: doubling, capped.

    >>> [transient_delay(1.0, n) for n in (1, 2, 3, 6, 100)]
    [1.0, 2.0, 4.0, 30.0, 30.0]
    """
    base = max(interval_s, 0.05)
    return min(MAX_TRANSIENT_DELAY_S, base * 2.0 ** min(in_a_row - 1, 20))


class Supervisor:
    def __init__(
        self,
        loops: Sequence[Loop],
        *,
        wakeup: Wakeup | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self._loops = list(loops)
        self.wakeup = wakeup if wakeup is not None else Wakeup()
        self._log = logger if logger is not None else engine_logger()
        self._stop: asyncio.Event | None = None
        self._stop_loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested = False
        self.running = False

    def stop(self) -> None:
        """Ask :meth:`run` to return (thread-safe; effective also before ``run`` starts)."""
        self._stop_requested = True
        stop, loop = self._stop, self._stop_loop
        if stop is None or loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(stop.set)

    async def _run_loop(self, loop: Loop) -> None:
        wake = self.wakeup.register(loop.name) if loop.wakes_on_nudge else None
        log_event(self._log, "engine.loop_started", loop=loop.name)
        unavailable = 0  # steps in a row that met a transient error
        while True:
            if wake is not None:
                wake.clear()
            try:
                await loop.step()
                unavailable = 0
            except Exception as exc:
                if getattr(exc, "transient", False):
                    unavailable += 1
                    delay = transient_delay(loop.interval_s, unavailable)
                    log_event(
                        self._log,
                        "engine.loop_step_failed",
                        level=logging.WARNING,
                        loop=loop.name,
                        error=f"{type(exc).__name__}: {exc}",
                        retry_in_s=round(delay, 3),
                        in_a_row=unavailable,
                    )
                    await asyncio.sleep(delay)
                    continue
                log_event(
                    self._log,
                    "engine.loop_crashed",
                    level=logging.ERROR,
                    exc_info=True,
                    loop=loop.name,
                )
                raise
            if wake is None:
                await asyncio.sleep(loop.interval_s)
            else:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                # that races with the wake-up, and the loop would then never stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(loop.interval_s):
                        await wake.wait()

    async def run(self) -> None:
        self._stop = asyncio.Event()
        self._stop_loop = asyncio.get_running_loop()
        if self._stop_requested:
            self._stop.set()
        tasks = {asyncio.create_task(self._run_loop(lp), name=lp.name): lp for lp in self._loops}
        stopper = asyncio.create_task(self._stop.wait())
        self.running = True
        try:
            done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.running = False
            for task in [*tasks, stopper]:
                task.cancel()
            await asyncio.gather(*tasks, stopper, return_exceptions=True)
        for task, loop in tasks.items():
            if task not in done or task.cancelled():
                continue
            exc = task.exception()
            if exc is not None:
                raise LoopCrashed(loop.name, exc) from exc
        log_event(self._log, "engine.stopped")
