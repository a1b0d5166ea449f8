"""What the pages show of a job, as plain values (pure: no I/O, the time is given)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vatti.domain.jobs import Job

#: the order states are listed in (the lifecycle's)
STATE_ORDER = (
    "requested",
    "queued",
    "provisioning",
    "running",
    "cancelling",
    "succeeded",
    "failed",
    "cancelled",
)


def span(seconds: float) -> str:
    """A short human duration.

    >>> [span(s) for s in (0.4, 42, 61, 3600 * 5 + 120, 86400 * 3 + 7200)]
    ['0s', '42s', '1m 1s', '5h 2m', '3d 2h']
    """
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def duration_of(job: Job, now: datetime) -> float | None:
    """Seconds the job ran (so far, while it runs); None before it started."""
    if job.started_at is None:
        return None
    end = job.finished_at or now
    return (end - job.started_at).total_seconds()


def labels_of(job: Job) -> dict[str, str]:
    labels = job.spec.get("labels")
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def matches(job: Job, query: str) -> bool:
    """Whether a search finds ``job``: its id or client id (whole or a prefix), or a label
    (``key=value``, a key, or a value)."""
    q = query.strip()
    if not q:
        return True
    if job.id.startswith(q) or (job.client_id is not None and job.client_id.startswith(q)):
        return True
    labels = labels_of(job)
    key, eq, value = q.partition("=")
    if eq:
        return labels.get(key.strip()) == value.strip()
    return q in labels or q in labels.values()


@dataclass(frozen=True)
class JobRow:
    id: str
    client_id: str | None
    pipeline: str
    tenant: str
    state: str
    age: str
    created_at: str
    duration: str
    labels: dict[str, str]
    terminal: bool


def job_row(job: Job, now: datetime) -> JobRow:
    ran = duration_of(job, now)
    return JobRow(
        id=job.id,
        client_id=job.client_id,
        pipeline=job.pipeline,
        tenant=job.tenant,
        state=job.state.value,
        age=span((now - job.created_at).total_seconds()),
        created_at=job.created_at.isoformat(timespec="seconds"),
        duration=span(ran) if ran is not None else "not started",
        labels=labels_of(job),
        terminal=job.terminal,
    )


def failure_of(job: Job) -> dict[str, Any] | None:
    return job.failure.to_dict() if job.failure is not None else None
