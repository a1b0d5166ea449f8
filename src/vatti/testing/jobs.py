"""A job service over an engine of this process, as tests (and ``vatti run``) assemble it."""

from __future__ import annotations

from collections.abc import Iterator

from vatti.domain.jobs import Job
from vatti.domain.manifest import Manifest
from vatti.engine.service import Engine
from vatti.pipelines.base import PipelineRegistry, default_registry
from vatti.service.jobs import JobService, NudgeWakeups
from vatti.staging.errors import ObjectNotFound


class NoResults:
    """Results of a service whose jobs leave none."""

    def manifest(self, job_id: str) -> Manifest:
        raise ObjectNotFound(f"job {job_id} has no results")

    def open_output(self, job_id: str, name: str) -> Iterator[bytes]:
        raise ObjectNotFound(f"job {job_id} has no output {name!r}")


class NoLogs:
    def read_log(self, job: Job, max_bytes: int) -> bytes | None:
        del job, max_bytes
        return None


def service_for(
    engine: Engine,
    *,
    registry: PipelineRegistry | None = None,
    dedup_window_s: float = 0.0,
) -> JobService:
    """The job service over ``engine``'s store, waking its loops; no results, no logs."""
    ctx = engine.ctx
    return JobService(
        store=ctx.store,
        registry=registry or default_registry(),
        results=NoResults(),
        logs=NoLogs(),
        wakeups=NudgeWakeups(engine.nudge),
        notify=ctx.notify,
        dedup_window_s=dedup_window_s,
        clock=ctx.clock,
    )
