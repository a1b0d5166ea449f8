"""Wake-ups: tell the engines that there is work now, in this process and in others.

A topic names the kind of work: ``admission`` (a job was queued, or a slot freed), ``cancel`` (a
job is cancelling), ``outbox`` (messages were queued). Each wakes the engine loops that do that
work (:data:`TOPIC_LOOPS`). Wake-ups only shorten a wait: every loop still polls, so a wake-up
that is lost (a dropped connection, a process that was down) delays work by one poll interval
and never loses it.

- :class:`InProcessWakeups` nudges the loops of the engines of this process (SQLite keeps one
  engine, so that is all it needs);
- :class:`PostgresWakeups` does the same and sends ``NOTIFY vatti_<topic>`` so engines in other
  processes wake too; an engine process also LISTENs on a dedicated connection, in a thread
  (:meth:`PostgresWakeups.listening`), and nudges its loops on each notification.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, cast

import sqlalchemy as sa

if TYPE_CHECKING:
    import psycopg

from vatti.engine.logs import engine_logger, log_event

#: topic -> the engine loops it wakes
TOPIC_LOOPS: dict[str, tuple[str, ...]] = {
    "admission": ("admission",),
    "cancel": ("cancel",),
    "outbox": ("notifier",),
}
TOPICS = tuple(TOPIC_LOOPS)
#: the longest wait before the listener connects again after losing its connection
MAX_RECONNECT_DELAY_S = 30.0
LISTEN_TIMEOUT_S = 0.5

#: wakes loops of one engine by name (``Engine.nudge``)
Nudge = Callable[..., None]


class UnknownTopic(ValueError):
    pass


def channel(topic: str) -> str:
    """The PostgreSQL channel of ``topic``.

    >>> channel("admission")
    'vatti_admission'
    """
    if topic not in TOPIC_LOOPS:
        raise UnknownTopic(f"unknown wake-up topic {topic!r}: one of {', '.join(TOPICS)}")
    return f"vatti_{topic}"


def topic_of(channel_name: str) -> str | None:
    """The topic of a channel, or None when it is not one of ours.

    >>> topic_of("vatti_cancel"), topic_of("other")
    ('cancel', None)
    """
    topic = channel_name.removeprefix("vatti_")
    return topic if topic != channel_name and topic in TOPIC_LOOPS else None


class Wakeups(Protocol):
    """What the job service calls when it created work for the engines."""

    def notify(self, topic: str) -> None:
        """Wake whoever does ``topic``'s work (never raises for a lost wake-up)."""
        ...


class InProcessWakeups:
    """Wake-ups within this process: each subscribed engine's loops are nudged."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nudges: list[Nudge] = []

    def subscribe(self, nudge: Nudge) -> None:
        with self._lock:
            self._nudges.append(nudge)

    def wake_here(self, topic: str) -> None:
        loops = TOPIC_LOOPS.get(topic)
        if loops is None:
            raise UnknownTopic(f"unknown wake-up topic {topic!r}: one of {', '.join(TOPICS)}")
        with self._lock:
            nudges = list(self._nudges)
        for nudge in nudges:
            nudge(*loops)

    def notify(self, topic: str) -> None:
        self.wake_here(topic)

    @contextlib.contextmanager
    def listening(self) -> Iterator[None]:
        """Receive other processes' wake-ups while inside (none reach this one)."""
        yield


class PostgresWakeups(InProcessWakeups):
    """Wake-ups across processes through PostgreSQL ``LISTEN``/``NOTIFY`` on ``engine``."""

    def __init__(self, engine: sa.Engine, *, logger: logging.Logger | None = None) -> None:
        super().__init__()
        self._engine = engine
        self._log = logger if logger is not None else engine_logger()

    def notify(self, topic: str) -> None:
        name = channel(topic)
        self.wake_here(topic)
        try:
            with self._engine.connect() as conn:
                conn.execute(sa.select(sa.func.pg_notify(name, "")))
                conn.commit()
        except sa.exc.SQLAlchemyError as exc:  # the pollers will find the work anyway
            log_event(
                self._log,
                "engine.wakeup_not_sent",
                level=logging.WARNING,
                topic=topic,
                error=f"{type(exc).__name__}: {exc}",
            )

    @contextlib.contextmanager
    def listening(self) -> Iterator[None]:
        stop = threading.Event()
        thread = threading.Thread(
            target=self._listen, args=(stop,), name="vatti-wakeups", daemon=True
        )
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def _listen(self, stop: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                self._listen_once(stop)
                return
            except Exception as exc:  # a lost connection: poll meanwhile, connect again
                failures += 1
                delay = min(MAX_RECONNECT_DELAY_S, 0.5 * 2.0 ** min(failures - 1, 10))
                log_event(
                    self._log,
                    "engine.wakeups_lost",
                    level=logging.WARNING,
                    error=f"{type(exc).__name__}: {exc}",
                    retry_in_s=delay,
                )
                stop.wait(delay)

    def _listen_once(self, stop: threading.Event) -> None:
        pooled = self._engine.raw_connection()
        conn = cast("psycopg.Connection[Any]", pooled.driver_connection)
        pooled.detach()  # a connection of its own, closed for real below
        try:
            conn.autocommit = True
            for topic in TOPICS:
                conn.execute(f"LISTEN {channel(topic)}")
            log_event(self._log, "engine.wakeups_listening", channels=len(TOPICS))
            for topic in TOPICS:  # what was notified while we were not listening
                self.wake_here(topic)
            while not stop.is_set():
                for note in conn.notifies(timeout=LISTEN_TIMEOUT_S):
                    woken = topic_of(note.channel)
                    if woken is not None:
                        self.wake_here(woken)
                    if stop.is_set():
                        break
        finally:
            with contextlib.suppress(Exception):
                conn.close()
