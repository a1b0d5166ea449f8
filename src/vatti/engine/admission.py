"""Admission: start queued jobs, oldest first, while fewer than the limit are active.

The limit is global: ``VATTI_MAX_CONCURRENT_JOBS`` (or the executor's own limit when lower,
:class:`~vatti.executors.base.CapsJobs`) counts the active jobs of every engine sharing
the database. :meth:`~vatti.store.base.JobStore.claim_queued` counts and reserves in one step that
no other engine can interleave with (see :mod:`vatti.store.sql`), so the reserved jobs are this
engine's alone: it admits each with a compare-and-set and, from then on, owns it (its heartbeat
renews the lease in the job's row, see :mod:`vatti.engine.ownership`).
"""

from __future__ import annotations

from vatti.domain.states import JobEvent
from vatti.engine.context import EngineContext
from vatti.engine.lifecycle import advance
from vatti.executors.base import CapsJobs
from vatti.store.base import ACTIVE_STATES

__all__ = ["ACTIVE_STATES", "admit_once"]


def admit_once(ctx: EngineContext) -> int:
    """Admit and launch as many queued jobs as the limit allows; returns how many."""
    cfg = ctx.config
    claimed = ctx.store.claim_queued(
        cfg.holder, max_active=max_active(ctx), ttl_s=cfg.lease_ttl_s, now=ctx.now()
    )
    admitted = 0
    for job in claimed:
        if advance(ctx, job.id, JobEvent.ADMIT) is not None:
            admitted += 1
    return admitted


def max_active(ctx: EngineContext) -> int:
    """Jobs active at once: the global limit, or the executor's own when it is lower."""
    limit = ctx.config.max_concurrent_jobs
    cap = ctx.executor.max_jobs if isinstance(ctx.executor, CapsJobs) else None
    return min(limit, cap) if cap is not None else limit
