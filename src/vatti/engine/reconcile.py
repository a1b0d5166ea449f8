"""Reconcile every non-terminal job this engine owns with its executor (at start-up, each poll).

An engine follows only the jobs it owns (and those nobody owns); it takes over those of an engine
whose lease expired first (:mod:`vatti.engine.ownership`).

- ``provisioning`` with a handle: ``start`` it once the executor reports it running (or ended);
  still ``Pending`` past the provision timeout → ``fail``. Without a handle past the provision
  timeout: the admitter died; fail it.
- ``running``: Exited(0) + a success outcome → ``succeed`` (results expire after the TTL; the
  event's detail holds the outputs and the outcome's warnings, which notifications carry);
  Exited(n) → ``fail`` with the outcome's failure, or a generic one (``timeout`` when the
  executor's own wall-time limit stopped it); Vanished → ``fail`` ("vanished").
- ``cancelling``: terminate the process group, then ``cancelled`` (:func:`cancel_once`). A
  termination may wait the whole grace period, so the engine runs it in a loop of its own, for
  all cancelling jobs at once: the poll of the other jobs never waits for it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from vatti.domain.failure import Failure, FailureCode
from vatti.domain.jobs import Job
from vatti.domain.states import JobEvent, JobState
from vatti.engine.context import EngineContext
from vatti.engine.deadlines import pending_expired, provision_expired
from vatti.engine.lifecycle import advance, mark_started, terminate
from vatti.engine.ports import WALL_TIME, Exited, Pending, Vanished
from vatti.engine.timeouts import fail_timed_out, wall_time_of
from vatti.store.base import Changes

POLLED_STATES = (JobState.PROVISIONING, JobState.RUNNING)


#: Cancelled jobs terminated at once, at most.
MAX_PARALLEL_TERMINATIONS = 8


def poll_live(ctx: EngineContext) -> None:
    """Reconcile the provisioning and running jobs (not the cancelling ones)."""
    for job in ctx.store.jobs_in_states(POLLED_STATES, owner=ctx.config.holder):
        reconcile_job(ctx, job)


def cancel_once(ctx: EngineContext) -> int:
    """Terminate every cancelling job (in parallel), then mark it ``cancelled``; how many."""
    jobs = ctx.store.jobs_in_states((JobState.CANCELLING,), owner=ctx.config.holder)
    if not jobs:
        return 0
    workers = min(len(jobs), MAX_PARALLEL_TERMINATIONS)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vatti-cancel") as pool:
        list(pool.map(lambda job: cancel_job(ctx, job), jobs))
    return len(jobs)


def cancel_job(ctx: EngineContext, job: Job) -> None:
    terminate(ctx, job)
    advance(ctx, job.id, JobEvent.CANCELLED)


def reconcile_job(ctx: EngineContext, job: Job) -> None:
    """Follow one provisioning or running job (cancelling ones are :func:`cancel_job`'s)."""
    handle = job.executor_handle
    if handle is None:
        if job.state is JobState.RUNNING or provision_expired(
            job, ctx.now(), ctx.config.provision_timeout_s
        ):
            failure = Failure(
                FailureCode.PROVISION_FAILED,
                "job was never handed to an executor (the engine stopped while starting it?)",
            )
            advance(ctx, job.id, JobEvent.FAIL, Changes(failure=failure))
        return
    status = ctx.executor.poll(handle)
    if job.state is JobState.PROVISIONING:
        if isinstance(status, Pending):
            if pending_expired(job, ctx.now(), ctx.config.provision_timeout_s):
                fail_never_started(ctx, job)
            return
        if isinstance(status, Vanished):
            failure = Failure(FailureCode.VANISHED, f"{status.reason} (it never started)")
            advance(ctx, job.id, JobEvent.FAIL, Changes(failure=failure))
            return
        started = mark_started(ctx, job, handle)
        if started is None:
            return
        job = started
    if isinstance(status, Exited):
        finish(ctx, job, status)
    elif isinstance(status, Vanished):
        failure = Failure(FailureCode.VANISHED, f"{status.reason} (server restarted?)")
        advance(ctx, job.id, JobEvent.FAIL, Changes(failure=failure))


def fail_never_started(ctx: EngineContext, job: Job) -> None:
    """The executor kept the job pending past the provision timeout: give up on it."""
    timeout = ctx.config.provision_timeout_s
    failure = Failure(
        FailureCode.PROVISION_FAILED,
        f"executor {ctx.executor.name!r} did not start the job within {timeout:g} s",
    )
    # the ``fail`` effects terminate the job on the executor (it may still start later)
    advance(ctx, job.id, JobEvent.FAIL, Changes(failure=failure))


def finish(ctx: EngineContext, job: Job, status: Exited) -> None:
    """The job's runtime exited: succeed or fail according to its outcome."""
    outcome = ctx.outcomes.read(job.id)
    if status.code == 0 and outcome is not None and outcome.ok:
        expire = ctx.now() + timedelta(seconds=ctx.config.results_ttl_s)
        detail: dict[str, Any] = {"outputs": list(outcome.outputs)}
        if outcome.warnings:
            detail["warnings"] = [w.to_dict() for w in outcome.warnings]
        if outcome.summary:
            detail["summary"] = dict(outcome.summary)
        advance(ctx, job.id, JobEvent.SUCCEED, Changes(results_expire_at=expire, detail=detail))
        return
    failure = outcome.failure if outcome is not None else None
    # the executor's own wall-time limit (vatti's deadline plus a margin) stopped it: that is
    # vatti's timeout, whatever the runtime managed to record while being stopped
    if status.limit == WALL_TIME:
        wall = wall_time_of(ctx, job)
        fail_timed_out(ctx, job, wall)
        return
    if failure is None:
        what = "without an outcome record" if outcome is None else "with an unusable outcome"
        reason = f": {status.reason}" if status.reason else ""
        failure = Failure(
            FailureCode.INTERNAL,
            f"job process exited with status {status.code} {what}{reason} (see the job log)",
            exit_code=status.code,
        )
    advance(ctx, job.id, JobEvent.FAIL, Changes(failure=failure))
