"""Run one job in-process and follow it to the end (what ``vatti run`` needs).

The engine's loops run in this process; ``submit`` (the job service's submission, called once
the engine runs) stores the job; state changes reach ``on_change`` as they happen (no polling of
the store). The outbox is drained once more before the engine stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from vatti.domain.jobs import Job
from vatti.engine.notifier import deliver_once
from vatti.engine.service import Engine


async def follow_new_job(
    engine: Engine,
    submit: Callable[[], Job],
    on_change: Callable[[Job], None],
    *,
    refresh_s: float | None = None,
) -> Job:
    """Start the engine, ``submit`` the job, report each state change, return the finished job.

    Changes this engine makes arrive as they happen; every ``refresh_s`` (default: the poll
    interval) without one, the job is read from the store, for the changes other engines make
    (on PostgreSQL another engine may take the job). An error ``submit`` raises (an invalid
    request) stops the engine and propagates.
    """
    refresh = engine.ctx.config.poll_interval_s if refresh_s is None else refresh_s
    loop = asyncio.get_running_loop()
    changes: asyncio.Queue[Job] = asyncio.Queue()

    def listener(job: Job) -> None:
        loop.call_soon_threadsafe(changes.put_nowait, job)

    engine.ctx.listeners.append(listener)
    runner = asyncio.create_task(engine.run())
    try:
        job = await asyncio.to_thread(submit)
        on_change(job)
        while not job.terminal:
            getter = asyncio.create_task(changes.get())
            done, _ = await asyncio.wait(
                {getter, runner}, timeout=refresh, return_when=asyncio.FIRST_COMPLETED
            )
            if runner in done:
                getter.cancel()
                runner.result()  # raises LoopCrashed
                raise RuntimeError("the engine stopped before the job finished")
            if getter in done:
                changed = getter.result()
            else:
                getter.cancel()
                changed = await asyncio.to_thread(engine.ctx.store.get, job.id)
            # the newest version wins: a change queued earlier may arrive after a store read
            if (
                changed.id == job.id
                and (changed.updated_at, changed.state)
                != (
                    job.updated_at,
                    job.state,
                )
                and changed.updated_at >= job.updated_at
            ):
                job = changed
                on_change(job)
        await asyncio.to_thread(deliver_once, engine.ctx)
        return job
    finally:
        engine.ctx.listeners.remove(listener)
        engine.stop()
        if not runner.done():
            await runner
        elif not runner.cancelled():
            with contextlib.suppress(Exception):
                runner.result()  # already raised above if it mattered


def run_one(engine: Engine, submit: Callable[[], Job], on_change: Callable[[Job], None]) -> Job:
    """Synchronous wrapper of :func:`follow_new_job` for the CLI."""
    return asyncio.run(follow_new_job(engine, submit, on_change))
