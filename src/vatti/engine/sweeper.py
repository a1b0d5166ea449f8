"""Sweep what outlived its job: expired results and logs, orphaned work areas and scratch dirs.

A job's log (its copy saved in the work store, and the run record of executors that keep them,
e.g. the local one) is deleted when the job's retention ends: ``VATTI_RESULTS_TTL`` after it
finished, whatever its end, or at once when the database knows no such job.

A ``work/`` area or scratch dir is orphaned when its job is unknown or finished (a crash between
a terminal transition and its cleanup leaves one behind; the engine deletes a failed job's
results before its work area, so a leftover work area also marks results still to delete).
A results area (in the results store, wherever that is) is orphaned when its job is unknown,
failed or cancelled, or its results were already recorded as expired. A running job's areas
are never touched. One replica sweeps at a time (the ``engine.sweeper`` lease).
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta

from vatti.domain.states import JobState
from vatti.engine.context import EngineContext
from vatti.engine.lifecycle import cleanup_work
from vatti.engine.logs import log_event
from vatti.executors.base import KeepsRunRecords
from vatti.store.errors import JobNotFound

SWEEPER_LEASE = "engine.sweeper"


def sweep_once(ctx: EngineContext) -> int:
    """One sweep; returns how many things were removed."""
    store, holder = ctx.store, ctx.config.holder
    if not store.acquire_lease(SWEEPER_LEASE, holder, ctx.config.lease_ttl_s, ctx.now()):
        return 0
    try:
        return (
            expire_results(ctx)
            + remove_orphans(ctx)
            + remove_orphaned_results(ctx)
            + expire_run_records(ctx)
            + expire_saved_logs(ctx)
        )
    finally:
        store.release_lease(SWEEPER_LEASE, holder)


def expire_results(ctx: EngineContext) -> int:
    removed = 0
    for job in ctx.store.expired_results(ctx.now()):
        ctx.areas.delete_results(job.id)
        ctx.store.mark_results_deleted(job.id, now=ctx.now())
        log_event(ctx.logger, "job.results_expired", job_id=job.id)
        removed += 1
    ctx.store.prune_dedup(ctx.now())
    return removed


def remove_orphans(ctx: EngineContext) -> int:
    candidates = set(ctx.areas.work_job_ids())
    if ctx.scratch_root is not None and ctx.scratch_root.is_dir():
        candidates.update(p.name for p in ctx.scratch_root.iterdir() if p.is_dir())
    removed = 0
    for job_id in sorted(candidates):
        try:
            job = ctx.store.get(job_id)
        except JobNotFound:
            ctx.areas.delete_work(job_id)
            ctx.areas.delete_results(job_id)
            ctx.outcomes.forget(job_id)
            scratch = ctx.scratch_dir(job_id)
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
            log_event(ctx.logger, "sweeper.unknown_job_removed", job_id=job_id)
            removed += 1
            continue
        if not job.terminal:
            continue
        cleanup_work(ctx, job)
        if job.state in (JobState.FAILED, JobState.CANCELLED):
            ctx.areas.delete_results(job_id)
        removed += 1
    return removed


def remove_orphaned_results(ctx: EngineContext) -> int:
    """Delete results areas that no job keeps: of unknown, failed or cancelled jobs, or whose
    expiry was recorded (e.g. a store that missed the delete)."""
    removed = 0
    for job_id in ctx.areas.results_job_ids():
        try:
            job = ctx.store.get(job_id)
        except JobNotFound:
            job = None
        if job is not None:
            dropped = job.state in (JobState.FAILED, JobState.CANCELLED)
            if not (dropped or job.results_deleted_at is not None):
                continue
        ctx.areas.delete_results(job_id)
        log_event(ctx.logger, "sweeper.results_removed", job_id=job_id, known=job is not None)
        removed += 1
    return removed


def _log_expired(ctx: EngineContext, job_id: str, cutoff: datetime) -> tuple[bool, bool]:
    """Whether the log of ``job_id`` is past its retention, and whether the job is known."""
    try:
        job = ctx.store.get(job_id)
    except JobNotFound:
        return True, False
    ended = job.finished_at or job.updated_at
    return job.terminal and ended <= cutoff, True


def expire_run_records(ctx: EngineContext) -> int:
    """Delete the executor's records (logs) of jobs finished longer ago than the results TTL."""
    executor = ctx.executor
    if not isinstance(executor, KeepsRunRecords):
        return 0
    cutoff = ctx.now() - timedelta(seconds=ctx.config.results_ttl_s)
    removed = 0
    for job_id in executor.run_ids():
        expired, known = _log_expired(ctx, job_id, cutoff)
        if expired:
            executor.delete_run(job_id)
            log_event(ctx.logger, "job.log_expired", job_id=job_id, known=known)
            removed += 1
    return removed


def expire_saved_logs(ctx: EngineContext) -> int:
    """Delete the logs saved in the work store of jobs finished longer ago than the TTL."""
    cutoff = ctx.now() - timedelta(seconds=ctx.config.results_ttl_s)
    removed = 0
    for job_id in ctx.areas.logged_job_ids():
        expired, known = _log_expired(ctx, job_id, cutoff)
        if expired:
            ctx.areas.delete_log(job_id)
            log_event(ctx.logger, "job.saved_log_expired", job_id=job_id, known=known)
            removed += 1
    return removed
