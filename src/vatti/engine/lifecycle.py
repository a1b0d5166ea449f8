"""Apply an event to a job through the store, then perform the transition's effects.

Every state change goes through :func:`advance`: a compare-and-set in the store that writes the
event and outbox rows in one transaction. A concurrent writer (another replica, another loop)
that got there first is expected: the refused writer logs at debug level and moves on. The
effects run after the commit and are idempotent, so replaying them after a crash is safe.
"""

from __future__ import annotations

import logging
from typing import Any

from vatti.domain.errors import InvalidTransition
from vatti.domain.failure import Failure, FailureCode
from vatti.domain.jobs import Job
from vatti.domain.states import Effect, JobEvent, JobState
from vatti.engine.context import EngineContext
from vatti.engine.deadlines import limits_for
from vatti.engine.logs import log_event
from vatti.engine.ports import LOG_CHUNK_BYTES, Executor, Launch, Limits, LogChunk, Pending
from vatti.store.base import Changes, TransitionResult

#: the stable log event name of arriving in each state
STATE_EVENTS: dict[JobState, str] = {
    JobState.QUEUED: "job.queued",
    JobState.PROVISIONING: "job.admitted",
    JobState.RUNNING: "job.started",
    JobState.SUCCEEDED: "job.succeeded",
    JobState.FAILED: "job.failed",
    JobState.CANCELLING: "job.cancelling",
    JobState.CANCELLED: "job.cancelled",
}


def advance(
    ctx: EngineContext,
    job_id: str,
    event: JobEvent,
    changes: Changes | None = None,
    *,
    perform: bool = True,
) -> TransitionResult | None:
    """Apply ``event``; None when another writer moved the job first. Effects run if ``perform``."""
    with ctx.ordering(job_id):
        try:
            result = ctx.store.transition(
                job_id, event, now=ctx.now(), changes=changes, notify=ctx.notify
            )
        except InvalidTransition as exc:
            log_event(
                ctx.logger,
                "job.transition_refused",
                job_id=job_id,
                level=logging.DEBUG,
                event=event.value,
                reason=str(exc),
            )
            return None
        job = result.job
        _log_change(ctx, result)
        # a terminal state is announced once its cleanup is done, so whoever waits for it
        # (``vatti run``, tests) finds the work area gone; others at once, under the job's
        # ordering lock, so a change made next (by another thread) is announced after this one
        if not job.terminal:
            _announce(ctx, job)
    if perform:
        perform_effects(ctx, result)
    if job.terminal:
        _announce(ctx, job)
    return result


def _log_change(ctx: EngineContext, result: TransitionResult) -> None:
    job = result.job
    fields: dict[str, Any] = {"from_state": result.record.from_state, "attempt": job.attempt}
    level = logging.INFO
    if job.failure is not None and job.terminal:
        fields.update(code=job.failure.code, reason=job.failure.message, step=job.failure.step)
        fields["exit_code"] = job.failure.exit_code
        level = logging.WARNING
    log_event(ctx.logger, STATE_EVENTS[job.state], job_id=job.id, level=level, **fields)


def _announce(ctx: EngineContext, job: Job) -> None:
    for listener in ctx.listeners:
        listener(job)


def perform_effects(ctx: EngineContext, result: TransitionResult) -> None:
    job, effects = result.job, result.effects
    if Effect.PROVISION in effects or Effect.SUBMIT in effects:
        launch(ctx, job)
    if Effect.TERMINATE in effects and job.terminal:
        # a job entering ``cancelling`` is terminated by the reconcile loop, not here
        terminate(ctx, job)
    # results first: a work area left by a crash in between then still marks unfinished cleanup
    if Effect.DELETE_RESULTS in effects:
        delete_results(ctx, job)
    if Effect.CLEANUP_WORK in effects:
        cleanup_work(ctx, job)


def runtime_spec(job: Job) -> dict[str, Any]:
    """What ``vatti job-run`` reads from ``work/spec.json``."""
    return {
        "job_id": job.id,
        "pipeline": job.pipeline,
        "params": job.spec.get("params", {}),
        "resources": job.spec.get("resources", {}),
    }


def launch_of(ctx: EngineContext, job: Job) -> Launch:
    """What the executor gets for one attempt of ``job``: its limits, the runtime's settings."""
    memory_mb, wall_time_s = limits_for(
        job, ctx.config.default_memory_mb, ctx.config.default_wall_time_s
    )
    return Launch(
        job_id=job.id,
        attempt=job.attempt,
        limits=Limits(memory_mb=memory_mb, wall_time_s=wall_time_s),
        env=dict(ctx.config.runtime_env),
        secrets=dict(ctx.config.runtime_secrets),
        pipeline=job.pipeline,
    )


