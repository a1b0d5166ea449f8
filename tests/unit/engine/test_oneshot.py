from __future__ import annotations

import asyncio
from typing import Any

import pytest

from vatti.domain.failure import Failure
from vatti.domain.jobs import Job
from vatti.domain.outcome import Outcome
from vatti.domain.states import JobEvent, JobState
from vatti.engine.errors import LoopCrashed
from vatti.engine.oneshot import follow_new_job
from vatti.engine.ports import Exited
from vatti.engine.service import Engine
from vatti.executors.base import Launch
from vatti.store.base import NewJob
from vatti.testing.jobs import service_for

pytestmark = pytest.mark.unit

NEW = NewJob(pipeline="command", spec={"params": {"command": "noop"}}, fingerprint="f" * 64)


async def follow(engine: Engine, on_change: Any) -> Job:
    return await follow_new_job(engine, lambda: service_for(engine).submit_new(NEW).job, on_change)


def finishing(h: Any, failure: Failure | None = None) -> None:
    """Make every submitted job exit at once, with an outcome."""
    submit = h.executor.submit

    def submit_and_exit(launch: Launch) -> str:
        handle: str = submit(launch)
        h.executor.status[handle] = Exited(0 if failure is None else 1)
        h.outcomes.records[launch.job_id] = Outcome(h.clock(), ["out.txt"], failure)
        return handle

    h.executor.submit = submit_and_exit


async def test_follows_a_job_to_success_without_waiting_for_intervals(
    harness_factory: Any,
) -> None:
    # hour-long intervals: only the engine's own nudges can drive the job
    h = harness_factory(poll_interval_s=3600, reconcile_interval_s=3600)
    finishing(h)
    seen: list[JobState] = []

    def on_change(job: Job) -> None:
        seen.append(job.state)

    done = await follow(Engine(h.ctx), on_change)
    assert done.state is JobState.SUCCEEDED
    assert seen == [JobState.QUEUED, JobState.PROVISIONING, JobState.RUNNING, JobState.SUCCEEDED]


async def test_follows_a_failing_job(harness_factory: Any) -> None:
    h = harness_factory(poll_interval_s=3600, reconcile_interval_s=3600)
    failure = Failure("pipeline_failed", "exit 3", "command", 3)
    finishing(h, failure)
    done = await follow(Engine(h.ctx), lambda _job: None)
    assert done.state is JobState.FAILED
    assert done.failure == failure


async def test_a_crashing_loop_ends_the_follow_with_an_error(harness_factory: Any) -> None:
    h = harness_factory(poll_interval_s=3600, reconcile_interval_s=3600)

    def broken_poll(handle: str) -> Any:
        raise RuntimeError("executor bug")

    h.executor.poll = broken_poll
    with pytest.raises(LoopCrashed, match="poll"):
        await follow(Engine(h.ctx), lambda _job: None)


async def test_follows_changes_made_elsewhere_through_the_store(harness_factory: Any) -> None:
    """Another engine may take the job (PostgreSQL): its changes reach no listener here, so the
    follower reads the job from the store when nothing arrived for a while."""
    h = harness_factory(poll_interval_s=3600, reconcile_interval_s=3600)
    engine = Engine(h.ctx)

    def submitted_then_cancelled_elsewhere() -> Job:
        job = service_for(engine).submit_new(NEW).job
        h.store.transition(job.id, JobEvent.CANCEL, now=h.clock())  # no listener of ours sees it
        return job

    seen: list[JobState] = []
    done = await asyncio.wait_for(
        follow_new_job(
            engine,
            submitted_then_cancelled_elsewhere,
            lambda j: seen.append(j.state),
            refresh_s=0.05,
        ),
        timeout=10,
    )
    assert done.state is JobState.CANCELLED
    assert seen == [JobState.QUEUED, JobState.CANCELLED]
