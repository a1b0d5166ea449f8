"""What the engine needs from its collaborators, as small protocols.

The executors (:mod:`vatti.executors`), work areas (:mod:`vatti.staging`) and notifiers
(:mod:`vatti.notify`) satisfy these structurally; the engine depends on nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from vatti.domain.jobs import OutboxMessage
from vatti.executors.base import (
    LOG_CHUNK_BYTES,
    WALL_TIME,
    ExecStatus,
    Executor,
    Exited,
    Launch,
    Limits,
    LogChunk,
    Pending,
    ReportsExits,
    Running,
    Vanished,
)

# The executor protocol and its status types live with the executors; the engine uses those.
__all__ = [
    "LOG_CHUNK_BYTES",
    "WALL_TIME",
    "ExecStatus",
    "Executor",
    "Exited",
    "GiveUp",
    "Intake",
    "Launch",
    "Limits",
    "LogChunk",
    "Notifier",
    "Pending",
    "ReportsExits",
    "Retry",
    "RetryPolicy",
    "Running",
    "Vanished",
    "WorkAreas",
]


class WorkAreas(Protocol):
    def provision(self, job_id: str, spec: Mapping[str, object]) -> None: ...

    def delete_work(self, job_id: str) -> None: ...

    def delete_results(self, job_id: str) -> None: ...

    def work_job_ids(self) -> Iterable[str]:
        """The ids of the jobs that still have a ``work/`` area."""
        ...

    def results_job_ids(self) -> Iterable[str]:
        """The ids of the jobs that still have a results area (in the results store)."""
        ...

    def save_log(self, job_id: str, data: bytes) -> None:
        """Keep the job's final log in its area (read back by ``GET /jobs/{id}/logs``)."""
        ...

    def logged_job_ids(self) -> Iterable[str]:
        """The ids of the jobs with a saved log."""
        ...

    def delete_log(self, job_id: str) -> None: ...


class Intake(Protocol):
    """A source of job requests the engine reads in its ``intake`` loop (the Kafka consumer)."""

    def attach(self) -> None:
        """Bind to the engine's running event loop, before any loop runs."""
        ...

    async def step(self) -> None: ...

    async def close(self) -> None: ...


class Notifier(Protocol):
    def deliver(self, message: OutboxMessage) -> None: ...


@dataclass(frozen=True)
class Retry:
    delay_s: float


@dataclass(frozen=True)
class GiveUp:
    reason: str = "retries exhausted"


class RetryPolicy(Protocol):
    def decide(self, attempt: int) -> Retry | GiveUp: ...