def launch(ctx: EngineContext, job: Job) -> None:
    """Provision the work area and submit the job; ``start`` it once the executor runs it.

    A job the executor accepted but has not started yet (``Pending``: queued on a cluster)
    stays ``provisioning``; the reconcile loop starts it when the executor reports it running.
    """
    try:
        ctx.areas.provision(job.id, runtime_spec(job))
        handle = ctx.executor.submit(launch_of(ctx, job))
    except Exception as exc:  # any provisioning problem fails this job, not the engine
        log_event(
            ctx.logger,
            "job.provision_failed",
            job_id=job.id,
            level=logging.ERROR,
            exc_info=True,
            executor=ctx.executor.name,
        )
        failure = Failure(
            FailureCode.PROVISION_FAILED,
            f"could not start the job on executor {ctx.executor.name!r}: "
            f"{type(exc).__name__}: {exc}",
        )
        start_failed(ctx, job.id, failure)
        return
    job = ctx.store.set_handle(job.id, ctx.executor.name, handle, now=ctx.now())
    log_event(ctx.logger, "job.submitted", job_id=job.id, executor=ctx.executor.name)
    try:
        status = ctx.executor.poll(handle)
    except Exception:  # the poll loop follows the job (and reports its executor's trouble)
        return
    if not isinstance(status, Pending):
        mark_started(ctx, job, handle)


def start_failed(ctx: EngineContext, job_id: str, failure: Failure) -> None:
    """The job could not be started: it fails, unless a cancel came first. Then it ends
    ``cancelled`` (what was asked first) and the start failure is on its ``cancelled`` event
    (``detail.start_failure``), not the job's failure."""
    if ctx.store.get(job_id).state is JobState.CANCELLING:
        detail = {"start_failure": failure.to_dict()}
        if advance(ctx, job_id, JobEvent.CANCELLED, Changes(detail=detail)) is not None:
            return
    advance(ctx, job_id, JobEvent.FAIL, Changes(failure=failure))


def mark_started(ctx: EngineContext, job: Job, handle: str) -> Job | None:
    """Record the start of a job its executor reports running (or ended); None if it moved."""
    started = advance(
        ctx, job.id, JobEvent.START, Changes(executor=ctx.executor.name, handle=handle)
    )
    if started is None:
        # cancelled (or failed) while we were starting it: make sure its process does not linger
        current = ctx.store.get(job.id)
        if current.terminal:
            terminate(ctx, current)
            cleanup_work(ctx, current)
        return None
    return started.job


def terminate(ctx: EngineContext, job: Job) -> None:
    if job.executor_handle is None:
        return
    ctx.executor.terminate(job.executor_handle, ctx.config.terminate_grace_s)
    log_event(ctx.logger, "job.terminated", job_id=job.id)


def cleanup_work(ctx: EngineContext, job: Job) -> None:
    """Save the job's log to its area, then delete its clear-text leftovers: ``work/``, the
    outcome record, and (the executor's cleanup) its scratch."""
    if job.executor_handle is not None:
        save_log(ctx, job, job.executor_handle)
    ctx.areas.delete_work(job.id)
    ctx.outcomes.forget(job.id)
    if job.executor_handle is not None:
        ctx.executor.cleanup(job.executor_handle)
    log_event(ctx.logger, "job.work_cleaned", job_id=job.id)


def read_whole_log(executor: Executor, handle: str) -> bytes | None:
    """The job's whole log through the executor's log port (None when it has none)."""
    chunk = executor.read_log(handle, 0, LOG_CHUNK_BYTES)
    if chunk is None:
        return None
    parts = [chunk.data]
    while chunk.data:
        chunk = executor.read_log(handle, chunk.next_offset, LOG_CHUNK_BYTES) or LogChunk(b"", 0)
        parts.append(chunk.data)
    return b"".join(parts)


def save_log(ctx: EngineContext, job: Job, handle: str) -> None:
    """Copy the job's log from the executor to the job's area (a failure is logged, not fatal)."""
    try:
        data = read_whole_log(ctx.executor, handle)
        if data is not None:
            ctx.areas.save_log(job.id, data)
    except Exception:  # the log is worth keeping, not worth leaving clear text behind for
        log_event(
            ctx.logger, "job.log_not_saved", job_id=job.id, level=logging.WARNING, exc_info=True
        )


def delete_results(ctx: EngineContext, job: Job) -> None:
    ctx.areas.delete_results(job.id)
    log_event(ctx.logger, "job.results_deleted", job_id=job.id)
