"""The executor protocol: start a job's runtime somewhere, watch it, stop it, clean up after it.

The engine hands an executor a :class:`Launch` (which job, which attempt, its limits, the
runtime's settings and secrets); the executor decides how the job's runtime starts (a local
process, a batch script, a task, a pod) and returns a *handle*: an opaque JSON string the engine
stores with the job. An executor must be able to poll, terminate, clean up and read the log of
a job from its handle alone, in a new process after a restart.

Statuses: :class:`Pending` (accepted, not started: queued on a cluster), :class:`Running`,
:class:`Exited` (with a code and, when the executor's own limit stopped it, which one) and
:class:`Vanished` (gone without an exit status). The engine records a job's start when the
executor first reports it running.

Wall time is vatti's rule, enforced by the engine from the job's start. An executor with a limit
of its own sets it to the deadline plus :data:`WALL_TIME_MARGIN_S`, so that it stops a job only
when the engine could not; such a stop is reported as ``Exited(..., limit=WALL_TIME)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol, runtime_checkable

#: Seconds an executor's own wall-time limit adds to vatti's deadline.
WALL_TIME_MARGIN_S: Final = 30.0
#: ``Exited.limit`` of a job stopped by the executor's wall-time limit.
WALL_TIME: Final = "wall_time"
#: ``Exited.limit`` of a job stopped by the executor's memory limit.
MEMORY: Final = "memory"
#: What :meth:`Executor.read_log` returns at most per call, unless told otherwise.
LOG_CHUNK_BYTES: Final = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Resource limits of one job; ``None`` means unlimited."""

    memory_mb: int | None = None
    wall_time_s: int | None = None


@dataclass(frozen=True)
class Launch:
    """Everything an executor needs to start one attempt of a job.

    ``env`` holds the runtime's non-secret settings (``VATTI_*``); ``secrets`` the secret ones,
    which an executor delivers through one channel of its own (the local executor: an inherited
    pipe named by ``VATTI_SECRETS_FD``), never the command line, the environment or the job
    spec. ``secrets`` is left out of the ``repr``, so a logged launch shows none. ``pipeline``
    names the job's pipeline, for executors that route by it (the Celery executor's queues).
    """

    job_id: str
    attempt: int = 1
    limits: Limits = Limits()
    env: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    pipeline: str | None = None


@dataclass(frozen=True)
class Pending:
    """The executor accepted the job; its runtime has not started yet."""


@dataclass(frozen=True)
class Running:
    """The job's runtime is running."""


@dataclass(frozen=True)
class Exited:
    """The job's runtime exited with ``code`` (128 + N when killed by signal N).

    ``limit`` names the executor's own limit that stopped it (:data:`WALL_TIME`,
    :data:`MEMORY`), or is None.
    """

    code: int
    reason: str | None = None
    limit: str | None = None


@dataclass(frozen=True)
class Vanished:
    """The job is gone and left no exit status behind."""

    reason: str


ExecStatus = Pending | Running | Exited | Vanished


@dataclass(frozen=True)
class LogChunk:
    """Bytes of a job's log from some offset; ``next_offset`` is where the next read starts."""

    data: bytes
    next_offset: int


class Executor(Protocol):
    """Runs one job runtime per launch; see the module documentation."""

    name: str

    def submit(self, launch: Launch) -> str:
        """Start the job's runtime (or queue it); return a JSON handle that survives a restart."""
        ...

    def poll(self, handle: str) -> ExecStatus:
        """The job's status now; never blocks for long."""
        ...

    def terminate(self, handle: str, grace_s: float) -> None:
        """Stop the job: ask politely, wait up to ``grace_s`` seconds, then force. Idempotent."""
        ...

    def cleanup(self, handle: str) -> None:
        """Forget the job's executor-side state and delete its scratch (never its log).

        Idempotent."""
        ...

    def read_log(
        self, handle: str, offset: int = 0, limit: int = LOG_CHUNK_BYTES
    ) -> LogChunk | None:
        """Up to ``limit`` bytes of the job's log from ``offset``; None when there is no log.

        Works while the job runs (call again from ``next_offset`` to follow it) and after it
        ended, until the executor's run records are deleted."""
        ...


@runtime_checkable
class ReportsExits(Protocol):
    """An executor that notices a job's end when it happens and says so.

    The engine subscribes to poll at once instead of at its next poll interval. ``callback`` is
    called with the job id from any thread; it must be quick and must not raise.
    """

    def on_exit(self, callback: Callable[[str], None]) -> None: ...


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


@runtime_checkable
class CapsJobs(Protocol):
    """An executor with a limit of its own on the jobs it holds at once (``VATTI_SLURM_MAX_JOBS``).

    ``max_jobs`` is None for no limit; the engine admits no more jobs than the lower of it and
    ``VATTI_MAX_CONCURRENT_JOBS``.
    """

    max_jobs: int | None


@runtime_checkable
class Closeable(Protocol):
    """An executor holding resources of its own (a launcher process, a connection)."""

    def close(self) -> None: ...
