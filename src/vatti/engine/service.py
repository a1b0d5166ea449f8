"""The engine: its loops under one supervisor (callers change jobs through the job service).

Loops (each pass runs in a worker thread; the store is synchronous):

- ``admission`` (poll interval, nudged): start queued jobs under the concurrency limit;
- ``poll`` (poll interval, nudged): reconcile live jobs with the executor, enforce timeouts —
  its first pass at start-up is the start-up reconciliation;
- ``cancel`` (poll interval, nudged): terminate cancelling jobs (in parallel; a termination may
  take the whole grace period, which the poll loop thus never waits for);
- ``notifier`` (poll interval, nudged): deliver the outbox;
- ``sweeper`` (reconcile interval): expired results, orphaned work areas and scratch dirs;
- ``heartbeat`` (a third of the lease TTL): renew this engine's job leases, take over the jobs
  of engines whose leases lapsed (:mod:`vatti.engine.ownership`);
- ``intake`` (when an intake is given, e.g. the Kafka consumer of :mod:`vatti.intake`): read
  job requests and submit them, on the event loop itself.

Several engines may share one PostgreSQL database: admission is global
(:mod:`vatti.engine.admission`), each engine follows the jobs it owns, and engines wake each
other through :mod:`vatti.engine.wakeups`. On SQLite one engine runs (``exclusive``): a second
one refuses to start while the first one's lease holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from vatti.domain.jobs import Job
from vatti.engine.admission import admit_once
from vatti.engine.context import EngineContext, holder_is_dead_here
from vatti.engine.errors import SecondEngine
from vatti.engine.logs import log_event
from vatti.engine.notifier import deliver_once
from vatti.engine.ownership import hand_over, heartbeat_interval, heartbeat_once
from vatti.engine.ports import Intake, ReportsExits
from vatti.engine.reconcile import cancel_once, poll_live
from vatti.engine.supervisor import Loop, Supervisor
from vatti.engine.sweeper import sweep_once
from vatti.engine.timeouts import enforce_timeouts
from vatti.engine.wakeups import InProcessWakeups

#: the lease of the one engine a SQLite database has
EXCLUSIVE_LEASE = "engine.exclusive"
#: the pause between two passes of the intake loop (each pass waits for messages itself)
INTAKE_PAUSE_S = 0.01

T = TypeVar("T")


class StepThreads:
    """Runs loop steps in worker threads and knows which still run.

    A stopped loop's task is cancelled, but a thread cannot be: its step goes on to its end. The
    engine waits for those before it hands its jobs over, so that no step renews a lease (or
    changes a job) after the hand-over.
    """

    def __init__(self) -> None:
        self._running: set[asyncio.Future[Any]] = set()

    def step(self, fn: Callable[[], T]) -> Callable[[], Awaitable[T]]:
        async def run_step() -> T:
            future = asyncio.ensure_future(asyncio.to_thread(fn))
            self._running.add(future)
            future.add_done_callback(self._running.discard)
            return await asyncio.shield(future)

        return run_step

    async def wait(self) -> None:
        """Until every step started has ended (their errors were the loops' to report)."""
        await asyncio.gather(*list(self._running), return_exceptions=True)


def poll_once(ctx: EngineContext) -> None:
    poll_live(ctx)
    enforce_timeouts(ctx)


class Engine:
    """One engine replica. Several may run against one PostgreSQL database.

    ``wakeups`` reach the loops of this engine and, when they cross processes, other engines;
    ``exclusive``: this engine must be the only one (SQLite).
    """

    def __init__(
        self,
        ctx: EngineContext,
        *,
        wakeups: InProcessWakeups | None = None,
        exclusive: bool = False,
        intake: Intake | None = None,
    ) -> None:
        self.ctx = ctx
        self.exclusive = exclusive
        self.intake = intake
        self.wakeups = wakeups if wakeups is not None else InProcessWakeups()
        cfg = ctx.config
        self._threads = threads = StepThreads()

        def in_thread(fn: Callable[[EngineContext], object]) -> Callable[[], Awaitable[object]]:
            return threads.step(lambda: fn(ctx))

        self.supervisor = Supervisor(
            [
                Loop("admission", in_thread(admit_once), cfg.poll_interval_s),
                Loop("poll", in_thread(poll_once), cfg.poll_interval_s),
                Loop("cancel", in_thread(cancel_once), cfg.poll_interval_s),
                Loop("notifier", in_thread(deliver_once), cfg.poll_interval_s),
                Loop(
                    "sweeper",
                    in_thread(sweep_once),
                    cfg.reconcile_interval_s,
                    wakes_on_nudge=False,
                ),
                Loop(
                    "heartbeat",
                    self._heartbeat,
                    heartbeat_interval(cfg.lease_ttl_s),
                    wakes_on_nudge=False,
                ),
                *(
                    [Loop("intake", intake.step, INTAKE_PAUSE_S, wakes_on_nudge=False)]
                    if intake
                    else []
                ),
            ],
            logger=ctx.logger,
        )
        self.wakeups.subscribe(self.nudge)
        ctx.listeners.append(self._changed)
        if isinstance(ctx.executor, ReportsExits):  # a job's end is an event, not a poll away
            ctx.executor.on_exit(lambda _job_id: self.nudge("poll"))

    def _changed(self, job: Job) -> None:
        self.nudge()  # a change may free a slot, queue a message
        if job.terminal:  # a slot freed: engines elsewhere may admit
            self.wakeups.notify("admission")

    async def _heartbeat(self) -> None:
        if await self._threads.step(self._beat)():
            self.nudge("poll", "cancel")

    def _beat(self) -> list[str]:
        if self.exclusive:
            self._hold_exclusive()
        return heartbeat_once(self.ctx)

    def _hold_exclusive(self) -> None:
        ctx = self.ctx
        cfg = ctx.config
        if not ctx.store.acquire_lease(EXCLUSIVE_LEASE, cfg.holder, cfg.lease_ttl_s, ctx.now()):
            holder = ctx.store.lease_holders().get(EXCLUSIVE_LEASE, "?")
            raise SecondEngine(holder)

    @property
    def alive(self) -> bool:
        """True while the loops run (for readiness probes)."""
        return self.supervisor.running

    def nudge(self, *loops: str) -> None:
        """Wake the named loops now, or all of them (thread-safe)."""
        self.supervisor.wakeup.nudge(*loops)

    async def run(self) -> None:
        """Run the loops until :meth:`stop`; raises ``LoopCrashed`` if a loop fails.

        First the leases of this host's dead replicas are freed and the jobs of lapsed owners
        taken over (the first poll is the start-up reconciliation); on the way out this engine's
        job leases end, so another engine takes its jobs over at once.
        """
        await asyncio.to_thread(self._start)
        if self.intake is not None:
            self.intake.attach()
        try:
            with contextlib.ExitStack() as stack:
                await asyncio.to_thread(stack.enter_context, self.wakeups.listening())
                try:
                    await self.supervisor.run()
                finally:
                    await asyncio.to_thread(stack.close)
        finally:
            await self._threads.wait()
            if self.intake is not None:
                await self.intake.close()
            await asyncio.to_thread(self._finish)

    def _start(self) -> None:
        self.release_dead_leases()
        self._beat()
        log_event(
            self.ctx.logger,
            "engine.started",
            holder=self.ctx.config.holder,
            max_concurrent_jobs=self.ctx.config.max_concurrent_jobs,
        )

    def _finish(self) -> None:
        try:
            handed = hand_over(self.ctx)
            if self.exclusive:
                self.ctx.store.release_lease(EXCLUSIVE_LEASE, self.ctx.config.holder)
        except Exception as exc:  # the leases lapse on their own
            log_event(
                self.ctx.logger,
                "engine.hand_over_failed",
                level=logging.WARNING,
                error=f"{type(exc).__name__}: {exc}",
            )
            return
        if handed:
            log_event(self.ctx.logger, "engine.jobs_handed_over", jobs=handed)

    def release_dead_leases(self) -> list[str]:
        """Free the leases of replicas of this host that died (e.g. killed by SIGKILL).

        Without this a restarted server would wait out the dead one's lease before admitting.
        """
        released = []
        for name, holder in self.ctx.store.lease_holders().items():
            if holder_is_dead_here(holder):
                self.ctx.store.release_lease(name, holder)
                log_event(self.ctx.logger, "engine.dead_lease_released", lease=name, holder=holder)
                released.append(name)
        return released

    def stop(self) -> None:
        """Ask :meth:`run` to return (thread-safe)."""
        self.supervisor.stop()
