"""The executor protocol: start a job's process somewhere, watch it, stop it, clean up after it.

A *handle* is an opaque JSON string chosen by the executor at submit time. The engine stores it
with the job, so an executor must be able to poll, terminate and clean up a job from its handle
alone, in a new process after a restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Limits:
    """Resource limits of one job; ``None`` means unlimited."""

    memory_mb: int | None = None
    wall_time_s: int | None = None


@dataclass(frozen=True)
class Running:
    """The job's process is still running."""


@dataclass(frozen=True)
class Exited:
    """The job's process exited with ``code`` (128 + N when killed by signal N)."""

    code: int
    reason: str | None = None


@dataclass(frozen=True)
class Vanished:
    """The job's process is gone and left no exit status behind."""

    reason: str


ExecStatus = Running | Exited | Vanished


class Executor(Protocol):
    """Runs one process (tree) per job."""

    name: str

    def submit(
        self, job_id: str, argv: Sequence[str], env: Mapping[str, str], limits: Limits
    ) -> str:
        """Start ``argv`` for ``job_id``; return a JSON handle that survives a restart."""
        ...

    def poll(self, handle: str) -> ExecStatus:
        """The job's status now; never blocks for long."""
        ...

    def terminate(self, handle: str, grace_s: float) -> None:
        """Stop the job: ask politely, wait up to ``grace_s`` seconds, then force. Idempotent."""
        ...

    def cleanup(self, handle: str) -> None:
        """Forget the job's executor-side state (never its log). Idempotent."""
        ...


@runtime_checkable
class KeepsRunRecords(Protocol):
    """An executor that keeps per-job records of its own (the job's log) after the job ends.

    The sweeper deletes them once the job's retention is over (``VATTI_RESULTS_TTL`` after it
    finished, as its results), or at once when no job of that id exists.
    """

    def run_ids(self) -> Iterable[str]:
        """The ids of the jobs it keeps records of."""
        ...

    def delete_run(self, job_id: str) -> None:
        """Delete the job's records, log included. Idempotent."""
        ...
