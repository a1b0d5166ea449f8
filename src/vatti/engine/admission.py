"""Admission: start queued jobs, oldest first, while fewer than the limit are active.

One replica admits at a time (the ``engine.admission`` lease), so the count it reads cannot be
raced by another replica; each admission is still a compare-and-set.
"""

from __future__ import annotations

from vatti.domain.states import JobEvent, JobState
from vatti.engine.context import EngineContext
from vatti.engine.lifecycle import advance

ACTIVE_STATES = (JobState.PROVISIONING, JobState.RUNNING, JobState.CANCELLING)
ADMISSION_LEASE = "engine.admission"


def free_slots(active: int, limit: int) -> int:
    """How many more jobs may start.

    >>> free_slots(1, 2), free_slots(3, 2)
    (1, 0)
    """
    return max(0, limit - active)


def admit_once(ctx: EngineContext) -> int:
    """Admit and launch as many queued jobs as the limit allows; returns how many."""
    store, holder = ctx.store, ctx.config.holder
    if not store.acquire_lease(ADMISSION_LEASE, holder, ctx.config.lease_ttl_s, ctx.now()):
        return 0
    try:
        slots = free_slots(store.count_in_states(ACTIVE_STATES), ctx.config.max_concurrent_jobs)
        admitted = 0
        if slots == 0:
            return 0
        for job in store.next_queued(slots):
            if advance(ctx, job.id, JobEvent.ADMIT) is not None:
                admitted += 1
        return admitted
    finally:
        store.release_lease(ADMISSION_LEASE, holder)
