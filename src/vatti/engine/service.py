"""The engine: its loops under one supervisor (callers change jobs through the job service).

Loops (each pass runs in a worker thread; the store is synchronous):

- ``admission`` (poll interval, nudged): start queued jobs under the concurrency limit;
- ``poll`` (poll interval, nudged): reconcile live jobs with the executor, enforce timeouts —
  its first pass at start-up is the start-up reconciliation;
- ``cancel`` (poll interval, nudged): terminate cancelling jobs (in parallel; a termination may
  take the whole grace period, which the poll loop thus never waits for);
- ``notifier`` (poll interval, nudged): deliver the outbox;
- ``sweeper`` (reconcile interval): expired results, orphaned work areas and scratch dirs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from vatti.engine.admission import admit_once
from vatti.engine.context import EngineContext, holder_is_dead_here
from vatti.engine.logs import log_event
from vatti.engine.notifier import deliver_once
from vatti.engine.ports import ReportsExits
from vatti.engine.reconcile import cancel_once, poll_live
from vatti.engine.supervisor import Loop, Supervisor
from vatti.engine.sweeper import sweep_once
from vatti.engine.timeouts import enforce_timeouts

T = TypeVar("T")


def _in_thread(fn: Callable[[EngineContext], T], ctx: EngineContext) -> Callable[[], Awaitable[T]]:
    async def step() -> T:
        return await asyncio.to_thread(fn, ctx)

    return step


def poll_once(ctx: EngineContext) -> None:
    poll_live(ctx)
    enforce_timeouts(ctx)


class Engine:
    """One engine replica. Several may run against one database."""

    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx
        cfg = ctx.config
        self.supervisor = Supervisor(
            [
                Loop("admission", _in_thread(admit_once, ctx), cfg.poll_interval_s),
                Loop("poll", _in_thread(poll_once, ctx), cfg.poll_interval_s),
                Loop("cancel", _in_thread(cancel_once, ctx), cfg.poll_interval_s),
                Loop("notifier", _in_thread(deliver_once, ctx), cfg.poll_interval_s),
                Loop(
                    "sweeper",
                    _in_thread(sweep_once, ctx),
                    cfg.reconcile_interval_s,
                    wakes_on_nudge=False,
                ),
            ],
            logger=ctx.logger,
        )
        ctx.listeners.append(lambda _job: self.nudge())  # a change may free a slot, queue a message
        if isinstance(ctx.executor, ReportsExits):  # a job's end is an event, not a poll away
            ctx.executor.on_exit(lambda _job_id: self.nudge("poll"))

    @property
    def alive(self) -> bool:
        """True while the loops run (for readiness probes)."""
        return self.supervisor.running

    def nudge(self, *loops: str) -> None:
        """Wake the named loops now, or all of them (thread-safe)."""
        self.supervisor.wakeup.nudge(*loops)

    async def run(self) -> None:
        """Run the loops until :meth:`stop`; raises ``LoopCrashed`` if a loop fails."""
        await asyncio.to_thread(self.release_dead_leases)
        await self.supervisor.run()

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
