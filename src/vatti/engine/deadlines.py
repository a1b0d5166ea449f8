"""Deadlines of a job, as pure functions of the job, the time and the configured limits."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from vatti.domain.jobs import Job
from vatti.domain.requests import Resources
from vatti.domain.states import JobState


def job_resources(spec: dict[str, Any]) -> Resources:
    """The ``resources`` of a job spec; an absent or unreadable entry means the defaults.

    >>> job_resources({"resources": {"wall_time_s": 60}}).wall_time_s
    60
    >>> job_resources({}).memory_mb is None
    True
    """
    raw = spec.get("resources")
    if not isinstance(raw, dict):
        return Resources()
    try:
        return Resources.model_validate(raw)
    except ValidationError:
        return Resources()


def limits_for(
    job: Job, default_memory_mb: int | None, default_wall_time_s: int | None
) -> tuple[int | None, int | None]:
    """``(memory_mb, wall_time_s)`` for ``job``: the service's limits, which its request may
    lower but not raise (``None``: no limit).

    >>> from vatti.domain.jobs import Job
    >>> from vatti.domain.states import JobState
    >>> from datetime import UTC, datetime
    >>> t = datetime(2025, 1, 1, tzinfo=UTC)
    >>> spec = {"resources": {"memory_mb": 2000}}
    >>> job = Job("j", None, "fp", "command", spec, JobState.QUEUED, t, t)
    >>> limits_for(job, 512, None), limits_for(job, 4096, 60), limits_for(job, None, None)
    ((512, None), (2000, 60), (2000, None))
    """
    res = job_resources(job.spec)
    return _lower(res.memory_mb, default_memory_mb), _lower(res.wall_time_s, default_wall_time_s)


def _lower(asked: int | None, limit: int | None) -> int | None:
    if limit is None:
        return asked
    if asked is None:
        return limit
    return min(asked, limit)


def queue_expired(job: Job, now: datetime, queue_timeout_s: float | None) -> bool:
    """A queued job waited longer than the queue timeout (``None``: no timeout)."""
    if job.state is not JobState.QUEUED or queue_timeout_s is None:
        return False
    since = job.queued_at or job.created_at
    return now >= since + timedelta(seconds=queue_timeout_s)


def wall_expired(job: Job, now: datetime, wall_time_s: float | None) -> bool:
    """A running job ran longer than its wall time (``None``: no limit)."""
    if job.state is not JobState.RUNNING or wall_time_s is None or job.started_at is None:
        return False
    return now >= job.started_at + timedelta(seconds=wall_time_s)


def provision_expired(job: Job, now: datetime, provision_timeout_s: float) -> bool:
    """A job stuck in ``provisioning`` without an executor handle (the admitter died)."""
    if job.state is not JobState.PROVISIONING or job.executor_handle is not None:
        return False
    return now >= job.updated_at + timedelta(seconds=provision_timeout_s)


def pending_expired(job: Job, now: datetime, provision_timeout_s: float) -> bool:
    """A job its executor accepted but kept pending (not started) past the provision timeout."""
    if job.state is not JobState.PROVISIONING or job.executor_handle is None:
        return False
    return now >= job.updated_at + timedelta(seconds=provision_timeout_s)
