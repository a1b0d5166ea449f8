"""Which engine follows which job: per-job leases, renewed by a heartbeat, taken over when lapsed.

An engine owns the jobs it admitted (and those it took over). Its heartbeat renews the lease of
each (``VATTI_ENGINE_LEASE_TTL``); while a lease holds, no other engine touches the job's
process. When an engine stops cleanly it ends its leases at once; when it dies, its leases lapse
after the TTL — or at once for a replica of this host whose process is gone (a server restarted
after a SIGKILL need not wait) — and the next heartbeat of another engine takes its jobs over.
"""

from __future__ import annotations

from vatti.engine.context import EngineContext, holder_is_dead_here
from vatti.engine.logs import log_event

#: heartbeats per lease TTL: a lease survives two missed beats
BEATS_PER_TTL = 3


def heartbeat_interval(lease_ttl_s: float) -> float:
    """How often an engine renews its leases.

    >>> heartbeat_interval(30.0), heartbeat_interval(1.5)
    (10.0, 0.5)
    """
    return lease_ttl_s / BEATS_PER_TTL


def heartbeat_once(ctx: EngineContext) -> list[str]:
    """Renew this engine's job leases; take over lapsed ones. Returns the ids taken over."""
    cfg, store, now = ctx.config, ctx.store, ctx.now()
    store.renew_ownership(cfg.holder, ttl_s=cfg.lease_ttl_s, now=now)
    dead = sorted(o for o in store.job_owners() if o != cfg.holder and holder_is_dead_here(o))
    taken = store.adopt_jobs(cfg.holder, ttl_s=cfg.lease_ttl_s, now=now, dead_owners=dead)
    for job_id in taken:
        log_event(ctx.logger, "job.taken_over", job_id=job_id, owner=cfg.holder)
    return taken


def hand_over(ctx: EngineContext) -> int:
    """End this engine's job leases now (a clean stop); returns how many."""
    return ctx.store.release_ownership(ctx.config.holder, now=ctx.now())
