"""Throughput and failures over time: the jobs that ended, counted per hour (pure bucketing,
over the job service's list)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vatti.domain.access import Caller
from vatti.domain.jobs import Job
from vatti.domain.states import JobState
from vatti.service.jobs import JobService

HOURS = 24
#: the most ended jobs looked at (the list is newest first)
MAX_SCANNED = 5000
ENDED = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class Hour:
    #: hours before now this bucket starts (0: the last hour)
    ago: int
    succeeded: int
    failed: int
    cancelled: int

    @property
    def total(self) -> int:
        return self.succeeded + self.failed + self.cancelled


def finished_recently(
    service: JobService, caller: Caller, since: datetime
) -> tuple[list[Job], bool]:
    """The ended jobs ``caller`` sees that were created since ``since`` (a job ends after it is
    made, so none that ended since is missed unless it waited longer than the window), and
    whether the scan saw them all."""
    found: list[Job] = []
    cursor: str | None = None
    while len(found) < MAX_SCANNED:
        page = service.list_jobs(caller=caller, state=ENDED, limit=500, cursor=cursor)
        for job in page.items:
            if job.created_at < since:
                return found, True
            found.append(job)
        if page.next_cursor is None:
            return found, True
        cursor = page.next_cursor
    return found, False


def hourly(jobs: list[Job], now: datetime, hours: int = HOURS) -> list[Hour]:
    """Ended jobs per hour, the newest hour first (jobs ended before the window are left out).

    >>> from datetime import UTC, datetime, timedelta
    >>> from vatti.domain.jobs import Job
    >>> now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    >>> def job(state, ago_h):
    ...     at = now - timedelta(hours=ago_h)
    ...     return Job("i", None, "f", "pgs", {}, state, at, at, finished_at=at)
    >>> [(h.succeeded, h.failed) for h in hourly([job(JobState.SUCCEEDED, 0.5),
    ...     job(JobState.FAILED, 0.2), job(JobState.FAILED, 1.5), job(JobState.FAILED, 30)],
    ...     now, hours=2)]
    [(1, 1), (0, 1)]
    """
    counts = [[0, 0, 0] for _ in range(hours)]
    column = {JobState.SUCCEEDED: 0, JobState.FAILED: 1, JobState.CANCELLED: 2}
    for job in jobs:
        if job.finished_at is None or job.state not in column:
            continue
        ago = int((now - job.finished_at).total_seconds() // 3600)
        if 0 <= ago < hours:
            counts[ago][column[job.state]] += 1
    return [Hour(i, *c) for i, c in enumerate(counts)]
