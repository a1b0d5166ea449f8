"""Enforce deadlines: queued too long → ``queue_timeout``; running too long → ``timeout``.

Wall time is one rule: a job's wall time counts from its start (when its executor first
reported it running, so time queued on a cluster does not count), and the engine enforces it
here. An executor's own limit, where it has one, is set to this deadline plus a margin; a job
it stops fails with ``timeout`` too (:func:`vatti.engine.reconcile.finish`).
"""

from __future__ import annotations

from vatti.domain.failure import Failure, FailureCode
from vatti.domain.jobs import Job
from vatti.domain.states import JobEvent, JobState
from vatti.engine.context import EngineContext
from vatti.engine.deadlines import limits_for, queue_expired, wall_expired
from vatti.engine.lifecycle import advance
from vatti.store.base import Changes


def wall_time_of(ctx: EngineContext, job: Job) -> int | None:
    return limits_for(job, ctx.config.default_memory_mb, ctx.config.default_wall_time_s)[1]


def fail_timed_out(ctx: EngineContext, job: Job, wall_time_s: int | None) -> None:
    """Fail ``job`` for exceeding its wall time (the ``fail`` effects terminate its process)."""
    limit = f" of {wall_time_s} s" if wall_time_s is not None else ""
    failure = Failure(FailureCode.TIMEOUT, f"job exceeded its wall time{limit} and was stopped")
    advance(ctx, job.id, JobEvent.FAIL, Changes(failure=failure))


def enforce_timeouts(ctx: EngineContext) -> int:
    """One pass over queued and running jobs; returns how many were failed."""
    now, failed = ctx.now(), 0
    timeout = ctx.config.queue_timeout_s
    if timeout is not None:
        for job in ctx.store.jobs_in_states([JobState.QUEUED]):
            if queue_expired(job, now, timeout):
                failure = Failure(
                    FailureCode.QUEUE_TIMEOUT,
                    f"job waited in the queue longer than {timeout:g} s without being started",
                )
                if advance(ctx, job.id, JobEvent.FAIL, Changes(failure=failure)) is not None:
                    failed += 1
    for job in ctx.store.jobs_in_states([JobState.RUNNING], owner=ctx.config.holder):
        wall = wall_time_of(ctx, job)
        if wall is not None and wall_expired(job, now, wall):
            fail_timed_out(ctx, job, wall)
            failed += 1
    return failed
