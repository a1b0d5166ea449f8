"""The records of the job store, as frozen dataclasses. All times are timezone-aware UTC."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vatti.domain.access import DEFAULT_TENANT
from vatti.domain.failure import Failure
from vatti.domain.states import JobEvent, JobState, is_terminal


@dataclass(frozen=True)
class Job:
    """One job. ``spec`` is the validated request without secrets."""

    id: str
    client_id: str | None
    fingerprint: str
    pipeline: str
    spec: dict[str, Any]
    state: JobState
    created_at: datetime
    updated_at: datetime
    queued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempt: int = 0
    executor: str | None = None
    executor_handle: str | None = None
    failure: Failure | None = None
    webhook_url: str | None = None
    results_expire_at: datetime | None = None
    results_deleted_at: datetime | None = None
    #: the backend the job belongs to (see :mod:`vatti.domain.access`)
    tenant: str = DEFAULT_TENANT

    @property
    def terminal(self) -> bool:
        return is_terminal(self.state)


@dataclass(frozen=True)
class JobEventRecord:
    """One row of a job's append-only audit trail; ``seq`` counts from 1 per job.

    ``from_state`` is ``None`` only for the ``submit`` event that creates the job. ``actor``
    says who caused it (:mod:`vatti.domain.access`); None on rows written before it was kept.
    """

    id: str
    job_id: str
    seq: int
    from_state: JobState | None
    to_state: JobState
    event: JobEvent
    at: datetime
    detail: dict[str, Any] = field(default_factory=dict)
    actor: str | None = None


@dataclass(frozen=True)
class OutboxMessage:
    """A notification to deliver, at least once, in order per job and destination."""

    id: int
    job_id: str
    event_id: str
    channel: str
    destination: str
    payload: dict[str, Any]
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None = None
    dead_at: datetime | None = None
    last_error: str | None = None


def event_attempts(records: list[JobEventRecord]) -> list[int]:
    """The attempt each event (oldest first) belongs to: 1, and one more after each ``retry``.

    >>> from datetime import UTC, datetime
    >>> t = datetime(2025, 1, 1, tzinfo=UTC)
    >>> def ev(event: JobEvent) -> JobEventRecord:
    ...     return JobEventRecord("e", "j", 1, None, JobState.QUEUED, event, t)
    >>> events = [JobEvent.SUBMIT, JobEvent.FAIL, JobEvent.RETRY, JobEvent.ADMIT]
    >>> event_attempts([ev(e) for e in events])
    [1, 1, 2, 2]
    """
    attempt, out = 1, []
    for record in records:
        if record.event is JobEvent.RETRY:
            attempt += 1
        out.append(attempt)
    return out
