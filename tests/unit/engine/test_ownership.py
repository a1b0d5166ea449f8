"""Engines sharing a store: one global limit, each follows its own jobs, lapsed jobs move."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from typing import Any

import pytest

from vatti.domain.access import OPERATOR_CALLER
from vatti.domain.outcome import Outcome
from vatti.domain.states import JobState
from vatti.engine.admission import admit_once
from vatti.engine.context import EngineContext
from vatti.engine.errors import SecondEngine
from vatti.engine.ownership import heartbeat_once
from vatti.engine.ports import Exited
from vatti.engine.reconcile import cancel_once, poll_live
from vatti.engine.service import EXCLUSIVE_LEASE, Engine
from vatti.engine.wakeups import InProcessWakeups
from vatti.testing.jobs import service_for

pytestmark = pytest.mark.unit


def other_engine(h: Any, holder: str = "other") -> EngineContext:
    """A second engine's context on the same store, executor and clock."""
    ctx: EngineContext = h.ctx
    return replace(ctx, config=replace(ctx.config, holder=holder), listeners=[])


def succeed(h: Any, job_id: str) -> None:
    h.executor.finish(job_id, Exited(0))
    h.outcomes.records[job_id] = Outcome(h.clock(), [])


async def until(condition: Any, timeout_s: float = 5.0) -> None:
    for _ in range(int(timeout_s / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


def test_the_limit_is_global_across_engines(harness_factory: Any) -> None:
    h = harness_factory(max_concurrent_jobs=2)
    other = other_engine(h)
    jobs = [h.submit() for _ in range(3)]
    assert admit_once(h.ctx) == 2
    assert admit_once(other) == 0
    succeed(h, jobs[0].id)
    poll_live(other)  # not its job: left alone
    assert h.store.get(jobs[0].id).state is JobState.RUNNING
    poll_live(h.ctx)
    assert admit_once(other) == 1
    assert h.store.get(jobs[2].id).state is JobState.RUNNING


def test_a_lapsed_lease_moves_the_job_and_a_renewed_one_does_not(harness_factory: Any) -> None:
    h = harness_factory(lease_ttl_s=30)
    other = other_engine(h)
    job = h.submit()
    admit_once(h.ctx)
    h.clock.advance(20)
    heartbeat_once(h.ctx)  # renewed until t+50
    h.clock.advance(20)
    assert heartbeat_once(other) == []
    h.clock.advance(11)
    assert heartbeat_once(other) == [job.id]
    succeed(h, job.id)
    poll_live(h.ctx)  # the old owner no longer follows it
    assert h.store.get(job.id).state is JobState.RUNNING
    poll_live(other)
    assert h.store.get(job.id).state is JobState.SUCCEEDED


async def test_a_clean_stop_hands_the_jobs_over_at_once(harness_factory: Any) -> None:
    h = harness_factory(poll_interval_s=3600, reconcile_interval_s=3600)
    job = h.submit()
    engine = Engine(h.ctx)
    runner = asyncio.create_task(engine.run())
    await until(lambda: h.store.get(job.id).state is JobState.RUNNING)
    engine.stop()
    await asyncio.wait_for(runner, 5)
    assert heartbeat_once(other_engine(h)) == [job.id]  # no wait for the lease


async def test_a_second_exclusive_engine_refuses_to_start(harness_factory: Any) -> None:
    h = harness_factory(lease_ttl_s=60)
    assert h.store.acquire_lease(EXCLUSIVE_LEASE, "elsewhere:1:x", 60, h.clock())
    with pytest.raises(SecondEngine, match="elsewhere"):
        await Engine(h.ctx, exclusive=True).run()
    h.clock.advance(61)  # the other one's lease lapsed: it is gone
    engine = Engine(h.ctx, exclusive=True)
    engine.stop()
    await asyncio.wait_for(engine.run(), 5)
    assert EXCLUSIVE_LEASE not in h.store.lease_holders()  # released on the way out


class RecordingWakeups(InProcessWakeups):
    def __init__(self) -> None:
        super().__init__()
        self.topics: list[str] = []

    def notify(self, topic: str) -> None:
        self.topics.append(topic)
        super().notify(topic)


def test_the_job_service_and_freed_slots_wake_the_engines(harness: Any) -> None:
    wakeups = RecordingWakeups()
    engine = Engine(harness.ctx, wakeups=wakeups)
    jobs = service_for(engine)
    job = jobs.submit(
        {"pipeline": "command", "params": {"command": "noop"}}, caller=OPERATOR_CALLER
    ).job
    assert wakeups.topics == ["admission", "outbox"]
    admit_once(harness.ctx)
    jobs.cancel(job.id, caller=OPERATOR_CALLER)
    assert wakeups.topics[-2:] == ["cancel", "outbox"]
    cancel_once(harness.ctx)
    assert harness.store.get(job.id).state is JobState.CANCELLED
    assert wakeups.topics[-1] == "admission"  # its slot is free: engines elsewhere may admit


async def test_a_stopping_engine_hands_over_only_once_its_steps_ended(harness_factory: Any) -> None:
    h = harness_factory(poll_interval_s=3600, reconcile_interval_s=3600)
    job = h.submit()
    admit_once(h.ctx)
    in_poll, release = threading.Event(), threading.Event()
    order: list[str] = []
    poll, hand_over = h.executor.poll, h.store.release_ownership

    def blocking_poll(handle: str) -> Any:
        in_poll.set()
        release.wait(10)
        order.append("poll ended")
        return poll(handle)

    def recording_hand_over(holder: str, *, now: Any) -> int:
        order.append("handed over")
        return hand_over(holder, now=now)

    h.executor.poll = blocking_poll
    h.store.release_ownership = recording_hand_over
    engine = Engine(h.ctx)
    runner = asyncio.create_task(engine.run())
    await asyncio.to_thread(in_poll.wait, 10)
    engine.stop()
    await until(lambda: not engine.supervisor.running)
    await asyncio.wait({runner}, timeout=0.5)
    assert not runner.done()  # a step still runs in its thread: no hand-over yet
    release.set()
    await asyncio.wait_for(runner, 5)
    assert order == ["poll ended", "handed over"]
    assert h.store.get(job.id).state is JobState.RUNNING
