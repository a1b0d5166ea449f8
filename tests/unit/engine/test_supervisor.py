from __future__ import annotations

import asyncio

import pytest

from vatti.engine.errors import LoopCrashed
from vatti.engine.supervisor import Loop, Supervisor

pytestmark = pytest.mark.unit


async def test_a_crashing_loop_stops_everything_with_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    other_cancelled = asyncio.Event()

    async def boom() -> None:
        raise ZeroDivisionError("bad maths")

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            other_cancelled.set()
            raise

    sup = Supervisor([Loop("boom", boom, 3600), Loop("forever", forever, 3600)])
    with pytest.raises(LoopCrashed, match="boom") as info:
        await asyncio.wait_for(sup.run(), 5)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert other_cancelled.is_set()
    assert not sup.running
    crash = [r for r in caplog.records if r.getMessage().startswith("engine.loop_crashed")]
    assert crash
    assert crash[0].exc_info is not None


async def test_nudge_wakes_a_sleeping_loop_and_stop_returns() -> None:
    passes = 0
    second_pass = asyncio.Event()

    async def step() -> None:
        nonlocal passes
        passes += 1
        if passes == 2:
            second_pass.set()

    sup = Supervisor([Loop("step", step, 3600)])
    runner = asyncio.create_task(sup.run())
    while passes < 1:  # the first pass runs at once
        await asyncio.sleep(0)
    sup.wakeup.nudge()
    await asyncio.wait_for(second_pass.wait(), 5)  # long before the 1 h interval
    sup.stop()
    await asyncio.wait_for(runner, 5)
    assert passes == 2


async def test_nudge_from_another_thread() -> None:
    woke = asyncio.Event()
    passes = 0

    async def step() -> None:
        nonlocal passes
        passes += 1
        if passes == 2:
            woke.set()

    sup = Supervisor([Loop("step", step, 3600)])
    runner = asyncio.create_task(sup.run())
    while passes < 1:
        await asyncio.sleep(0)
    await asyncio.to_thread(sup.wakeup.nudge)
    await asyncio.wait_for(woke.wait(), 5)
    await asyncio.to_thread(sup.stop)
    await asyncio.wait_for(runner, 5)


async def test_stop_before_run_returns_at_once() -> None:
    async def step() -> None:
        return None

    sup = Supervisor([Loop("step", step, 3600)])
    sup.stop()
    await asyncio.wait_for(sup.run(), 5)


async def test_a_transient_error_is_logged_and_the_step_tried_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from vatti.store.errors import StoreUnavailable

    attempts = 0
    recovered = asyncio.Event()

    async def flaky() -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 2:
            raise StoreUnavailable("job store unavailable: database is locked")
        recovered.set()

    sup = Supervisor([Loop("flaky", flaky, 0.01)])
    runner = asyncio.create_task(sup.run())
    await asyncio.wait_for(recovered.wait(), 5)
    assert sup.running  # nothing crashed
    sup.stop()
    await asyncio.wait_for(runner, 5)
    failed = [r for r in caplog.records if r.getMessage().startswith("engine.loop_step_failed")]
    assert len(failed) == 2
    assert "database is locked" in failed[0].getMessage()
